package devicerules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/userns"
)

// WriteV1 applies rules to the v1 devices cgroup dir one by one, as
// given (runtime-spec's order decides the outcome: a later deny takes
// back part of an earlier allow): one write each to devices.allow or
// devices.deny, each file opened once (an open of a cgroup file costs
// more than the write).
func WriteV1(dir string, rules []*devices.Rule) error {
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, r := range rules {
		name := "devices.deny"
		if r.Allow {
			name = "devices.allow"
		}
		f := files[name]
		if f == nil {
			var err error
			if f, err = cgroups.OpenFile(dir, name, unix.O_WRONLY); err != nil {
				return err
			}
			files[name] = f
		}
		line := ruleString(r)
		if _, err := f.WriteString(line); err != nil {
			return fmt.Errorf("write %q to %s: %w", line, filepath.Join(dir, name), err)
		}
	}
	return nil
}

// setV1 is the v1 devices controller's Set for the cgroup library
// (cgroups.DevicesSetV1), used for a cgroup that already existed: it
// leaves a cgroup that already has the rules alone, so that the
// processes in it never see the moment of deny-all that rewriting the
// rules in order passes through.
func setV1(dir string, r *cgroups.Resources) error {
	if r.SkipDevices || userns.RunningInUserNS() {
		return nil
	}
	target, err := NewModel(r.Devices)
	if err != nil {
		return err
	}
	if !target.DefaultAllow {
		list, err := cgroups.ReadFile(dir, "devices.list")
		if err != nil {
			return err
		}
		if list == target.list() {
			return nil
		}
	}
	if err := WriteV1(dir, r.Devices); err != nil {
		return err
	}
	// What the kernel made of them must be what the model says.
	if target.DefaultAllow {
		return nil
	}
	list, err := cgroups.ReadFile(dir, "devices.list")
	if err != nil {
		return err
	}
	if list != target.list() {
		return errors.New("devices cgroup " + dir + ": devices.list is not what the rules give:\n" + list + "want:\n" + target.list())
	}
	return nil
}
