//go:build tools

// Package tools pins the OCI runtime-tools validation suite in go.mod so the
// conformance runner builds the same programs everywhere. The build tag keeps
// it out of every normal build.
package tools

import (
	_ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
	_ "github.com/opencontainers/runtime-tools/validation/default"
)
