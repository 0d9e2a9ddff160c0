#!/usr/bin/env bash
# Sets up, builds and runs the main job: the one-village walk-through,
# then `tiersync demo`: a whole district on this machine, its records,
# a settled conflict, the district's report and the audit.
# demo.sh [DIR] keeps everything under DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" release
bash "$top/scripts/walkthrough.sh" "$top/build/release/tiersync" "${1:+$1/walkthrough}"
exec "$top/build/release/tiersync" demo ${1:+"$1/district"}
