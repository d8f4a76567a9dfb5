package main

import (
	_ "embed"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-runtime/skiff/libcontainer/seccomp"
)

// Set by the build: -ldflags "-X main.version=... -X main.gitCommit=...".
var (
	version   string
	gitCommit string
)

//go:embed VERSION
var versionFile string

// skiffVersion is the -X version, else the VERSION file's.
func skiffVersion() string {
	if version != "" {
		return version
	}
	return strings.TrimSpace(versionFile)
}

func commit() string {
	if gitCommit != "" {
		return gitCommit
	}
	return "unknown"
}

// versionText follows "skiff version " in `skiff --version`, with the
// same lines as runc's.
func versionText() string {
	lines := []string{
		skiffVersion(),
		"commit: " + commit(),
		"spec: " + specs.Version,
		"go: " + runtime.Version(),
	}
	if v := libseccompVersion(); v != "" {
		lines = append(lines, "libseccomp: "+v)
	}
	return strings.Join(lines, "\n")
}

// libseccompVersion is the version of the libseccomp skiff uses, "" when
// skiff is built without it.
func libseccompVersion() string {
	return seccomp.Version()
}
