package main

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "pause suspends all processes inside the container",
	ArgsUsage: "<container-id>",
	Description: `Where "<container-id>" is the name for the instance of the container to be
paused.

The pause command suspends all processes in the instance of the container.

Use skiff list to identify instances of containers and their current status.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		return libcontainer.Pause(stateRoot(ctx), ctx.Args().First())
	},
}
