// Package devicerules enforces linux.resources.devices: the rules that
// decide which device nodes a container may open or create. On cgroup
// v1 they are written to devices.allow and devices.deny (v1.go), on v2
// they become an eBPF program attached to the cgroup (bpf.go,
// bpf_linux.go), and with the systemd driver they are also given to
// systemd as DevicePolicy and DeviceAllow (systemd.go).
//
// All three follow the semantics of the v1 devices controller, as the
// kernel applies rules written one by one (security/device_cgroup.c),
// modelled by Model, so that a rule set means the same on v1, v2 and
// under systemd.
//
// skiff does this itself instead of importing the device support of
// github.com/opencontainers/cgroups: that package brings in
// github.com/cilium/ebpf and with it go/format, debug/elf, compress/*
// and more, whose package initialisers every skiff command ran, ~0.5 ms
// of CPU for each `run` on a host where a page fault costs 15-20 us.
package devicerules

import (
	"fmt"
	"strconv"
	"strings"

	devices "github.com/opencontainers/cgroups/devices/config"
)

// Access bits, as the kernel's device cgroup and its eBPF context
// (struct bpf_cgroup_dev_ctx) number them.
const (
	accessMknod = 1
	accessRead  = 2
	accessWrite = 4
	accessAll   = accessMknod | accessRead | accessWrite
)

// Device types, as the eBPF context numbers them (BPF_DEVCG_DEV_*).
const (
	typeBlock = 1
	typeChar  = 2
)

// wildcard is a major or minor that matches every number (the kernel's
// ~0).
const wildcard = -1

// Exception is one entry of the device cgroup's exception list: what
// differs from its default for one (type, major, minor).
type Exception struct {
	Type   int   // typeBlock or typeChar
	Major  int64 // or wildcard
	Minor  int64 // or wildcard
	Access int   // accessMknod | accessRead | accessWrite
}

// Model is a device cgroup's state as the v1 controller keeps it: a
// default, and exceptions to it. With DefaultAllow the exceptions deny,
// otherwise they allow.
type Model struct {
	DefaultAllow bool
	Exceptions   []Exception
}

// NewModel applies rules, in order, to a cgroup that allows everything
// (a new cgroup under an unrestricted parent), as the kernel would.
func NewModel(rules []*devices.Rule) (*Model, error) {
	m := &Model{DefaultAllow: true}
	for i, r := range rules {
		if err := m.apply(r); err != nil {
			return nil, fmt.Errorf("device rule %d (%s): %w", i, ruleString(r), err)
		}
	}
	return m, nil
}

// apply is one write of r to devices.allow (r.Allow) or devices.deny.
func (m *Model) apply(r *devices.Rule) error {
	if r.Type == devices.WildcardDevice {
		// "a": the default changes and the exceptions are cleared; the
		// kernel ignores the rest of the line.
		m.DefaultAllow = r.Allow
		m.Exceptions = nil
		return nil
	}
	ex, err := exceptionOf(r)
	if err != nil {
		return err
	}
	if r.Allow == m.DefaultAllow {
		// Toward the default: take the access back from the exception
		// with exactly this type, major and minor (dev_exception_rm).
		kept := m.Exceptions[:0]
		for _, e := range m.Exceptions {
			if e.Type == ex.Type && e.Major == ex.Major && e.Minor == ex.Minor {
				e.Access &^= ex.Access
				if e.Access == 0 {
					continue
				}
			}
			kept = append(kept, e)
		}
		m.Exceptions = kept
		return nil
	}
	// Away from the default: add to the exception, or make one
	// (dev_exception_add).
	for i, e := range m.Exceptions {
		if e.Type == ex.Type && e.Major == ex.Major && e.Minor == ex.Minor {
			m.Exceptions[i].Access |= ex.Access
			return nil
		}
	}
	m.Exceptions = append(m.Exceptions, ex)
	return nil
}

func exceptionOf(r *devices.Rule) (Exception, error) {
	ex := Exception{Major: r.Major, Minor: r.Minor}
	switch r.Type {
	case devices.BlockDevice:
		ex.Type = typeBlock
	case devices.CharDevice:
		ex.Type = typeChar
	default:
		return ex, fmt.Errorf("unknown device type %q", rune(r.Type))
	}
	// Linux numbers a device with 12 bits of major and 20 of minor.
	if ex.Major != wildcard && (ex.Major < 0 || ex.Major > 1<<12-1) {
		return ex, fmt.Errorf("major %d out of range", ex.Major)
	}
	if ex.Minor != wildcard && (ex.Minor < 0 || ex.Minor > 1<<20-1) {
		return ex, fmt.Errorf("minor %d out of range", ex.Minor)
	}
	for _, c := range r.Permissions {
		switch c {
		case 'r':
			ex.Access |= accessRead
		case 'w':
			ex.Access |= accessWrite
		case 'm':
			ex.Access |= accessMknod
		default:
			return ex, fmt.Errorf("access %q is not a combination of r, w and m", string(r.Permissions))
		}
	}
	if ex.Access == 0 {
		return ex, fmt.Errorf("no access given")
	}
	return ex, nil
}

// Allows reports whether the model lets a process have access (a
// combination of the access bits) to the device (typeBlock or
// typeChar, major, minor), as devcgroup_legacy_check_permission does:
// under a default deny one exception must grant all of access; under a
// default allow any exception that denies part of it refuses.
func (m *Model) Allows(typ int, major, minor int64, access int) bool {
	for _, e := range m.Exceptions {
		if e.Type != typ || (e.Major != wildcard && e.Major != major) || (e.Minor != wildcard && e.Minor != minor) {
			continue
		}
		if m.DefaultAllow && access&e.Access != 0 {
			return false
		}
		if !m.DefaultAllow && access&^e.Access == 0 {
			return true
		}
	}
	return m.DefaultAllow
}

// AllowsAll is true when nothing is restricted.
func (m *Model) AllowsAll() bool {
	return m.DefaultAllow && len(m.Exceptions) == 0
}

// list is the model as a v1 devices.list shows it: "a *:* rwm" under a
// default allow (the kernel lists no denying exceptions), else one line
// per exception.
func (m *Model) list() string {
	if m.DefaultAllow {
		return "a *:* rwm\n"
	}
	var b strings.Builder
	for _, e := range m.Exceptions {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String is the exception as devices.list prints it ("c 1:3 rwm").
func (e Exception) String() string {
	t := "c"
	if e.Type == typeBlock {
		t = "b"
	}
	return t + " " + number(e.Major) + ":" + number(e.Minor) + " " + accessString(e.Access)
}

func number(n int64) string {
	if n == wildcard {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

func accessString(a int) string {
	s := ""
	if a&accessRead != 0 {
		s += "r"
	}
	if a&accessWrite != 0 {
		s += "w"
	}
	if a&accessMknod != 0 {
		s += "m"
	}
	return s
}

// ruleString is r as written to devices.allow or devices.deny.
func ruleString(r *devices.Rule) string {
	if r.Type == devices.WildcardDevice {
		return "a"
	}
	return string(rune(r.Type)) + " " + number(r.Major) + ":" + number(r.Minor) + " " + string(r.Permissions)
}
