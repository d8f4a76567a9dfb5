package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// TestLiveUpdateStatsOOM updates, reads and watches a real cgroup of
// its own (skifftest-<random> at the top of every hierarchy).
func TestLiveUpdateStatsOOM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := &configs.Config{
		CgroupsPath: "/skifftest-" + hex.EncodeToString(b[:]),
		Resources:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(42))}},
	}
	m, err := New("x", cfg, false, false)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := Load(paths).Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}

	l := Load(paths)
	if err := l.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(7))}}); err != nil {
		t.Fatal(err)
	}
	dir := paths["pids"]
	if dir == "" {
		dir = paths[""]
	}
	if data, err := os.ReadFile(filepath.Join(dir, "pids.max")); err != nil || strings.TrimSpace(string(data)) != "7" {
		t.Errorf("pids.max after Update = %q, %v", data, err)
	}
	s, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.PidsStats.Current != 1 || s.PidsStats.Limit != 7 {
		t.Errorf("pids stats %+v", s.PidsStats)
	}

	oom, err := l.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	// The watch ends by itself once the cgroup is gone (v1) or empty (v2).
	select {
	case _, ok := <-oom:
		if ok {
			t.Error("OOM event from a cgroup that had none")
		}
	case <-time.After(10 * time.Second):
		t.Error("OOM channel still open after the cgroup was removed")
	}
}
