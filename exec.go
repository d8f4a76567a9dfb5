package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
	"github.com/skiff-runtime/skiff/libcontainer/signals"
	"github.com/skiff-runtime/skiff/libcontainer/state"
	"github.com/skiff-runtime/skiff/specconv"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "execute new process inside the container",
	ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
	Description: `The exec command executes a new process inside an existing container.
With --process, the process comes from a JSON file in the runtime-spec's
process format; otherwise from the container's own process, changed by
the flags and with the arguments given.`,
	Flags: []cli.Flag{
		consoleSocketFlag,
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		pidFileFlag,
		&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
		preserveFDsFlag,
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	SkipFlagParsing: false,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, minArgs); err != nil {
			return err
		}
		status, err := execProcess(ctx)
		if err != nil {
			// 255, as runc: engines tell a failed exec from a process
			// that exited 1.
			fatalWithCode(fmt.Errorf("exec failed: %w", err), 255)
		}
		nsenter.SavePageProfile()
		os.Exit(status)
		return nil
	},
}

// fatalWithCode reports err as fatal does, with another exit status.
func fatalWithCode(err error, code int) {
	logs.Errorf("%s", err)
	if !logs.ToStderr() {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func execProcess(ctx *cli.Context) (int, error) {
	libcontainer.PrepareInitExe()
	root := stateRoot(ctx)
	st, err := loadContainer(ctx)
	if err != nil {
		return -1, err
	}
	switch status := st.Status(root); status {
	case state.Stopped:
		return -1, errors.New("cannot exec in a stopped container")
	case state.Paused:
		if !ctx.Bool("ignore-paused") {
			return -1, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	}
	subCgroups, err := parseSubCgroups(ctx.StringSlice("cgroup"))
	if err != nil {
		return -1, err
	}
	sp, err := execSpecProcess(ctx, st)
	if err != nil {
		return -1, err
	}
	proc, err := specconv.ToProcess(sp)
	if err != nil {
		return -1, err
	}
	detach := ctx.Bool("detach")
	if ctx.String("console-socket") != "" && (!detach || !proc.Terminal) {
		return -1, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	opts := &libcontainer.ExecOptions{
		Process:       &proc,
		PreserveFDs:   int(ctx.Uint("preserve-fds")),
		PidFile:       absPath(ctx.String("pid-file")),
		ConsoleSocket: absPath(ctx.String("console-socket")),
		SubCgroups:    subCgroups,
	}
	pidfdSock, err := dialPidfdSocket(ctx)
	if err != nil {
		return -1, err
	}
	defer pidfdSock.Close()
	var tty *ttyProxy
	if proc.Terminal && opts.ConsoleSocket == "" && !detach {
		tty = newTTYProxy()
		opts.OnConsole = tty.take
		defer tty.close()
	}
	// No Stop: skiff exits right after, and Stop costs as much as Notify.
	fwd := signals.Notify()
	if tty != nil {
		fwd.OnWinch = tty.resize
	}
	pid, err := libcontainer.Exec(st, opts)
	if err != nil {
		return -1, err
	}
	// The process is skiff's child (CLONE_PARENT) and not reaped yet, so
	// the pidfd is surely its own.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if pidfdSock != nil {
		if err := pidfdSock.Send(pid, libcontainer.PidfdExec); err != nil {
			// As with runc, the engine never sees a process it cannot
			// track.
			_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
			return -1, err
		}
		pidfdSock.Close()
	}
	if detach {
		return 0, nil
	}
	return fwd.Forward(pid, pidfd)
}

// execSpecProcess builds the process: from --process, or from the
// container's process with the flags applied.
func execSpecProcess(ctx *cli.Context, st *state.State) (*specs.Process, error) {
	if path := ctx.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		return &p, nil
	}
	if st.Config == nil || st.Config.Process.Spec == nil {
		return nil, errors.New("the container's state has no process to start from")
	}
	base := *st.Config.Process.Spec
	p := &base
	p.Args = ctx.Args().Slice()[1:]
	if len(p.Args) == 0 {
		return nil, errors.New("exec: no command given")
	}
	// consoleSize stays the container's, as with runc: a pty sent to
	// --console-socket starts with it.
	p.Terminal = ctx.Bool("tty")
	if cwd := ctx.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	p.Env = append(append([]string(nil), p.Env...), ctx.StringSlice("env")...)
	if u := ctx.String("user"); u != "" {
		uid, gid, err := parseUser(u)
		if err != nil {
			return nil, err
		}
		p.User.UID = uid
		if gid != nil {
			p.User.GID = *gid
		}
	}
	if gids := ctx.Int64Slice("additional-gids"); len(gids) > 0 {
		p.User.AdditionalGids = nil
		for _, g := range gids {
			if g < 0 || g > math.MaxUint32 {
				return nil, fmt.Errorf("--additional-gids: %d is out of range", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
	}
	if caps := ctx.StringSlice("cap"); len(caps) > 0 {
		c := &specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			*c = *p.Capabilities
		}
		// Never the inheritable set (CVE-2022-29162).
		for _, name := range caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
		}
		p.Capabilities = c
	}
	if ctx.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if l := ctx.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if a := ctx.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	return p, nil
}

// parseUser reads "uid" or "uid:gid", numbers only: a name is never
// looked up in the container's files (CVE-2016-3697), and anything
// malformed ("1000:", ":1000", out of range) is an error, never root.
func parseUser(s string) (uint32, *uint32, error) {
	us, gs, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("--user %q: uid must be a number from 0 to 4294967295", s)
	}
	if !hasGid {
		return uint32(uid), nil, nil
	}
	gid, err := strconv.ParseUint(gs, 10, 32)
	if err != nil {
		return 0, nil, fmt.Errorf("--user %q: gid must be a number from 0 to 4294967295", s)
	}
	g := uint32(gid)
	return uint32(uid), &g, nil
}

// parseSubCgroups reads --cgroup values as runc does: "path" for every
// controller, or "controller[,controller]:path".
func parseSubCgroups(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, v := range vals {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			if len(vals) > 1 {
				return nil, fmt.Errorf("--cgroup %q: without a controller it must be the only --cgroup", v)
			}
			m[""] = v
			continue
		}
		if path == "" || ctrls == "" {
			return nil, fmt.Errorf("--cgroup %q: want [controller:]path", v)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, dup := m[c]; dup {
				return nil, fmt.Errorf("--cgroup: controller %q given twice", c)
			}
			m[c] = path
		}
	}
	return m, nil
}
