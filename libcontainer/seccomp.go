package libcontainer

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/seccomp"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// compileSeccomp compiles the profile in the parent (cached by content),
// so the init only loads a BPF program.
func compileSeccomp(s *specs.LinuxSeccomp) (*initplan.SeccompFilter, error) {
	prog, err := seccomp.Compile(s)
	if err != nil || prog == nil {
		return nil, err
	}
	return &initplan.SeccompFilter{Filter: prog.Filter, Flags: prog.Flags, Listener: prog.Listener}, nil
}

// sendSeccompListener gives the notify fd of the process pid to the
// agent at linux.seccomp.listenerPath, as runc does.
func sendSeccompListener(cfg *configs.Config, st *state.State, pid int, fd *os.File) error {
	if cfg == nil || cfg.Seccomp == nil || cfg.Seccomp.ListenerPath == "" {
		return fmt.Errorf("seccomp listener fd without linux.seccomp.listenerPath")
	}
	s := st.OCIState(state.Creating)
	s.Pid = pid
	return seccomp.SendListener(cfg.Seccomp.ListenerPath, int(fd.Fd()), specs.ContainerProcessState{
		Version:  specs.Version,
		Pid:      pid,
		Metadata: cfg.Seccomp.ListenerMetadata,
		State:    *s,
	})
}
