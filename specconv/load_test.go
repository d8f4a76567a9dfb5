package specconv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"my-container_1.2+x", true},
		{"A.B", true},
		{"..a", true},
		{"a..b", true},
		{strings.Repeat("x", 1024), true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"/a", false},
		{"a b", false},
		{"a,b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00b", false},
		{strings.Repeat("x", 1025), false},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && err.Error() != "invalid container ID format" {
			t.Errorf("ValidateID(%q) error %q, want runc's wording", tt.id, err)
		}
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadSpecMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadSpec(dir)
	if err == nil {
		t.Fatal("no error for a missing config.json")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
	want := "config.json: missing from bundle: open " + filepath.Join(dir, "config.json") + ": no such file or directory"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{
			name:    "syntax",
			content: "{\n  \"ociVersion\": \"1.3.0\",\n  \"process\": }\n",
			want:    "config.json: invalid JSON at line 3, column 14 (byte 40): invalid character '}' looking for beginning of value",
		},
		{
			name:    "truncated",
			content: "{\"ociVersion\": \"1.3.0\"",
			want:    "config.json: invalid JSON at line 1, column 22 (byte 21): unexpected end of JSON input",
		},
		{
			name:    "type",
			content: "{\n\"ociVersion\": \"1.3.0\",\n\"process\": {\"args\": [\"sh\", 5]}\n}",
			want:    "config.json: line 3, column 28 (byte 52): process.args: cannot use a JSON number as string",
		},
		{
			name:    "empty",
			content: "",
			want:    "config.json: invalid JSON at line 1, column 1 (byte 0): unexpected end of JSON input",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSpec(writeConfig(t, tt.content))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestLoadSpecOK(t *testing.T) {
	spec, err := LoadSpec(writeConfig(t, `{"ociVersion":"1.0.2-dev","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Version != "1.0.2-dev" || spec.Process.Args[0] != "sh" || spec.Root.Path != "rootfs" {
		t.Errorf("decoded %+v", spec)
	}
}
