package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/state"
	"github.com/skiff-runtime/skiff/libcontainer/userns"
)

// How checkArgs compares the number of arguments with the expected one.
const (
	exactArgs = iota
	minArgs
	maxArgs
)

// checkArgs rejects a wrong number of arguments as runc does: usage on
// stdout, and an error naming the rule.
func checkArgs(ctx *cli.Context, expected, checkType int) error {
	name := ctx.Command.Name
	var err error
	switch n := ctx.NArg(); {
	case checkType == exactArgs && n != expected:
		err = fmt.Errorf("%s: %q requires exactly %d argument(s)", os.Args[0], name, expected)
	case checkType == minArgs && n < expected:
		err = fmt.Errorf("%s: %q requires a minimum of %d argument(s)", os.Args[0], name, expected)
	case checkType == maxArgs && n > expected:
		err = fmt.Errorf("%s: %q requires a maximum of %d argument(s)", os.Args[0], name, expected)
	}
	if err != nil {
		fmt.Printf("Incorrect Usage.\n\n")
		cli.HelpPrinter(ctx.App.Writer, cli.CommandHelpTemplate, ctx.Command)
	}
	return err
}

// stateRoot is the --root directory (made absolute by the app's Before).
func stateRoot(ctx *cli.Context) string {
	return ctx.String("root")
}

// loadContainer loads the container named by the first argument.
func loadContainer(ctx *cli.Context) (*state.State, error) {
	return state.Load(stateRoot(ctx), ctx.Args().First())
}

// loadContainerLite is loadContainer for start and kill, which read the
// config only for hooks (state.LoadLite).
func loadContainerLite(ctx *cli.Context) (*state.State, error) {
	return state.LoadLite(stateRoot(ctx), ctx.Args().First())
}

// rootlessFlag is --rootless as parseRootless checked it: "true",
// "false" or "auto".
var rootlessFlag = "auto"

// parseRootless checks --rootless: "true" or "false", or "auto" (or
// empty), which means rootless when skiff is not root on the host:
// euid != 0, or root in a user namespace.
func parseRootless(v string) error {
	if v == "" || v == "auto" {
		rootlessFlag = "auto"
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("invalid value for --rootless: %q (want true, false or auto)", v)
	}
	rootlessFlag = strconv.FormatBool(b)
	return nil
}

// rootlessCgroups resolves --rootless. "auto" is worked out only by the
// commands that need it: the user-namespace check reads
// /proc/self/uid_map.
func rootlessCgroups() bool {
	if rootlessFlag == "auto" {
		return os.Geteuid() != 0 || userns.RunningInUserNS()
	}
	return rootlessFlag == "true"
}

// Flags shared by create and run.
var (
	bundleFlag = &cli.StringFlag{
		Name: "bundle", Aliases: []string{"b"},
		Usage: "path to the root of the bundle directory, defaults to the current directory",
	}
	consoleSocketFlag = &cli.StringFlag{
		Name:  "console-socket",
		Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
	}
	pidfdSocketFlag = &cli.StringFlag{
		Name:  "pidfd-socket",
		Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process",
	}
	pidFileFlag = &cli.StringFlag{
		Name:  "pid-file",
		Usage: "specify the file to write the process id to",
	}
	noPivotFlag = &cli.BoolFlag{
		Name:  "no-pivot",
		Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk",
	}
	noNewKeyringFlag = &cli.BoolFlag{
		Name:  "no-new-keyring",
		Usage: "do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key",
	}
	preserveFDsFlag = &cli.UintFlag{
		Name:  "preserve-fds",
		Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
	}
)

// createFlags are `skiff create`'s flags, in runc's order.
var createFlags = []cli.Flag{
	bundleFlag, consoleSocketFlag, pidfdSocketFlag, pidFileFlag, noPivotFlag, noNewKeyringFlag, preserveFDsFlag,
}

// createOptionsFromContext gathers the create/run flags. Paths are made
// absolute here, relative to the directory skiff was started in. The
// socket-activation fds come first (3..), then --preserve-fds, as runc
// passes them.
func createOptionsFromContext(ctx *cli.Context, id string) *libcontainer.CreateOptions {
	listen := listenFDs()
	return &libcontainer.CreateOptions{
		ID:            id,
		Bundle:        bundlePath(ctx.String("bundle")),
		StateRoot:     stateRoot(ctx),
		NoPivot:       ctx.Bool("no-pivot"),
		NoNewKeyring:  ctx.Bool("no-new-keyring"),
		SystemdCgroup: ctx.Bool("systemd-cgroup"),
		Rootless:      rootlessCgroups(),
		ConsoleSocket: absPath(ctx.String("console-socket")),
		PidFile:       absPath(ctx.String("pid-file")),
		PreserveFDs:   listen + int(ctx.Uint("preserve-fds")),
		ListenFDs:     listen,
	}
}

// listenFDs is how many socket-activation fds (systemd's protocol) skiff
// was given to pass on: LISTEN_FDS, when LISTEN_PID names skiff itself.
// A LISTEN_PID of another process means the variables were inherited by
// mistake, and the fds are not skiff's to pass (systemd's rule, which
// runc follows).
func listenFDs() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// dialPidfdSocket connects to --pidfd-socket if it is set; nil if not.
func dialPidfdSocket(ctx *cli.Context) (*libcontainer.PidfdSocket, error) {
	path := ctx.String("pidfd-socket")
	if path == "" {
		return nil, nil
	}
	return libcontainer.DialPidfdSocket(absPath(path))
}

// bundlePath is the bundle directory, absolute and with symlinks
// resolved, as runc records it (it chdirs into the bundle and asks the
// kernel for its working directory). A bundle that cannot be resolved
// is left for Create to report.
func bundlePath(bundle string) string {
	if bundle == "" {
		bundle = "."
	}
	abs := absPath(bundle)
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
