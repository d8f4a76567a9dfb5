package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each bad bundle must make create fail with an error line naming what
// is wrong, and leave nothing behind: no state, cgroup, mount or
// process. The wanted patterns name the config.json field (or the
// value) rather than quote one runtime's wording.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*specs.Spec)
		bundle func(t *testing.T, c *ctr) // for what a spec edit cannot express
		id     string                     // instead of the generated id
		want   []string                   // regexps, case-insensitive, all on one line
	}{
		{name: "missing config.json", bundle: func(t *testing.T, c *ctr) {
			if err := os.Remove(filepath.Join(c.Bundle, "config.json")); err != nil {
				t.Fatal(err)
			}
		}, want: []string{`config\.json`}},
		{name: "invalid JSON", bundle: func(t *testing.T, c *ctr) {
			c.writeConfig([]byte(`{"ociVersion": "1.0.2", "process": `))
		}, want: []string{`config\.json`}},
		{name: "unsupported ociVersion", mutate: func(s *specs.Spec) { s.Version = "2.0.0" },
			want: []string{`ociVersion`, `2\.0\.0`}},
		{name: "unknown namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
		}, want: []string{`namespace`, `foo`}},
		{name: "duplicate namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, want: []string{`namespace|\bns\b`, `pid`}},
		{name: "relative mount destination", mutate: addMount(specs.Mount{
			Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs",
		}), want: []string{`destination`, `mnt/rel`}},
		{name: "nonexistent executable", mutate: func(s *specs.Spec) {
			s.Process.Args = []string{"nonexistent-binary-foo"}
		}, want: []string{`nonexistent-binary-foo`}},
		{name: "id with slash", id: "a/b", want: []string{`\bid\b`}},
		{name: "id dotdot", id: "..", want: []string{`\bid\b`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCtr(t, tc.mutate)
			if tc.bundle != nil {
				tc.bundle(t, c)
			}
			id := c.ID
			if tc.id != "" {
				id = tc.id
			}
			r := c.run("create", "--bundle", c.Bundle, id)
			if !checkRejected(t, r, tc.want) {
				return // the cleanup deletes what was wrongly created
			}
			checkRootEmpty(t, c)
			c.checkGone("after a rejected create")
		})
	}
}

// checkRejected wants a failure with one error line matching all of
// want, and no Go panic. It reports whether the command failed at all.
func checkRejected(t *testing.T, r result, want []string) bool {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("accepted, want an error matching %q: %s", want, r)
		return false
	}
	if strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("runtime panicked: %s", r)
	}
	for _, line := range strings.Split(r.Stderr, "\n") {
		matched := true
		for _, w := range want {
			matched = matched && regexp.MustCompile(`(?i)`+w).MatchString(line)
		}
		if matched {
			return true
		}
	}
	t.Errorf("no error line matches all of %q: %s", want, r)
	return true
}

func checkRootEmpty(t *testing.T, c *ctr) {
	t.Helper()
	entries, err := os.ReadDir(c.Root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("rejected create left %s in the state root", filepath.Join(c.Root, e.Name()))
	}
}

func TestDuplicateID(t *testing.T) {
	a := newCtr(t, sleeper)
	a.create()
	before := a.mustState()
	b := newCtrIn(t, a.Root, sleeper)
	r := b.run("create", "--bundle", b.Bundle, a.ID)
	checkRejected(t, r, []string{`exist`})
	if after := a.mustState(); after.Pid != before.Pid || after.Status != "created" || after.Bundle != a.Bundle {
		t.Errorf("the existing container changed: %+v -> %+v", before, after)
	}
	for _, m := range hostMountsUnder(b.Bundle) {
		t.Errorf("rejected create left a mount: %s", m.MountPoint)
	}
}

// Mount destinations that would land outside the rootfs if resolved on
// the host: "/../../etc", or a path through an absolute symlink in the
// rootfs. A runtime may reject them, or resolve them inside the rootfs
// as runc does (an absolute symlink in a rootfs means that path in the
// container); either way nothing may happen on the host.
func TestMountDestinationEscape(t *testing.T) {
	t.Run("dotdot", func(t *testing.T) {
		hostBefore := len(hostMountsUnder("/etc"))
		c := newCtr(t, addMount(specs.Mount{Destination: "/../../etc", Type: "tmpfs", Source: "tmpfs"}))
		r := c.run("run", "--bundle", c.Bundle, c.ID)
		if n := len(hostMountsUnder("/etc")); n != hostBefore {
			t.Errorf("host /etc mounts went from %d to %d", hostBefore, n)
		}
		reportEscapeOutcome(t, c, r, "/etc")
	})
	t.Run("symlink", func(t *testing.T) {
		canary := filepath.Join(t.TempDir(), "hostdir-canary")
		if err := os.Mkdir(canary, 0o755); err != nil {
			t.Fatal(err)
		}
		c := newCtr(t, addMount(specs.Mount{Destination: "/evil/x", Type: "tmpfs", Source: "tmpfs"}))
		if err := os.Symlink(canary, filepath.Join(c.Rootfs, "evil")); err != nil {
			t.Fatal(err)
		}
		r := c.run("run", "--bundle", c.Bundle, c.ID)
		if entries, _ := os.ReadDir(canary); len(entries) != 0 {
			t.Errorf("host canary dir %s got %d entries", canary, len(entries))
		}
		for _, m := range hostMountsUnder(canary) {
			t.Errorf("mount on the host canary: %s", m.MountPoint)
		}
		reportEscapeOutcome(t, c, r, canary+"/x")
	})
}

// reportEscapeOutcome accepts a clean rejection naming the destination,
// or a run whose mount landed at inRootfs inside the rootfs.
func reportEscapeOutcome(t *testing.T, c *ctr, r result, inRootfs string) {
	t.Helper()
	if r.Code != 0 {
		checkRejected(t, r, []string{`destination|mounts`})
		checkRootEmpty(t, c)
		t.Logf("rejected: %s", strings.TrimSpace(r.Stderr))
		return
	}
	f := parseFacts(t, r)
	if _, ok := f.MountAt(inRootfs); !ok {
		t.Errorf("accepted, but no mount at %s inside the container", inRootfs)
	}
	t.Logf("accepted, mounted inside the rootfs at %s", inRootfs)
}
