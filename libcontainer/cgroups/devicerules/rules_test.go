package devicerules

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

func rule(allow bool, typ byte, major, minor int64, access string) *devices.Rule {
	return &devices.Rule{Type: devices.Type(typ), Major: major, Minor: minor, Permissions: devices.Permissions(access), Allow: allow}
}

var denyAll = rule(false, 'a', wildcard, wildcard, "rwm")

// The rule sets the tests hold the model, the kernel and the program
// to: what `skiff spec` and engines give, and the corner cases of the
// v1 controller's semantics.
var ruleSets = map[string][]*devices.Rule{
	"spec default": {
		denyAll,
		rule(true, 'c', wildcard, wildcard, "m"), rule(true, 'b', wildcard, wildcard, "m"),
		rule(true, 'c', 1, 3, "rwm"), rule(true, 'c', 1, 5, "rwm"), rule(true, 'c', 136, wildcard, "rwm"),
		rule(true, 'c', 5, 2, "rwm"), rule(true, 'c', 10, 200, "rwm"),
	},
	"later rules take access back or give it": {
		denyAll,
		rule(true, 'c', 99, 7, "rwm"), rule(false, 'c', 99, 7, "w"),
		rule(false, 'c', 98, 7, "rwm"), rule(true, 'c', 98, 7, "r"),
		rule(true, 'b', 8, 0, "r"), rule(true, 'b', 8, 0, "w"),
	},
	// Only an exception with exactly the same numbers is changed: a deny
	// of one minor does not punch a hole in a wildcard allow.
	"no holes in wildcards": {
		denyAll,
		rule(true, 'c', 4, wildcard, "rw"), rule(false, 'c', 4, 1, "rw"),
		rule(false, 'c', 4, wildcard, "w"),
	},
	"allow everything but": {
		rule(true, 'a', wildcard, wildcard, "rwm"),
		rule(false, 'b', wildcard, wildcard, "rwm"), rule(false, 'c', 1, 3, "w"),
		rule(true, 'c', 1, 3, "w"), rule(false, 'c', 10, wildcard, "m"),
	},
	"a wildcard rule resets": {
		denyAll, rule(true, 'c', 1, 3, "rwm"),
		rule(true, 'a', wildcard, wildcard, "rwm"), rule(false, 'c', 1, 5, "r"),
		denyAll, rule(true, 'c', 1, 9, "r"),
	},
	"nothing": {},
}

func TestModel(t *testing.T) {
	m, err := NewModel(ruleSets["later rules take access back or give it"])
	if err != nil {
		t.Fatal(err)
	}
	want := "c 99:7 rm\nc 98:7 r\nb 8:0 rw\n"
	if got := m.list(); got != want {
		t.Errorf("list:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range []struct {
		typ          int
		major, minor int64
		access       int
		want         bool
	}{
		{typeChar, 99, 7, accessRead | accessMknod, true},
		{typeChar, 99, 7, accessWrite, false},
		{typeChar, 98, 7, accessRead, true},
		{typeChar, 98, 7, accessRead | accessWrite, false},
		{typeBlock, 8, 0, accessRead | accessWrite, true},
		{typeChar, 8, 0, accessRead, false},
	} {
		if got := m.Allows(c.typ, c.major, c.minor, c.access); got != c.want {
			t.Errorf("Allows(%d, %d:%d, %d) = %v, want %v", c.typ, c.major, c.minor, c.access, got, c.want)
		}
	}
	m, _ = NewModel(ruleSets["no holes in wildcards"])
	if !m.Allows(typeChar, 4, 1, accessRead) || m.Allows(typeChar, 4, 1, accessWrite) {
		t.Errorf("c 4:1: want r allowed by the wildcard, w taken back from it: %+v", m)
	}
	m, _ = NewModel(ruleSets["allow everything but"])
	if !m.Allows(typeChar, 1, 3, accessWrite) || m.Allows(typeBlock, 8, 0, accessRead) || m.Allows(typeChar, 10, 1, accessMknod|accessRead) || !m.Allows(typeChar, 10, 1, accessRead) {
		t.Errorf("allow-all model with exceptions judged wrong: %+v", m)
	}
	if _, err := NewModel([]*devices.Rule{rule(true, 'c', 1<<12, 0, "r")}); err == nil {
		t.Error("major 4096 accepted")
	}
	if _, err := NewModel([]*devices.Rule{rule(true, 'c', 1, 3, "rx")}); err == nil {
		t.Error(`access "rx" accepted`)
	}
}

// The eBPF program answers as the model does, for every type, access
// and a spread of numbers around those in the rules.
func TestProgramMatchesModel(t *testing.T) {
	numbers := []int64{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 98, 99, 136, 200, 4095, 1<<20 - 1}
	for name, rules := range ruleSets {
		m, err := NewModel(rules)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := Program(m)
		for _, typ := range []int{typeBlock, typeChar} {
			for _, major := range numbers {
				for _, minor := range numbers {
					for access := 1; access <= accessAll; access++ {
						got, err := run(p, typ, major, minor, access)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if want := m.Allows(typ, major, minor, access); (got == 1) != want {
							t.Fatalf("%s: program says %d for type %d %d:%d access %d, model %v", name, got, typ, major, minor, access, want)
						}
					}
				}
			}
		}
	}
}

// The kernel's v1 devices controller, given the rules one by one, lists
// what the model says.
func TestModelMatchesKernelV1(t *testing.T) {
	parent := "/sys/fs/cgroup/devices"
	if _, err := os.Stat(filepath.Join(parent, "devices.list")); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and a cgroup v1 devices hierarchy")
	}
	for name, rules := range ruleSets {
		dir := filepath.Join(parent, fmt.Sprintf("skiff-devicerules-test-%d", os.Getpid()))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		err := WriteV1(dir, rules)
		list, readErr := cgroups.ReadFile(dir, "devices.list")
		if err == nil && readErr == nil {
			// The library's hook, twice: the second time on a cgroup that
			// has the rules already.
			for i := 0; i < 2 && err == nil; i++ {
				err = setV1(dir, &cgroups.Resources{Devices: rules})
			}
			if after, _ := cgroups.ReadFile(dir, "devices.list"); err == nil && after != list {
				t.Errorf("%s: setV1 changed devices.list\n%s\nto\n%s", name, list, after)
			}
		}
		if rmErr := unix.Rmdir(dir); rmErr != nil {
			t.Errorf("rmdir %s: %v", dir, rmErr)
		}
		if err != nil || readErr != nil {
			t.Fatalf("%s: %v %v", name, err, readErr)
		}
		m, _ := NewModel(rules)
		if list != m.list() {
			t.Errorf("%s: kernel lists\n%s\nthe model\n%s", name, list, m.list())
		}
	}
}

// The verifier takes every program, and attaching one to a cgroup
// leaves it the only device program there, however many were before.
func TestProgramLoadsAndReplaces(t *testing.T) {
	parent := "/sys/fs/cgroup/unified"
	if cgroups.IsCgroup2UnifiedMode() {
		parent = "/sys/fs/cgroup"
	}
	if _, err := os.Stat(filepath.Join(parent, "cgroup.procs")); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and a cgroup v2 hierarchy")
	}
	for name, rules := range ruleSets {
		m, _ := NewModel(rules)
		fd, err := loadProgram(Program(m))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		unix.Close(fd)
	}
	dir := filepath.Join(parent, fmt.Sprintf("skiff-devicerules-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("rmdir %s: %v", dir, err)
		}
	}()
	var ids [][]uint32
	for _, name := range []string{"spec default", "allow everything but", "spec default"} {
		m, _ := NewModel(ruleSets[name])
		if err := attachModel(dir, m); err != nil {
			t.Fatalf("attach %s: %v", name, err)
		}
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, flags, err := attachedPrograms(fd)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || flags != unix.BPF_F_ALLOW_MULTI {
			t.Fatalf("after attaching %s: programs %v, flags %#x; want one, multi", name, got, flags)
		}
		ids = append(ids, got)
	}
	if reflect.DeepEqual(ids[0], ids[1]) || reflect.DeepEqual(ids[1], ids[2]) {
		t.Errorf("a program was not replaced: %v", ids)
	}
}

// systemd gets the allow list in its own names; what it cannot name is
// left out, and a rule set that is not an allow list makes the unit
// deny everything (the v1 files or the eBPF program then decide).
func TestSystemdProperties(t *testing.T) {
	props := func(rules []*devices.Rule, version int) string {
		t.Helper()
		ps, err := systemdProperties(&cgroups.Resources{Devices: rules}, version)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, p := range ps {
			s += p.Name + "="
			if list, ok := p.Value.Value().([]deviceAllowEntry); ok {
				s += fmt.Sprint(list)
			} else {
				s += p.Value.String()
			}
			s += "\n"
		}
		return s
	}
	rules := append(ruleSets["spec default"], rule(true, 'c', wildcard, 5, "r"), rule(true, 'b', 8, 0, "r"))
	want := `DeviceAllow=[]
DevicePolicy="strict"
DeviceAllow=[{char-* m} {block-* m} {/dev/char/1:3 rwm} {/dev/char/1:5 rwm} {char-136 rwm} {/dev/char/5:2 rwm} {/dev/char/10:200 rwm} {/dev/block/8:0 r}]
`
	if got := props(rules, 250); got != want {
		t.Errorf("systemd 250:\n%s\nwant:\n%s", got, want)
	}
	// Before 240: the driver's name for a wildcard minor, and only
	// device paths that exist.
	got := props([]*devices.Rule{denyAll, rule(true, 'c', 1, 3, "rwm"), rule(true, 'c', 1, 250, "rwm"), rule(true, 'c', 1, wildcard, "r")}, 239)
	want = "DeviceAllow=[{char-mem r}]"
	if _, err := os.Stat("/dev/char/1:3"); err == nil {
		want = "DeviceAllow=[{/dev/char/1:3 rwm} {char-mem r}]"
	}
	if !strings.Contains(got, want) {
		t.Errorf("systemd 239:\n%s\nwant it to have %s", got, want)
	}
	if got := props(ruleSets["allow everything but"], 250); got != "DeviceAllow=[]\nDevicePolicy=\"strict\"\n" {
		t.Errorf("deny list:\n%s", got)
	}
	if got := props(ruleSets["nothing"], 250); got != "DeviceAllow=[]\nDevicePolicy=\"auto\"\n" {
		t.Errorf("no rules:\n%s", got)
	}
}
