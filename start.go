package main

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "executes the user defined process in a created container",
	ArgsUsage: "<container-id>",
	Description: `The start command executes the user defined process in a created container.

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		st, err := loadContainerLite(ctx)
		if err != nil {
			return err
		}
		return libcontainer.Start(stateRoot(ctx), st)
	},
}
