#!/usr/bin/env bash
# Sets up, builds and runs the main job: the one-village walk-through,
# then a whole district on this machine (scripts/district-demo.sh).
# demo.sh [DIR] keeps everything under DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" release
bash "$top/scripts/walkthrough.sh" "$top/build/release/tiersync" "${1:+$1/walkthrough}"
exec bash "$top/scripts/district-demo.sh" "$top/build/release/tiersync" "${1:+$1/district}"
