#!/usr/bin/env bash
# Sets up, builds and runs every test twice: a normal build and an
# ASan + UBSan build, both with -Wall -Wextra -Werror; then builds the
# libFuzzer targets with clang and runs each for a few seconds
# (TSYNC_FUZZ_SECONDS, default 8; scripts/fuzz.sh runs them longer).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/lint.sh"
for kind in release asan; do
	echo "== $kind build"
	"$top/scripts/build.sh" "$kind"
	(cd "$top/build/$kind" &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j 2 "$@")
done
echo "== fuzz build"
"$top/scripts/fuzz.sh" "${TSYNC_FUZZ_SECONDS:-8}"
