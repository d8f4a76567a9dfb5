package libcontainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

// RunHooks runs hooks in order with the container state on stdin; the
// first failure stops the list. kind names the list in errors
// ("prestart").
func RunHooks(kind string, hooks []specs.Hook, s *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	stateJSON, err := json.Marshal(s)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, stateJSON); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunHooksWarn runs every hook of a list whose failures are only
// warnings (poststart, poststop): a failed hook does not stop the rest.
func RunHooksWarn(kind string, hooks []specs.Hook, s *specs.State) {
	if len(hooks) == 0 {
		return
	}
	stateJSON, err := json.Marshal(s)
	if err != nil {
		logs.Warnf("hooks.%s: %v", kind, err)
		return
	}
	for i, h := range hooks {
		if err := runHook(h, stateJSON); err != nil {
			logs.Warnf("hooks.%s[%d] (%s): %v", kind, i, h.Path, err)
		}
	}
}

// runHook runs one host hook with the state on stdin and waits for it,
// killing it once its timeout has passed; its output (stdout and
// stderr) goes into the error.
func runHook(h specs.Hook, stateJSON []byte) error {
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	out, outW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		return err
	}
	defer out.Close()
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	pid, err := nsenter.Spawn(h.Path, args, h.Env, [3]int{int(stdin.Fd()), int(outW.Fd()), int(outW.Fd())})
	outW.Close()
	if err != nil {
		stdinW.Close()
		return err
	}
	// A hook may not read its stdin at all, so the write must not
	// hold up the wait.
	go func() {
		_, _ = stdinW.Write(stateJSON)
		stdinW.Close()
	}()
	var output bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&output, out)
		close(copied)
	}()
	err = waitHook(pid, h.Timeout)
	// A daemon the hook left behind may hold the output pipe open.
	_ = out.SetReadDeadline(time.Now().Add(hookOutputGrace))
	<-copied
	if err != nil {
		if output.Len() > 0 {
			return fmt.Errorf("%w, output: %s", err, bytes.TrimSpace(output.Bytes()))
		}
		return err
	}
	return nil
}

// hookOutputGrace is how long a hook's output is still read once the
// hook has exited (its children may hold the pipe).
const hookOutputGrace = 100 * time.Millisecond

// runCreateHooks answers the init's sync requests during create.
func runCreateHooks(cfg *configs.Config, st *state.State, tag uint32, pid int) error {
	if cfg.Hooks == nil {
		return nil
	}
	s := st.OCIState(state.Creating)
	s.Pid = pid
	switch tag {
	case initplan.SyncCreateRuntime:
		// runc (and runtime-tools' hooks_stdin) give prestart hooks the
		// status "created"; the spec leaves it open.
		pre := *s
		pre.Status = state.Created
		if err := RunHooks("prestart", cfg.Hooks.Prestart, &pre); err != nil { //nolint:staticcheck // deprecated, still run
			return err
		}
		return RunHooks("createRuntime", cfg.Hooks.CreateRuntime, s)
	case initplan.SyncCreateContainer:
		return RunHooksInContainer("createContainer", cfg.Hooks.CreateContainer, namespacePaths(cfg, pid), s)
	}
	return fmt.Errorf("init asked for unknown sync %d", tag)
}
