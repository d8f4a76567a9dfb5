package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "output the state of a container",
	ArgsUsage: "<container-id>",
	Description: `The state command outputs current state information for the
instance of a container.

Where "<container-id>" is your name for the instance of the container.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		st, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		// runc leaves the owner empty here; only list fills it in.
		data, err := json.MarshalIndent(newContainerState(st, st.Status(stateRoot(ctx)), ""), "", "  ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(data)
		return err
	},
}
