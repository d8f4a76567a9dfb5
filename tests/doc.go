// Package tests holds skiff's integration tests: real containers run
// from a busybox bundle (make bundle) with a static probe program
// (make probe) inside, checked from within (the probe's JSON) and from
// the host (/proc, mountinfo, cgroupfs, the runtime's state JSON).
//
// They need root and a built runtime; SKIFF_BINARY picks the binary
// (default ../skiff), so the same tests can be pointed at runc to check
// the tests themselves, and SKIFF_BUILD_DIR the directory holding
// bundle/rootfs and probe (default ../_build). Without root every test
// skips.
package tests
