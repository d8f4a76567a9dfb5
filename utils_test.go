package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer"
	"github.com/skiff-runtime/skiff/libcontainer/configs"
	"github.com/skiff-runtime/skiff/libcontainer/state"
)

func TestCreateOptionsFromContext(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	var got *libcontainer.CreateOptions
	app := &cli.App{
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/skiff"},
			&cli.BoolFlag{Name: "systemd-cgroup"},
		},
		Commands: []*cli.Command{{
			Name:  "create",
			Flags: createFlags,
			Action: func(ctx *cli.Context) error {
				got = createOptionsFromContext(ctx, ctx.Args().First())
				return nil
			},
		}},
	}
	rootlessFlag = "true"
	defer func() { rootlessFlag = "auto" }()
	err := app.Run([]string{"skiff", "--root", "/r", "--systemd-cgroup", "create",
		"-b", link, "--pid-file", "pid", "--console-socket", "/s", "--no-pivot", "--no-new-keyring",
		"--preserve-fds", "2", "c1"})
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	want := libcontainer.CreateOptions{
		ID: "c1", Bundle: real, StateRoot: "/r",
		NoPivot: true, NoNewKeyring: true, SystemdCgroup: true, Rootless: true,
		ConsoleSocket: "/s", PidFile: filepath.Join(cwd, "pid"), PreserveFDs: 2,
	}
	if got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("options:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseRootless(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "false": false, "1": true} {
		if err := parseRootless(in); err != nil || rootlessCgroups() != want {
			t.Errorf("parseRootless(%q): %v, %v", in, rootlessCgroups(), err)
		}
	}
	if err := parseRootless("auto"); err != nil || rootlessCgroups() != (os.Geteuid() != 0) {
		t.Errorf("auto as euid %d: %v, %v", os.Geteuid(), rootlessCgroups(), err)
	}
	if err := parseRootless("maybe"); err == nil {
		t.Error("bad --rootless accepted")
	}
	rootlessFlag = "auto"
}

// The state JSON has runc's keys, in runc's order.
func TestContainerStateJSON(t *testing.T) {
	st := &state.State{
		ID: "c1", InitPID: 42, Bundle: "/b", Rootfs: "/b/rootfs",
		Created: time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC),
		Config:  &configs.Config{Annotations: map[string]string{"a": "b"}},
	}
	data, err := json.Marshal(newContainerState(st, state.Running, "root"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ociVersion":"1.3.0","id":"c1","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs",` +
		`"created":"2024-01-02T03:04:05.0000006Z","annotations":{"a":"b"},"owner":"root"}`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
	st.Config = nil
	data, _ = json.Marshal(newContainerState(st, state.Stopped, ""))
	want = `{"ociVersion":"1.3.0","id":"c1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs",` +
		`"created":"2024-01-02T03:04:05.0000006Z","owner":""}`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
}

func TestListenFDs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		pid, fds string
		want     int
	}{
		{self, "2", 2},
		{self, "0", 0},
		{self, "-3", 0},
		{self, "many", 0},
		{"1", "2", 0}, // another process's variables: not skiff's fds
		{"", "2", 0},
	} {
		t.Setenv("LISTEN_PID", tc.pid)
		t.Setenv("LISTEN_FDS", tc.fds)
		if got := listenFDs(); got != tc.want {
			t.Errorf("LISTEN_PID=%q LISTEN_FDS=%q: %d fds, want %d", tc.pid, tc.fds, got, tc.want)
		}
	}
}
