package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
	"github.com/skiff-runtime/skiff/libcontainer/signals"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and run a container",
	ArgsUsage: "<container-id>",
	Description: `The run command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem.

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Flags: []cli.Flag{
		bundleFlag,
		consoleSocketFlag,
		pidfdSocketFlag,
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		pidFileFlag,
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		noPivotFlag,
		noNewKeyringFlag,
		preserveFDsFlag,
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		status, err := runContainer(ctx, ctx.Args().First())
		if err != nil {
			return fmt.Errorf("%s run failed: %w", ctx.App.Name, err)
		}
		nsenter.SavePageProfile()
		os.Exit(status)
		return nil
	},
}

// runContainer creates and starts the container and, unless detached,
// waits for its init, passing on the signals skiff receives, and
// returns its exit status.
func runContainer(ctx *cli.Context, id string) (int, error) {
	// Start-up is over: what only it needed leaves skiff's mappings.
	nsenter.DropStartupPages()
	detach := ctx.Bool("detach")
	if !detach && ctx.String("console-socket") != "" {
		// runc's rule and text: a foreground run relays the terminal itself.
		return -1, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	// Signals that arrive while the container is made are kept for it.
	// No Stop: skiff exits right after, and Stop costs as much as Notify.
	fwd := signals.Notify()
	if !ctx.Bool("no-subreaper") {
		// The init is skiff's own child (CLONE_PARENT); as subreaper skiff
		// also reaps what the container leaves when it has no pid
		// namespace, as runc does.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("become subreaper: %w", err)
		}
	}
	root := stateRoot(ctx)
	pidfdSock, err := dialPidfdSocket(ctx)
	if err != nil {
		return -1, err
	}
	defer pidfdSock.Close()
	opts := createOptionsFromContext(ctx, id)
	if !detach && opts.ConsoleSocket == "" {
		// With process.terminal, the container's pty is relayed to
		// skiff's own stdio; closing waits for the last output.
		tty := newTTYProxy()
		opts.OnConsole = tty.take
		fwd.OnWinch = tty.resize
		defer tty.close()
	}
	st, err := libcontainer.Create(opts)
	if err != nil {
		return -1, err
	}
	// Opened while the init surely still waits on exec.fifo, so the
	// pidfd is the init's whatever happens next.
	pidfd, err := unix.PidfdOpen(st.InitPID, 0)
	if err != nil {
		destroy(root, st, true)
		return -1, fmt.Errorf("pidfd_open %d: %w", st.InitPID, err)
	}
	defer unix.Close(pidfd)
	if pidfdSock != nil {
		if err := pidfdSock.Send(st.InitPID, libcontainer.PidfdInit); err != nil {
			destroy(root, st, true)
			return -1, err
		}
		pidfdSock.Close()
	}
	if err := libcontainer.Start(root, st); err != nil {
		destroy(root, st, true)
		return -1, err
	}
	if detach {
		return 0, nil
	}
	if !st.OwnPidNS {
		fwd.ReapOrphans()
	}
	status, err := fwd.Forward(st.InitPID, pidfd)
	if !ctx.Bool("keep") {
		// Once the init has exited, its pid namespace took every other
		// process of the container with it: the cgroup needs no sweep
		// unless the namespace was shared (Destroy checks that).
		destroy(root, st, err != nil)
	}
	return status, err
}

// destroy removes the container after a failed start or once it has
// exited; errors are only logged, as the run's outcome is already known.
// force: the container may still run (a failed start), and every process
// of its cgroup is killed first.
func destroy(root string, st *state.State, force bool) {
	unlock, err := state.Lock(root, st.ID)
	if err != nil {
		logs.Errorf("delete container %s: %v", st.ID, err)
		return
	}
	defer unlock()
	if err := libcontainer.Destroy(root, st, force); err != nil {
		logs.Errorf("%v", err)
	}
}
