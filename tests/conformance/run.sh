#!/bin/sh
# Runs the OCI runtime-tools validation suite against skiff (or --runtime
# PATH) and prints one row per program, ending with "N passed, N failed".
#
#   tests/conformance/run.sh [--runtime PATH] [--only prog,prog] [--timeout S]
#                            [--check] [--oci-version-rewrite] [--compare a.json,b.json]
#
# --check fails (exit 1) when a program in expected-pass.txt fails; CI uses it.
# Needs root; builds the suite into _build/conformance on first use.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mkdir -p _build/conformance
go build -o _build/conformance/runner ./tests/conformance/cmd/conformance
exec _build/conformance/runner -repo "$root" "$@"
