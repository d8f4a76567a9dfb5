package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/logs"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	ArgsUsage: "<container-id>",
	Description: `Where "<container-id>" is the name for the instance of the container.

The events command displays information about the container. By default the
information is displayed once every 5 seconds.`,
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
		&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
	},
	Action: func(ctx *cli.Context) error {
		// Start-up is over: what only it needed leaves skiff's mappings.
		nsenter.DropStartupPages()
		if err := checkArgs(ctx, 1, exactArgs); err != nil {
			return err
		}
		st, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		interval := ctx.Duration("interval")
		if interval <= 0 {
			return errors.New("duration interval must be greater than 0")
		}
		if st.Status(stateRoot(ctx)) == state.Stopped {
			return fmt.Errorf("container with id %s is not running", st.ID)
		}
		enc := json.NewEncoder(os.Stdout)
		if ctx.Bool("stats") {
			s, err := libcontainer.ContainerStats(st)
			if err != nil {
				return err
			}
			return enc.Encode(&libcontainer.Event{Type: "stats", ID: st.ID, Data: s})
		}
		// main turns the collector off for short commands; a stream may
		// run for days.
		debug.SetGCPercent(100)
		return libcontainer.WatchEvents(st, interval, func(e *libcontainer.Event) {
			if err := enc.Encode(e); err != nil {
				logs.Errorf("%s", err)
			}
		})
	},
}
