package tests

import (
	"debug/buildinfo"
	"os/exec"
	"strings"
	"testing"
)

// `make build` picks the garbage collector before Go 1.26's "green tea"
// while the toolchain still offers it: green tea touches one more page
// for every span in use, and skiff's short commands never collect
// (Makefile, GO_EXPERIMENT).
func TestBuiltWithoutGreenTeaGC(t *testing.T) {
	if !runtimeIsSkiff() {
		t.Skip("skiff's own build")
	}
	probe := exec.Command("go", "env", "GOEXPERIMENT")
	probe.Env = append(probe.Environ(), "GOEXPERIMENT=nogreenteagc")
	if err := probe.Run(); err != nil {
		t.Skipf("no go toolchain, or one without the nogreenteagc experiment: %v", err)
	}
	info, err := buildinfo.ReadFile(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if s.Key == "GOEXPERIMENT" && strings.Contains(s.Value, "nogreenteagc") {
			return
		}
	}
	t.Errorf("%s was built without GOEXPERIMENT=nogreenteagc (settings %v)", runtimeBin, info.Settings)
}
