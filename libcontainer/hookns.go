package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/initplan"
	"github.com/skiff-runtime/skiff/libcontainer/signals"
)

// RunHooksInContainer runs createContainer or startContainer hooks in
// the namespaces of the container (nsPaths), as runtime-spec v1.3.0
// asks, through the C stage: the hook is a process that joined them.
func RunHooksInContainer(kind string, hooks []specs.Hook, nsPaths map[configs.NamespaceType]string, s *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	stateJSON, err := json.Marshal(s)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHookInContainer(h, nsPaths, stateJSON); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

func runHookInContainer(h specs.Hook, nsPaths map[configs.NamespaceType]string, stateJSON []byte) error {
	plan := initplan.BuildHook(h.Path, h.Args, h.Env, initplan.ExecOptions{Options: initplan.Options{SockFd: 3}, NamespacePaths: nsPaths})
	stdin, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	// The state is small: it fits in the pipe, so no writer goroutine.
	if _, err := w.Write(stateJSON); err != nil {
		w.Close()
		return err
	}
	w.Close()
	p, err := startInitWithStdio(0, nil, nil, stdin, os.Stderr, os.Stderr, nil, false)
	if err != nil {
		return err
	}
	pid := 0
	hh := &initHandler{onPid: func(got int) error { pid = got; return nil }}
	if err := p.run(plan, hh); err != nil {
		p.kill()
		return err
	}
	return waitHook(pid, h.Timeout)
}

// waitHook waits for the hook (a child of skiff: CLONE_PARENT), killing it
// once its timeout has passed.
func waitHook(pid int, timeout *int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	wait := time.Duration(-1)
	if timeout != nil {
		wait = time.Duration(*timeout) * time.Second
	}
	if err := signals.WaitFD(pidfd, wait); err != nil {
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, signals.ErrTimeout) {
			return fmt.Errorf("timed out after %ds", *timeout)
		}
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if ws.Signaled() {
		return fmt.Errorf("killed by signal %v", ws.Signal())
	}
	if ws.ExitStatus() != 0 {
		return fmt.Errorf("exit status %d", ws.ExitStatus())
	}
	return nil
}
