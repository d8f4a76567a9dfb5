package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/jsoncodec"
	"github.com/skiff-runtime/skiff/specconv"
)

func TestCreateDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "root")
	dir, err := CreateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, "c1") {
		t.Errorf("dir = %s", dir)
	}
	for path, want := range map[string]os.FileMode{root: 0o700, dir: 0o711} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want&^currentUmask() {
			t.Errorf("%s: mode %v, %v", path, fi.Mode(), err)
		}
	}
	if _, err := CreateDir(root, "c1"); err != ErrExist || err.Error() != "container with given ID already exists" {
		t.Errorf("second CreateDir: %v", err)
	}
}

func currentUmask() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}

func TestInvalidIDs(t *testing.T) {
	root := t.TempDir()
	for _, id := range []string{"..", ".", "a/b", "../x", "a b", "ä"} {
		if _, err := CreateDir(root, id); err != specconv.ErrInvalidID {
			t.Errorf("CreateDir(%q): %v", id, err)
		}
		if _, err := Load(root, id); err != specconv.ErrInvalidID {
			t.Errorf("Load(%q): %v", id, err)
		}
		if _, err := Lock(root, id); err != specconv.ErrInvalidID {
			t.Errorf("Lock(%q): %v", id, err)
		}
		if err := Remove(root, id); err != specconv.ErrInvalidID {
			t.Errorf("Remove(%q): %v", id, err)
		}
	}
	if _, err := Load(root, ""); err != ErrEmptyID || err.Error() != "container id cannot be empty" {
		t.Errorf("Load(\"\"): %v", err)
	}
}

func TestSaveLoadRemove(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root, "c1"); err != ErrNotExist || err.Error() != "container does not exist" {
		t.Fatalf("Load of a missing container: %v", err)
	}
	if _, err := CreateDir(root, "c1"); err != nil {
		t.Fatal(err)
	}
	// A directory without state.json is a create in progress.
	if _, err := Load(root, "c1"); err != ErrNotExist {
		t.Fatalf("Load without state.json: %v", err)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	st := &State{
		ID: "c1", InitPID: 42, InitStartTime: 7, Bundle: "/b", Rootfs: "/b/rootfs", Created: created,
		CgroupPaths:    map[string]string{"pids": "/sys/fs/cgroup/pids/c1"},
		NamespacePaths: map[configs.NamespaceType]string{configs.NEWNET: "/proc/42/ns/net"},
		Config:         &configs.Config{Annotations: map[string]string{"a": "b"}},
	}
	if err := Save(root, st); err != nil {
		t.Fatal(err)
	}
	st.InitStartTime = 7
	if err := Save(root, st); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.InitPID != 42 || !got.Created.Equal(created) || got.InitStartTime != 7 ||
		got.CgroupPaths["pids"] != st.CgroupPaths["pids"] || got.Config.Annotations["a"] != "b" ||
		got.NamespacePaths[configs.NEWNET] != "/proc/42/ns/net" {
		t.Errorf("loaded %+v", got)
	}
	entries, _ := os.ReadDir(Dir(root, "c1"))
	if len(entries) != 2 || entries[0].Name() != ConfigFile || entries[1].Name() != StateFile {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := Remove(root, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Dir(root, "c1")); !os.IsNotExist(err) {
		t.Errorf("state dir still there: %v", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	root := t.TempDir()
	if _, err := CreateDir(root, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad", StateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "bad"); err == nil || errors.Is(err, ErrNotExist) {
		t.Fatalf("corrupt state.json: %v", err)
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	if sts, err := List(filepath.Join(root, "missing")); err != nil || sts != nil {
		t.Fatalf("List of a missing root: %v, %v", sts, err)
	}
	for i := range 3 {
		id := fmt.Sprintf("c%d", i)
		if _, err := CreateDir(root, id); err != nil {
			t.Fatal(err)
		}
		if err := Save(root, &State{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Neither a create in progress nor a stray file is a container.
	if _, err := CreateDir(root, "creating"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateDir(root, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad", StateFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sts, err := List(root)
	if len(sts) != 3 || sts[0].ID != "c0" || sts[2].ID != "c2" {
		t.Errorf("List = %v", sts)
	}
	var lerr *ListError
	if !errors.As(err, &lerr) || len(lerr.Errs) != 1 {
		t.Errorf("corrupt container not reported: %v", err)
	}
}

func TestLockSerializes(t *testing.T) {
	root := t.TempDir()
	if _, err := Lock(root, "nope"); err != ErrNotExist {
		t.Fatalf("Lock of a missing container: %v", err)
	}
	if _, err := CreateDir(root, "c1"); err != nil {
		t.Fatal(err)
	}
	unlock, err := Lock(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	// The lock is the directory's own: no file to make and remove.
	if entries, err := os.ReadDir(filepath.Join(root, "c1")); err != nil || len(entries) != 0 {
		t.Fatalf("the container's directory holds %v (%v) after Lock, want nothing", entries, err)
	}
	// Another open file description (another command) cannot take it...
	if tryLock(t, root) {
		t.Fatal("lock taken twice")
	}
	unlock()
	// ...until it is released.
	if !tryLock(t, root) {
		t.Fatal("lock not released")
	}
}

func tryLock(t *testing.T, root string) bool {
	f, err := os.Open(filepath.Join(root, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

func TestStatus(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateDir(root, "c1"); err != nil {
		t.Fatal(err)
	}
	freezer := t.TempDir()
	st := &State{ID: "c1", InitPID: pid, InitStartTime: start, CgroupPaths: map[string]string{"freezer": freezer}}

	fifo := filepath.Join(root, "c1", ExecFifo)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if s := st.Status(root); s != Created {
		t.Errorf("with exec.fifo: %s", s)
	}
	os.Remove(fifo)
	if s := st.Status(root); s != Running {
		t.Errorf("without exec.fifo: %s", s)
	}
	if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("FROZEN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := st.Status(root); s != Paused {
		t.Errorf("frozen: %s", s)
	}
	if s := (&State{ID: "c1", InitPID: pid, InitStartTime: start + 1}).Status(root); s != Stopped {
		t.Errorf("reused PID: %s", s)
	}
	if s := (&State{ID: "c1"}).Status(root); s != Stopped {
		t.Errorf("no PID: %s", s)
	}
	// Until it is reaped, a dead init is a zombie: already stopped.
	_ = cmd.Process.Kill()
	waitZombie(t, pid)
	if s := st.Status(root); s != Stopped {
		t.Errorf("zombie: %s", s)
	}
}

// waitZombie waits for pid to be a zombie, using a pidfd.
func waitZombie(t *testing.T, pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			break
		}
	}
}

func TestParseStat(t *testing.T) {
	tail := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 20 21\n"
	for _, tc := range []struct {
		in    string
		state byte
		ok    bool
	}{
		{"42 (sleep) S" + tail, 'S', true},
		{"42 (a) b) (c) Z" + tail, 'Z', true},
		{"42 (x y  z) R" + tail, 'R', true},
		{"42 (sleep) S 1 2", 0, false},
		{"42 sleep S" + tail, 0, false},
	} {
		st, err := parseStat([]byte(tc.in))
		if tc.ok != (err == nil) || (tc.ok && (st.state != tc.state || st.startTime != 123456)) {
			t.Errorf("parseStat(%q) = %+v, %v", tc.in, st, err)
		}
	}
}

// LoadLite skips config.json only when create recorded that the
// container has no hooks; state written without that record (an older
// skiff) loads the config as Load does.
func TestLoadLite(t *testing.T) {
	root := t.TempDir()
	cfg := &configs.Config{Annotations: map[string]string{"a": "b"}}
	for _, c := range []struct {
		id         string
		noHooks    bool
		wantConfig bool
	}{{"hookless", true, false}, {"hooks", false, true}} {
		if _, err := CreateDir(root, c.id); err != nil {
			t.Fatal(err)
		}
		if err := Save(root, &State{ID: c.id, InitPID: 42, NoHooks: c.noHooks, OwnPidNS: true, Config: cfg}); err != nil {
			t.Fatal(err)
		}
		st, err := LoadLite(root, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if (st.Config != nil) != c.wantConfig || st.InitPID != 42 || !st.OwnPidNS {
			t.Errorf("%s: LoadLite gave config %v, state %+v", c.id, st.Config, st)
		}
	}
}

// state.json's generated code and encoding/json read each other's
// output the same (state written by an older skiff stays readable).
func TestStateJSONMatchesEncodingJSON(t *testing.T) {
	st := &State{
		ID: "c1", InitPID: 42, InitStartTime: 1234567, Bundle: "/b \"q\"", Rootfs: "/b/rootfs",
		Created: time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC), Owner: "root",
		CgroupPaths:    map[string]string{"": "/sys/fs/cgroup/c1", "memory": "/sys/fs/cgroup/memory/c1"},
		NamespacePaths: map[configs.NamespaceType]string{configs.NEWNET: "/proc/42/ns/net"},
		Annotations:    map[string]string{"a": "b"},
		NotifySocket:   "/run/notify.sock", NoHooks: true, OwnPidNS: true,
	}
	fast, err := jsoncodec.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	var std State
	if err := json.Unmarshal(fast, &std); err != nil || !reflect.DeepEqual(&std, st) {
		t.Errorf("encoding/json reads back something else (%v):\n%+v\n%+v", err, std, *st)
	}
	data, _ := json.Marshal(st)
	var back State
	if !jsoncodec.DecodeOwn(data, &back) || !reflect.DeepEqual(&back, st) {
		t.Errorf("the generated decoder reads back something else:\n%+v\n%+v", back, *st)
	}
}
