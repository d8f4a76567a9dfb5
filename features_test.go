package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/skiff-runtime/skiff/libcontainer/seccomp"
	"github.com/skiff-runtime/skiff/specconv"
)

func TestFeaturesJSON(t *testing.T) {
	data, err := json.Marshal(skiffFeatures())
	if err != nil {
		t.Fatal(err)
	}
	var f features.Features
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("features JSON does not decode: %v\n%s", err, data)
	}
	if f.OCIVersionMin != "1.0.0" || f.OCIVersionMax != specs.Version {
		t.Errorf("versions %q..%q", f.OCIVersionMin, f.OCIVersionMax)
	}
	if len(f.Hooks) != 6 || len(f.MountOptions) == 0 {
		t.Errorf("hooks %v, %d mount options", f.Hooks, len(f.MountOptions))
	}
	l := f.Linux
	if l == nil {
		t.Fatal("no linux section")
	}
	want := []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}
	if !slices.Equal(l.Namespaces, want) {
		t.Errorf("namespaces %v, want %v", l.Namespaces, want)
	}
	if !slices.Contains(l.Capabilities, "CAP_SYS_ADMIN") || !slices.Contains(l.Capabilities, "CAP_CHECKPOINT_RESTORE") {
		t.Errorf("capabilities %v", l.Capabilities)
	}
	if l.Cgroup == nil || !*l.Cgroup.V1 || !*l.Cgroup.V2 || !*l.Seccomp.Enabled || *l.MountExtensions.IDMap.Enabled {
		t.Errorf("linux features %s", data)
	}
}

// Everything `features` lists must really be accepted by the code.
func TestFeaturesAreAccepted(t *testing.T) {
	f := skiffFeatures()
	rootfs := t.TempDir()
	for _, opt := range f.MountOptions {
		spec := specconv.ExampleSpec(false)
		spec.Root.Path = rootfs
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/tmp", Options: []string{"rbind", opt}})
		if _, err := specconv.ToConfig(spec, rootfs, specconv.Options{}); err != nil {
			t.Errorf("mount option %q listed but refused: %v", opt, err)
		}
	}
	for _, ns := range f.Linux.Namespaces {
		spec := specconv.ExampleSpec(false)
		spec.Root.Path = rootfs
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(ns)})
		if ns == "user" {
			spec.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}
			spec.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}
		}
		if ns == "network" || ns == "pid" || ns == "ipc" || ns == "uts" || ns == "mount" || ns == "cgroup" {
			continue // already in the example spec
		}
		if _, err := specconv.ToConfig(spec, rootfs, specconv.Options{}); err != nil {
			t.Errorf("namespace %q listed but refused: %v", ns, err)
		}
	}
	known := map[string]bool{}
	for _, c := range capability.ListKnown() {
		known["CAP_"+strings.ToUpper(c.String())] = true
	}
	for _, c := range f.Linux.Capabilities {
		if !known[c] {
			t.Errorf("capability %q listed but unknown", c)
		}
	}
	sc := f.Linux.Seccomp
	for _, a := range sc.Actions {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.LinuxSeccompAction(a)}}}
		if a == string(specs.ActAllow) {
			p.DefaultAction = specs.ActErrno
		}
		if a == string(specs.ActNotify) {
			p.ListenerPath = "/run/agent.sock"
		}
		if _, err := seccomp.Compile(p); err != nil {
			t.Errorf("seccomp action %q listed but refused: %v", a, err)
		}
	}
	for _, op := range sc.Operators {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"getcwd"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, ValueTwo: 1, Op: specs.LinuxSeccompOperator(op)}},
		}}}
		if _, err := seccomp.Compile(p); err != nil {
			t.Errorf("seccomp operator %q listed but refused: %v", op, err)
		}
	}
	for _, fl := range sc.SupportedFlags {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
		if fl == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
			p.ListenerPath = "/run/agent.sock"
			p.Syscalls[0].Action = specs.ActNotify
		}
		if _, err := seccomp.Compile(p); err != nil {
			t.Errorf("seccomp flag %q listed but refused: %v", fl, err)
		}
	}
}
