#!/usr/bin/env bash
# Builds tiersync into build/KIND: "release" (default) or "asan"
# (AddressSanitizer + UndefinedBehaviorSanitizer).  -Werror in both.
# build.sh KIND [TARGET...] builds only those targets.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTSYNC_SANITIZE=OFF) ;;
asan) flags=(-DCMAKE_BUILD_TYPE=Debug -DTSYNC_SANITIZE=ON) ;;
*) echo "build.sh: unknown kind '$kind' (release or asan)" >&2; exit 2 ;;
esac
cmake -S "$top" -B "$top/build/$kind" -DTSYNC_WERROR=ON "${flags[@]}" >/dev/null
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$top/build/$kind" -j "$(nproc)" "${targets[@]}" -- --no-print-directory >/dev/null
