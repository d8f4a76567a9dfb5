package main

import (
	"encoding/json"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
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
	if l.Cgroup == nil || !*l.Cgroup.V1 || !*l.Cgroup.V2 || *l.Seccomp.Enabled || !*l.MountExtensions.IDMap.Enabled {
		t.Errorf("linux features %s", data)
	}
}
