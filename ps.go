package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/nsenter"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1, minArgs); err != nil {
			return err
		}
		st, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		pids, err := libcontainer.Processes(st)
		if err != nil {
			return err
		}
		switch ctx.String("format") {
		case "table":
		case "json":
			return json.NewEncoder(os.Stdout).Encode(pids)
		default:
			return errors.New("invalid format option")
		}
		return printPs(psArgs(ctx.Args().Slice()[1:]), pids)
	},
}

// psArgs are the options for ps(1): what follows the container ID, by
// default -ef. A "--" right after the ID only separates skiff's
// arguments from ps's (runc would pass it on, and ps rejects it).
func psArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return []string{"-ef"}
	}
	return args
}

// printPs runs ps and prints its header and the lines whose PID column
// names one of pids.
func printPs(args []string, pids []int) error {
	var out bytes.Buffer
	cmd := exec.Command("ps", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := nsenter.WithCallerTimerSlack(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("%s: %s", err, out.Bytes())
	}
	lines := strings.Split(out.String(), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return errors.New("couldn't find PID field in ps output")
	}
	fmt.Println(lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if col >= len(fields) {
			return fmt.Errorf("unable to parse pid: no PID column in %q", line)
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return fmt.Errorf("unable to parse pid: %w", err)
		}
		if slices.Contains(pids, pid) {
			fmt.Println(line)
		}
	}
	return nil
}
