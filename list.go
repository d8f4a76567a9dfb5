package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer/state"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "lists containers started by skiff with the given root",
	Description: `Where the given root is specified via the global option "--root"
(default: "/run/skiff").

EXAMPLE 1:
To list containers created via the default "--root":
       # skiff list

EXAMPLE 2:
To list containers created using a non-default value for "--root":
       # skiff --root value list`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		list, err := listContainers(stateRoot(ctx))
		if err != nil {
			return err
		}
		// One write for the whole list, not one for every cell.
		out := bufio.NewWriter(os.Stdout)
		if ctx.Bool("quiet") {
			for _, c := range list {
				fmt.Fprintln(out, c.ID)
			}
			return out.Flush()
		}
		switch ctx.String("format") {
		case "table":
			w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, c := range list {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n",
					c.ID, c.InitProcessPid, c.Status, c.Bundle, c.Created.Format(time.RFC3339Nano), c.Owner)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return out.Flush()
		case "json":
			if err := json.NewEncoder(out).Encode(list); err != nil {
				return err
			}
			return out.Flush()
		default:
			return errors.New("invalid format option")
		}
	},
}

// containerState is what `state` and `list` print, field for field as
// runc prints it.
type containerState struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        time.Time         `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

func newContainerState(st *state.State, status, owner string) containerState {
	cs := containerState{
		Version: specs.Version,
		ID:      st.ID,
		Status:  status,
		Bundle:  st.Bundle,
		Rootfs:  st.Rootfs,
		Created: st.Created,
		Owner:   owner,
	}
	if status != state.Stopped {
		cs.InitProcessPid = st.InitPID
	}
	cs.Annotations = st.Annotations
	if st.Config != nil {
		cs.Annotations = st.Config.Annotations
	}
	return cs
}

// listContainers loads every container under root. Containers that
// cannot be loaded are reported on stderr and left out, as runc does.
func listContainers(root string) ([]containerState, error) {
	states, err := state.List(root)
	var lerr *state.ListError
	if errors.As(err, &lerr) {
		for _, e := range lerr.Errs {
			fmt.Fprintln(os.Stderr, e)
		}
	} else if err != nil {
		return nil, err
	}
	var out []containerState
	owners := map[uint32]string{}
	for _, st := range states {
		uid := st.OwnerUID
		owner, ok := owners[uid]
		if !ok {
			owner = "#" + strconv.FormatUint(uint64(uid), 10)
			if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
				owner = u.Username
			}
			owners[uid] = owner
		}
		out = append(out, newContainerState(st.State, st.Status, owner))
	}
	return out, nil
}
