package main

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
)

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resumes all processes that have been previously paused",
	ArgsUsage: "<container-id>",
	Description: `Where "<container-id>" is the name for the instance of the container to be
resumed.

The resume command resumes all processes in the instance of the container.

Use skiff list to identify instances of containers and their current status.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		return libcontainer.Resume(stateRoot(ctx), ctx.Args().First())
	},
}
