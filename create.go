package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
)

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Description: `The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem. The container waits in the "created" state until "skiff start".`,
	Flags: createFlags,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		if err := createContainer(ctx); err != nil {
			return fmt.Errorf("%s create failed: %w", ctx.App.Name, err)
		}
		return nil
	},
}

func createContainer(ctx *cli.Context) error {
	pidfdSock, err := dialPidfdSocket(ctx)
	if err != nil {
		return err
	}
	defer pidfdSock.Close()
	st, err := libcontainer.Create(createOptionsFromContext(ctx, ctx.Args().First()))
	if err != nil {
		return err
	}
	if pidfdSock != nil {
		// The init waits on exec.fifo: its pid cannot have been reused.
		if err := pidfdSock.Send(st.InitPID, libcontainer.PidfdInit); err != nil {
			destroy(stateRoot(ctx), st, true)
			return err
		}
	}
	return nil
}
