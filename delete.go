package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete any resources held by the container often used with detached container",
	ArgsUsage: "<container-id>",
	Description: `Where "<container-id>" is the name for the instance of the container.

EXAMPLE:
For example, if the container id is "ubuntu01" and skiff list currently shows the
status of "ubuntu01" as "stopped" the following will delete resources held for
"ubuntu01" removing "ubuntu01" from the skiff list of containers:

       # skiff delete ubuntu01`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		root, id, force := stateRoot(ctx), ctx.Args().First(), ctx.Bool("force")
		unlock, err := state.Lock(root, id)
		if err != nil {
			if force && errors.Is(err, state.ErrNotExist) {
				return nil
			}
			return err
		}
		defer unlock()
		st, err := state.LoadLite(root, id)
		if errors.Is(err, state.ErrNotExist) {
			// A create that died before writing state.json left its
			// directory behind; nothing else can be there.
			if rerr := state.Remove(root, id); rerr != nil {
				fmt.Fprintf(os.Stderr, "remove %s: %v\n", state.Dir(root, id), rerr)
			}
			if force {
				return nil
			}
		}
		if err != nil {
			return err
		}
		return libcontainer.Destroy(root, st, force)
	},
}
