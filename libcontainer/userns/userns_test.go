package userns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestUIDMapInUserNS(t *testing.T) {
	for line, want := range map[string]bool{
		"":                                  true,
		"         0          0 4294967295":  false,
		"0 0 4294967295":                    false,
		"         0       1000          1":  true,
		"         0     100000      65536":  true,
		"garbage":                           false,
		"0 0":                               false,
		"  1000 1000 1 trailing words here": true,
	} {
		if got := uidMapInUserNS(line); got != want {
			t.Errorf("uidMapInUserNS(%q) = %v, want %v", line, got, want)
		}
	}
}

// The answer for this process, and for a child in a new user namespace
// (where unshare(1) is there to make one).
func TestRunningInUserNS(t *testing.T) {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		t.Skip(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if got, want := RunningInUserNS(), uidMapInUserNS(line); got != want {
		t.Errorf("RunningInUserNS() = %v, uid_map %q says %v", got, line, want)
	}
	if os.Getenv("USERNS_TEST_CHILD") != "" {
		if !RunningInUserNS() {
			os.Exit(3)
		}
		os.Exit(0)
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	cmd := exec.Command(unshare, "--user", "--map-root-user", os.Args[0], "-test.run=^TestRunningInUserNS$")
	cmd.Env = append(os.Environ(), "USERNS_TEST_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("in a new user namespace: %v\n%s", err, out)
	}
}
