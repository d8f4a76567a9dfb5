package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
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

func runHook(h specs.Hook, stateJSON []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(stateJSON)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if out.Len() > 0 {
			return fmt.Errorf("%w, output: %s", err, bytes.TrimSpace(out.Bytes()))
		}
		return err
	}
	return nil
}

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
