#!/usr/bin/env bash
# Builds tiersync into build/KIND: "release" (default) or "asan"
# (AddressSanitizer + UndefinedBehaviorSanitizer).  -Werror in both.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSYNC_SANITIZE=OFF) ;;
asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DTSYNC_SANITIZE=ON) ;;
*) echo "build.sh: unknown kind '$kind' (release or asan)" >&2; exit 2 ;;
esac
cmake -S "$top" -B "$top/build/$kind" -DTSYNC_WERROR=ON "${flags[@]}" >/dev/null
cmake --build "$top/build/$kind" -j "$(nproc)" -- --no-print-directory >/dev/null
