package specconv

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// ToProcess validates and converts a process of its own, as `exec`
// reads it from --process or builds it from flags. Errors name the
// field as in config.json ("process.cwd").
func ToProcess(p *specs.Process) (configs.Process, error) {
	var c configs.Config
	if err := convertProcess(&specs.Spec{Process: p}, &c); err != nil {
		return configs.Process{}, err
	}
	return c.Process, nil
}
