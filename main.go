// skiff lives for milliseconds: it needs no GOMAXPROCS from the cgroup's
// CPU limit, nor a goroutine watching for changes to it.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command skiff is an OCI container runtime with runc's command line:
// the same commands, flags, outputs, error texts and exit codes.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer/logs"
	// The C stage: `skiff init`, and what runs before the Go runtime starts.
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
	"github.com/skiff-runtime/skiff/libcontainer/userns"
)

const (
	usage       = "Open Container Initiative runtime"
	description = `skiff is a command line client for running applications packaged according to
the Open Container Initiative (OCI) format and is a compliant implementation of the
Open Container Initiative specification.

Containers are configured using bundles. A bundle for a container is a directory
that includes a specification file named "config.json" and a root filesystem.
The root filesystem contains the contents of the container.

To start a new instance of a container:

    # skiff run [ -b bundle ] <container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host. Providing the bundle directory using "-b" is optional. The default
value for "bundle" is the current directory.`
)

func main() {
	// Before anything else: the runtime started on one CPU so that it
	// made one P (libcontainer/nsenter/maxprocs.c).
	nsenter.RestoreAffinity()
	// A command runs for milliseconds and allocates little: collecting
	// garbage would only cost time. The limit keeps a huge `list` sane.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
	root, xdgRoot := defaultRoot()
	app := &cli.App{
		Name:        "skiff",
		Usage:       usage,
		Description: description,
		Version:     versionText(),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write skiff logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Value: root, Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:skiff:434234\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
		},
		Commands: []*cli.Command{
			createCommand,
			deleteCommand,
			eventsCommand,
			execCommand,
			featuresCommand,
			initCommand,
			killCommand,
			listCommand,
			pauseCommand,
			psCommand,
			resumeCommand,
			runCommand,
			specCommand,
			startCommand,
			stateCommand,
			updateCommand,
		},
		Before: func(ctx *cli.Context) error {
			if err := setupRoot(ctx, xdgRoot); err != nil {
				return err
			}
			if err := logs.Setup(ctx.String("log"), ctx.String("log-format"), ctx.Bool("debug")); err != nil {
				return err
			}
			logs.Debugf("go runtime: GOMAXPROCS %d", runtime.GOMAXPROCS(0))
			return parseRootless(ctx.String("rootless"))
		},
		// runc's StringSlice flags (urfave/cli v1) take each value whole:
		// `--env A=1,2` sets A to "1,2".
		DisableSliceFlagSeparator: true,
		// Errors are reported once, by fatal, the way runc reports them.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	withCachedNames(app)
	if err := app.Run(os.Args); err != nil {
		fatal(err)
	}
	nsenter.SavePageProfile()
}

// defaultRoot is /run/skiff, or $XDG_RUNTIME_DIR/skiff for a user who is
// not root (xdg is then true).
func defaultRoot() (root string, xdg bool) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "/run/skiff", false
	}
	if os.Geteuid() != 0 {
		return dir + "/skiff", true
	}
	// Real root keeps /run/skiff even if XDG_RUNTIME_DIR is /run/user/0.
	// Root in a user namespace is an ordinary user on the host, unless
	// the session says it is root.
	if !userns.RunningInUserNS() {
		return "/run/skiff", false
	}
	if u, ok := os.LookupEnv("USER"); ok && u == "root" {
		return "/run/skiff", false
	}
	return dir + "/skiff", true
}

func setupRoot(ctx *cli.Context, xdgRoot bool) error {
	if !ctx.IsSet("root") {
		if xdgRoot {
			// The XDG base directory spec: files in XDG_RUNTIME_DIR that
			// are to survive its periodic clean-up have the sticky bit.
			root := ctx.String("root")
			if err := os.MkdirAll(root, 0o700); err != nil {
				return fmt.Errorf("state root: %w", err)
			}
			if err := os.Chmod(root, 0o700|os.ModeSticky); err != nil {
				return fmt.Errorf("state root: %w", err)
			}
		}
		return nil
	}
	root, err := filepath.Abs(ctx.String("root"))
	if err != nil {
		return err
	}
	if root == "/" {
		return errors.New("Option --root argument should not be set to /")
	}
	return ctx.Set("root", root)
}

// fatal reports err as runc does: logged at level error, and also on
// stderr if the log goes elsewhere; then exit 1.
func fatal(err error) {
	logs.Errorf("%s", err)
	if !logs.ToStderr() {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(1)
}

// initCommand is never reached in normal use: `skiff init` is served by
// the C stage before the Go runtime starts.
var initCommand = &cli.Command{
	Name:   "init",
	Usage:  "initialize the namespaces and launch the process (do not call it outside of skiff)",
	Hidden: true,
	Action: func(*cli.Context) error {
		return errors.New("init is only run by skiff itself, when creating a container")
	},
}
