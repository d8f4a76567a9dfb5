package jsoncodec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/configs"
)

// The documents this package decodes and encodes, as types of its own so
// that the generator can give them methods. Regenerate after changing
// them or upgrading runtime-spec: `make generate`. The sed drops the
// generated file's import of package easyjson, used only to assert an
// interface: it imports net/http, whose package init (and crypto's)
// every command would then run.
//
//go:generate go tool easyjson -disallow_unknown_fields -no_std_marshalers types.go
//go:generate sed -i -e "/mailru.easyjson\"/d" -e "/_ easyjson.Marshaler/d" types_easyjson.go

// linuxSpec is specs.Spec without the other platforms' sections
// (solaris, windows, vm, zos, freebsd): a config.json that has one is
// decoded by encoding/json, so their decoders need not be generated.
// TestLinuxSpecFields keeps it in step with specs.Spec.
//
//easyjson:json
type linuxSpec struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *specs.Linux      `json:"linux,omitempty"`
}

//easyjson:json
type config configs.Config

//easyjson:json
type seccomp specs.LinuxSeccomp
