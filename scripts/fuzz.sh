#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (AddressSanitizer
# + UBSan) into build/fuzz, or $TSYNC_FUZZ_BUILD, and runs each for
# SECONDS (default 10) from the committed seeds, as ctest tests labelled
# "fuzz".  New inputs go to BUILD/tests/fuzz/corpus/TARGET, crashes to
# BUILD/tests/fuzz/artifacts/.
#
#   fuzz.sh [SECONDS] [TARGET...]   TARGET: frame txn session bundle cert crl
#   fuzz.sh --seeds                 regenerates tests/fuzz/corpus/
#   fuzz.sh --crashers              replays tests/fuzz/crashers/TARGET-*
#                                   (fails while any still crashes)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${TSYNC_FUZZ_BUILD:-$top/build/fuzz}
cc=${TSYNC_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz.sh: $cc not found: the fuzz targets need clang with" \
		"libFuzzer (Debian: clang libclang-rt-14-dev; run" \
		"scripts/setup.sh as root)" >&2
	exit 1
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *p, long n)\n{ (void)p; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
	>"$probe/log" 2>&1; then
	cat "$probe/log" >&2
	echo "fuzz.sh: $cc cannot link -fsanitize=fuzzer: the libFuzzer" \
		"runtime is missing (Debian: libclang-rt-14-dev; run" \
		"scripts/setup.sh as root)" >&2
	exit 1
fi

mode=run
secs=10
if [ "${1:-}" = "--seeds" ] || [ "${1:-}" = "--crashers" ]; then
	mode=${1#--}
	shift
elif [ $# -gt 0 ]; then
	secs=$1
	shift
fi
case "$secs" in
'' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;;
esac

cmake -S "$top" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DTSYNC_WERROR=OFF -DTSYNC_SANITIZE=OFF -DTSYNC_FUZZ=ON \
	-DTSYNC_FUZZ_SECONDS="$secs" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target fuzz_all -- --no-print-directory >/dev/null

if [ "$mode" = crashers ]; then
	bad=0
	for f in "$top"/tests/fuzz/crashers/*-*; do
		[ -f "$f" ] || continue
		t=$(basename "$f")
		t=${t%%-*}
		if "$dir/tests/fuzz/fuzz_$t" -rss_limit_mb=2048 "$f" \
			>"$probe/out" 2>&1; then
			echo "fixed:   $(basename "$f")"
		else
			echo "CRASHES: $(basename "$f")"
			grep -E "ERROR|SUMMARY| in [a-z_]+ /" "$probe/out" | head -8
			bad=1
		fi
	done
	exit $bad
fi
if [ "$mode" = seeds ]; then
	rm -rf "$dir/seeds"
	"$dir/tests/fuzz/tsync_fuzz_seedgen" "$dir/seeds"
	for t in frame txn session bundle cert crl; do
		rm -rf "$top/tests/fuzz/corpus/$t"
		mkdir -p "$top/tests/fuzz/corpus/$t"
		cp "$dir/seeds/$t"/* "$top/tests/fuzz/corpus/$t/"
	done
	echo "fuzz.sh: seeds written to tests/fuzz/corpus/"
	exit 0
fi

regex=
for t in "$@"; do regex="$regex${regex:+|}^fuzz\\.$t\$"; done
cd "$dir"
ctest --output-on-failure -j 2 -L fuzz ${regex:+-R "$regex"}
