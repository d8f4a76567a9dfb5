package devicerules

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	systemdDbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/opencontainers/cgroups"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
)

// deviceAllowEntry is one DeviceAllow= entry, D-Bus type (ss).
type deviceAllowEntry struct {
	Path  string
	Perms string
}

// systemdProperties gives the rules to systemd as the unit's
// DevicePolicy and DeviceAllow (systemd.GenerateDeviceProps), for its
// own enforcement, which would otherwise undo skiff's when systemd
// reapplies the unit's settings. systemd knows only allow lists; what it
// cannot express is left to the v1 files or the eBPF program skiff sets
// after it.
func systemdProperties(r *cgroups.Resources, systemdVersion int) ([]systemdDbus.Property, error) {
	if r.SkipDevices {
		return nil, nil
	}
	m, err := NewModel(r.Devices)
	if err != nil {
		return nil, err
	}
	// An empty DeviceAllow= first clears what an existing unit had.
	clear := property("DeviceAllow", []deviceAllowEntry{})
	if m.AllowsAll() {
		return []systemdDbus.Property{clear, property("DevicePolicy", "auto")}, nil
	}
	strict := []systemdDbus.Property{clear, property("DevicePolicy", "strict")}
	if m.DefaultAllow {
		logs.Warnf("systemd doesn't support blacklist device rules -- applying temporary deny-all rule")
		return strict, nil
	}
	var allow []deviceAllowEntry
	for _, e := range m.Exceptions {
		path, ok := systemdDevicePath(e, systemdVersion)
		if !ok {
			continue
		}
		allow = append(allow, deviceAllowEntry{Path: path, Perms: accessString(e.Access)})
	}
	return append(strict, property("DeviceAllow", allow)), nil
}

// systemdDevicePath names the devices e allows as DeviceAllow= does:
// "char-*" for every device of a type, "char-MAJOR" (systemd 240 and
// later) or the driver's name from /proc/devices for every minor,
// /dev/char/MAJOR:MINOR for one device. ok is false for what systemd
// cannot name (a wildcard major with a given minor).
func systemdDevicePath(e Exception, systemdVersion int) (path string, ok bool) {
	prefix := "char-"
	dir := "/dev/char/"
	if e.Type == typeBlock {
		prefix, dir = "block-", "/dev/block/"
	}
	switch {
	case e.Major == wildcard && e.Minor == wildcard:
		return prefix + "*", true
	case e.Major == wildcard:
		logs.Warnf("systemd doesn't support '*:n' device rules -- temporarily ignoring rule: %s", e)
		return "", false
	case e.Minor == wildcard:
		if systemdVersion >= 240 {
			return prefix + strconv.FormatInt(e.Major, 10), true
		}
		group := deviceGroup(e.Type, e.Major)
		if group == "" {
			logs.Warnf("could not find device group for %s in /proc/devices -- temporarily ignoring rule", e)
			return "", false
		}
		return prefix + group, true
	}
	path = dir + strconv.FormatInt(e.Major, 10) + ":" + strconv.FormatInt(e.Minor, 10)
	if systemdVersion < 240 {
		// Older systemd stat(2)s the path and skips what is missing.
		if _, err := os.Stat(path); err != nil {
			return "", false
		}
	}
	return path, true
}

// deviceGroup is the driver name /proc/devices gives the major of a
// type, "" if none.
func deviceGroup(typ int, major int64) string {
	f, err := os.Open("/proc/devices")
	if err != nil {
		return ""
	}
	defer f.Close()
	section := "Character devices:"
	if typ == typeBlock {
		section = "Block devices:"
	}
	want := strconv.FormatInt(major, 10)
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "devices:") {
			in = line == section
			continue
		}
		if n, name, ok := strings.Cut(line, " "); in && ok && n == want {
			return name
		}
	}
	return ""
}

func property(name string, value any) systemdDbus.Property {
	return systemdDbus.Property{Name: name, Value: dbus.MakeVariant(value)}
}
