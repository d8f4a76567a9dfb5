package logs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormatLine(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123, time.UTC)
	for _, tc := range []struct {
		format string
		level  Level
		msg    string
		want   string
	}{
		{FormatText, ErrorLevel, "container does not exist",
			`time="2024-05-06T07:08:09Z" level=error msg="container does not exist"` + "\n"},
		{FormatText, WarnLevel, "plain/word-1.2_x@y^z+",
			`time="2024-05-06T07:08:09Z" level=warning msg=plain/word-1.2_x@y^z+` + "\n"},
		{FormatText, InfoLevel, `say "hi"` + "\n",
			`time="2024-05-06T07:08:09Z" level=info msg="say \"hi\"\n"` + "\n"},
		{FormatText, DebugLevel, "",
			`time="2024-05-06T07:08:09Z" level=debug msg=` + "\n"},
		{FormatJSON, ErrorLevel, "a <b> & c",
			`{"level":"error","msg":"a \u003cb\u003e \u0026 c","time":"2024-05-06T07:08:09Z"}` + "\n"},
	} {
		if got := string(formatLine(tc.format, ts, tc.level, tc.msg)); got != tc.want {
			t.Errorf("formatLine(%s, %q):\n got %s\nwant %s", tc.format, tc.msg, got, tc.want)
		}
	}
}

func TestSetupFileAndLevels(t *testing.T) {
	t.Cleanup(func() { _ = Setup("", "text", false) })
	path := filepath.Join(t.TempDir(), "log.json")
	if err := Setup(path, "json", false); err != nil {
		t.Fatal(err)
	}
	if ToStderr() {
		t.Error("ToStderr() with a log file")
	}
	Debugf("hidden %d", 1)
	Errorf("shown %d", 2)
	if err := Setup(path, "json", true); err != nil {
		t.Fatal(err)
	}
	Debugf("now shown %d", 3)

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", data)
	}
	for i, want := range []struct{ level, msg string }{{"error", "shown 2"}, {"debug", "now shown 3"}} {
		var m map[string]string
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if m["level"] != want.level || m["msg"] != want.msg || m["time"] == "" || len(m) != 3 {
			t.Errorf("line %d = %v", i, m)
		}
	}

	if err := Setup("", "", false); err != nil || !ToStderr() || Format() != FormatText {
		t.Errorf("reset to stderr: err=%v stderr=%v format=%q", err, ToStderr(), Format())
	}
}

func TestSetupBadFormat(t *testing.T) {
	err := Setup("", "xml", false)
	if err == nil || err.Error() != "invalid log-format: xml" {
		t.Fatalf("got %v", err)
	}
}
