// Package logs is skiff's logger. It writes the same lines as logrus
// does with runc's settings, because tools that drive runc (containerd's
// shim, for one) parse runc's --log file: text lines are
//
//	time="2006-01-02T15:04:05Z" level=error msg="..."
//
// and JSON lines are {"level":"error","msg":"...","time":"..."}.
//
// It is configured once, by the command line, before any command runs;
// the logging functions may then be called from any goroutine.
package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Level is a log level, spelled as logrus spells it in log lines.
type Level string

const (
	DebugLevel Level = "debug"
	InfoLevel  Level = "info"
	WarnLevel  Level = "warning"
	ErrorLevel Level = "error"
)

// Formats accepted by Setup.
const (
	FormatText = "text"
	FormatJSON = "json"
)

var (
	mu     sync.Mutex
	out    = os.Stderr
	format = FormatText
	debug  bool
)

// Setup directs logging to the file at path (appending; "" keeps
// stderr), in format "text" (or "") or "json", with debug lines only if
// debug is set.
func Setup(path, logFormat string, debugOn bool) error {
	switch logFormat {
	case "", FormatText:
		logFormat = FormatText
	case FormatJSON:
	default:
		return errors.New("invalid log-format: " + logFormat)
	}
	f := os.Stderr
	if path != "" {
		// os.OpenFile sets O_CLOEXEC itself. No O_SYNC: a reader (often
		// a shim, right after skiff exits) sees each write through the
		// page cache at once, and O_SYNC made every line a disk write.
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if out != os.Stderr {
		out.Close()
	}
	out, format, debug = f, logFormat, debugOn
	return nil
}

// Output is the file log lines go to, for handing on to a child process.
func Output() *os.File {
	mu.Lock()
	defer mu.Unlock()
	return out
}

// Format is the configured format, "text" or "json".
func Format() string {
	mu.Lock()
	defer mu.Unlock()
	return format
}

// DebugEnabled reports whether debug lines are written.
func DebugEnabled() bool {
	mu.Lock()
	defer mu.Unlock()
	return debug
}

// ToStderr reports whether log lines reach stderr, i.e. whether a fatal
// error logged here has already been shown to the user.
func ToStderr() bool {
	mu.Lock()
	defer mu.Unlock()
	return out.Fd() == os.Stderr.Fd()
}

func Debugf(f string, args ...any) { logf(DebugLevel, f, args...) }
func Infof(f string, args ...any)  { logf(InfoLevel, f, args...) }
func Warnf(f string, args ...any)  { logf(WarnLevel, f, args...) }
func Errorf(f string, args ...any) { logf(ErrorLevel, f, args...) }

func logf(level Level, f string, args ...any) {
	if level == DebugLevel && !DebugEnabled() {
		return
	}
	Log(level, fmt.Sprintf(f, args...))
}

// Log writes msg at level, e.g. to relay a line a child process sent.
// Debug lines are dropped unless debugging is on.
func Log(level Level, msg string) {
	mu.Lock()
	defer mu.Unlock()
	if level == DebugLevel && !debug {
		return
	}
	// One Write per line: with O_APPEND, lines from concurrent skiff
	// processes sharing a log file do not interleave.
	_, _ = out.Write(formatLine(format, time.Now(), level, msg))
}

func formatLine(logFormat string, t time.Time, level Level, msg string) []byte {
	ts := t.Format(time.RFC3339)
	if logFormat == FormatJSON {
		// A map marshals with sorted keys and HTML escaping, exactly as
		// logrus's JSONFormatter does.
		b, err := json.Marshal(map[string]string{"level": string(level), "msg": msg, "time": ts})
		if err != nil {
			b = []byte(`{"level":"error","msg":"unencodable log message"}`)
		}
		return append(b, '\n')
	}
	b := make([]byte, 0, len(msg)+64)
	b = append(b, "time="...)
	b = appendValue(b, ts)
	b = append(b, " level="...)
	b = appendValue(b, string(level))
	b = append(b, " msg="...)
	b = appendValue(b, msg)
	return append(b, '\n')
}

// appendValue quotes s unless it consists only of the characters logrus
// leaves bare.
func appendValue(b []byte, s string) []byte {
	for _, c := range s {
		if !bare(c) {
			return strconv.AppendQuote(b, s)
		}
	}
	return append(b, s...)
}

func bare(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '/', '@', '^', '+':
		return true
	}
	return false
}
