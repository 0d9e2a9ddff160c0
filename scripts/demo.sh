#!/usr/bin/env bash
# Sets up, builds and runs the walk-through: a district CA, a village node,
# writes through the node, the log, status, digest and an audit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" release
exec bash "$top/scripts/walkthrough.sh" "$top/build/release/tiersync" "${1:-}"
