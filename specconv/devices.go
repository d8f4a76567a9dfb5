package specconv

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// defaultDevices are created in every container, as runc does, unless
// linux.devices lists the same path (the spec's entry then wins).
var defaultDevices = []configs.Device{
	{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666},
	{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, FileMode: 0o666},
	{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, FileMode: 0o666},
	{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, FileMode: 0o666},
	{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, FileMode: 0o666},
	{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, FileMode: 0o666},
}

// DefaultDevices returns the device nodes every container gets.
func DefaultDevices() []configs.Device {
	return append([]configs.Device(nil), defaultDevices...)
}

func convertDevices(l *specs.Linux, c *configs.Config) error {
	var devs []configs.Device
	seen := make(map[string]bool, len(l.Devices))
	for i, d := range l.Devices {
		f := fmt.Sprintf("linux.devices[%d]", i)
		dev, err := convertDevice(f, d)
		if err != nil {
			return err
		}
		if seen[dev.Path] {
			return fieldErr(f+".path", "%q given twice", dev.Path)
		}
		seen[dev.Path] = true
		devs = append(devs, dev)
	}
	var out []configs.Device
	for _, d := range defaultDevices {
		if !seen[d.Path] {
			out = append(out, d)
		}
	}
	c.Devices = append(out, devs...)
	return nil
}

func convertDevice(f string, d specs.LinuxDevice) (configs.Device, error) {
	if !filepath.IsAbs(d.Path) {
		return configs.Device{}, fieldErr(f+".path", "%q is not absolute", d.Path)
	}
	path := filepath.Clean(d.Path)
	if !strings.HasPrefix(path, "/dev/") || strings.IndexByte(path, 0) >= 0 {
		return configs.Device{}, fieldErr(f+".path", "%q is not under /dev", d.Path)
	}
	if len(d.Type) != 1 || !strings.Contains("cbup", d.Type) {
		return configs.Device{}, fieldErr(f+".type", "unknown device type %q (want c, b, u or p)", d.Type)
	}
	if d.Type != "p" && (d.Major < 0 || d.Minor < 0) {
		return configs.Device{}, fieldErr(f, "major and minor must not be negative")
	}
	dev := configs.Device{
		Path:     path,
		Type:     rune(d.Type[0]),
		Major:    d.Major,
		Minor:    d.Minor,
		FileMode: 0o666,
	}
	if d.FileMode != nil {
		// config.json holds the number as mknod(2) would take it, so only
		// the low bits are meaningful; the type comes from "type".
		dev.FileMode = uint32(*d.FileMode) & 0o7777
	}
	if d.UID != nil {
		dev.UID = *d.UID
	}
	if d.GID != nil {
		dev.GID = *d.GID
	}
	return dev, nil
}
