package state

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// With the one P skiff's runtime starts with, a few containers are
// loaded on it; many get a P for each CPU skiff may run on.
func TestListWorkers(t *testing.T) {
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		t.Fatal(err)
	}
	if cpus.Count() < 2 {
		t.Skip("one CPU")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if n := listWorkers(listInParallel - 1); n != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("listWorkers(%d) = %d with GOMAXPROCS %d, want 1 and 1", listInParallel-1, n, runtime.GOMAXPROCS(0))
	}
	if n := listWorkers(listInParallel); n != cpus.Count() || runtime.GOMAXPROCS(0) != cpus.Count() {
		t.Errorf("listWorkers(%d) = %d with GOMAXPROCS %d, want %d and %d", listInParallel, n, runtime.GOMAXPROCS(0), cpus.Count(), cpus.Count())
	}
}
