package devicerules

import (
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
)

// The cgroup library sets device rules through these hooks, and refuses
// rules while they are unset.
func init() {
	cgroups.DevicesSetV1 = setV1
	cgroups.DevicesSetV2 = setV2
	systemd.GenerateDeviceProps = systemdProperties
}
