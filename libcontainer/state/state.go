// Package state keeps what skiff knows about a container between
// commands: one directory per container under the state root, holding
// state.json (written atomically), exec.fifo (present while the
// container is "created") and a lock file that serializes commands on
// the same container.
package state

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// File names inside a container's state directory.
const (
	StateFile = "state.json"
	// ConfigFile holds the container's config, apart from state.json so
	// that `list` reads a few hundred bytes per container.
	ConfigFile = "config.json"
	ExecFifo   = "exec.fifo"
)

// Status values, as the OCI state JSON spells them.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Stopped  = "stopped"
	Paused   = "paused"
)

// State's JSON code is generated, as jsoncodec's is (that package says
// why). The sed drops the generated file's import of package easyjson,
// used only to assert an interface: it imports net/http, whose package
// init (and crypto's) every command would then run.
//
//go:generate go tool easyjson -disallow_unknown_fields -no_std_marshalers state.go
//go:generate sed -i -e "/mailru.easyjson\"/d" -e "/_ easyjson.Marshaler/d" state_easyjson.go

// State is the persisted record of one container.
//
//easyjson:json
type State struct {
	ID            string    `json:"id"`
	InitPID       int       `json:"init_pid"`
	InitStartTime uint64    `json:"init_start_time"` // field 22 of /proc/PID/stat, guards against PID reuse
	Bundle        string    `json:"bundle"`
	Rootfs        string    `json:"rootfs"`
	Created       time.Time `json:"created"`
	Owner         string    `json:"owner"`
	// CgroupPaths maps controller name ("" for the unified hierarchy)
	// to the absolute cgroup directory the container was placed in.
	CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`
	// NamespacePaths maps namespace type to a path exec can join
	// (/proc/PID/ns/TYPE of the init, or the configured path).
	NamespacePaths map[configs.NamespaceType]string `json:"namespace_paths,omitempty"`
	Annotations    map[string]string                `json:"annotations,omitempty"`
	Config         *configs.Config                  `json:"-"` // in ConfigFile
	// NotifySocket is the caller's NOTIFY_SOCKET at create, which start
	// relays the container's sd_notify messages to.
	NotifySocket string `json:"notify_socket,omitempty"`
	// NoHooks and OwnPidNS are what start, kill and delete would read
	// from the config: with no hooks they need not decode config.json
	// (LoadLite). State written before these existed lacks them, and
	// false makes LoadLite load the config as before.
	NoHooks  bool `json:"no_hooks,omitempty"`
	OwnPidNS bool `json:"own_pid_ns,omitempty"`
}

// OCIState returns the runtime-spec state for status.
func (s *State) OCIState(status string) *specs.State {
	st := &specs.State{
		Version:     specs.Version,
		ID:          s.ID,
		Status:      specs.ContainerState(status),
		Bundle:      s.Bundle,
		Annotations: nil,
	}
	st.Annotations = s.Annotations
	if s.Config != nil {
		st.Annotations = s.Config.Annotations
	}
	if status != Stopped {
		st.Pid = s.InitPID
	}
	return st
}
