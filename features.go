package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/urfave/cli/v2"

	"github.com/skiff-runtime/skiff/libcontainer/configs"

	"github.com/skiff-runtime/skiff/libcontainer/seccomp"
	"github.com/skiff-runtime/skiff/specconv"
)

var featuresCommand = &cli.Command{
	Name:      "features",
	Usage:     "show the enabled features",
	ArgsUsage: "",
	Description: `Show the enabled features.
   The result is parsable as a JSON.
   See https://github.com/opencontainers/runtime-spec/blob/main/features.md for the semantics.`,
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 0, exactArgs); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(skiffFeatures())
	},
}

// hookNames are the config.json hooks skiff runs, in lifecycle order.
var hookNames = []string{
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
}

// namespaceTypes are the namespaces skiff can create or join.
var namespaceTypes = []configs.NamespaceType{
	configs.NEWCGROUP, configs.NEWIPC, configs.NEWNS, configs.NEWNET,
	configs.NEWPID, configs.NEWTIME, configs.NEWUSER, configs.NEWUTS,
}

func skiffFeatures() *features.Features {
	yes, no := true, false
	var namespaces []string
	for _, ns := range namespaceTypes {
		namespaces = append(namespaces, string(ns))
	}
	slices.Sort(namespaces)
	var caps []string
	for _, c := range capability.ListKnown() {
		caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
	}
	selinuxOn := selinux.GetEnabled()
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         hookNames,
		MountOptions:  supportedMountOptions(),
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: caps,
			Cgroup: &features.Cgroup{
				V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &yes,
			},
			Seccomp: &features.Seccomp{
				Enabled:        &yes,
				Actions:        seccomp.Actions(),
				Operators:      seccomp.Operators(),
				Archs:          seccomp.Archs(),
				KnownFlags:     seccomp.KnownFlags(),
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: &no},
			// Labels are applied where the host runs SELinux.
			Selinux:         &features.Selinux{Enabled: &selinuxOn},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
		Annotations: map[string]string{
			"io.github.skiff-runtime.skiff.version": skiffVersion(),
			"io.github.skiff-runtime.skiff.commit":  commit(),
		},
	}
	if v := libseccompVersion(); v != "" {
		f.Annotations["io.github.seccomp.libseccomp.version"] = v
	}
	return f
}

// notYetSupported are options specconv parses but create refuses.
var notYetSupported = map[string]bool{"idmap": true, "ridmap": true, "tmpcopyup": true}

func supportedMountOptions() []string {
	var opts []string
	for _, o := range specconv.MountOptionNames() {
		if !notYetSupported[o] {
			opts = append(opts, o)
		}
	}
	return opts
}
