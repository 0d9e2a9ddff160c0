# lib.sh - helpers for the command-line tests (sourced).
# Each test gets its own temporary directory, removed on success.
set -uo pipefail
T=${1:?usage: test.sh PATH_TO_tiersync}
W=$(mktemp -d /tmp/tsync-test.XXXXXX)
FAILS=0
PASSES=0
trap 'if [ $FAILS -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi' EXIT

ok() { PASSES=$((PASSES + 1)); }
bad() { FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
# expect CODE CMD...: runs CMD, checks its exit code; output in $W/out
expect() {
	local want=$1; shift
	"$@" >"$W/out" 2>&1
	local got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		bad "exit $got, wanted $want: $*"; sed 's/^/    /' "$W/out" >&2; fi
}
# has PATTERN: the last output matches the extended regex
has() { if grep -qE -- "$1" "$W/out"; then ok; else bad "output lacks /$1/"; sed 's/^/    /' "$W/out" >&2; fi; }
hasnt() { if grep -qE -- "$1" "$W/out"; then bad "output has /$1/"; else ok; fi; }
eq() { if [ "$1" = "$2" ]; then ok; else bad "'$1' != '$2' ($3)"; fi; }
finish() { echo "$PASSES passed, $FAILS failed"; [ $FAILS -eq 0 ] && [ $PASSES -gt 0 ]; }

# node NAME SCOPE [ROLE]: issues and inits a node under $W/NAME
ca_once() { [ -f "$W/ca/ca.key" ] || "$T" ca init "$W/ca" --district gangzha >/dev/null; }
node() {
	ca_once
	"$T" ca issue "$W/ca" --scope "$2" --role "${3:-office}" --out "$W/$1" >/dev/null &&
		"$T" init "$W/$1" >/dev/null || bad "cannot make node $1"
}
q() { "$T" sql "$W/$1" "$2" | tail -n +2; }
# flip_log_byte NODE SEQ OFFSET: flips one byte of a stored txn body
flip_log_byte() {
	local db="$W/$1/replica.db"
	sqlite3 "$db" "SELECT writefile('$W/body', body) FROM ts_log WHERE (k & 1099511627775) = $2 LIMIT 1" >/dev/null
	local b
	b=$(od -An -tu1 -j "$3" -N1 "$W/body" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$W/body" bs=1 seek="$3" conv=notrunc status=none
	sqlite3 "$db" "UPDATE ts_log SET body = readfile('$W/body') WHERE (k & 1099511627775) = $2"
}

# Networking helpers: free loopback ports and background servers that the
# test stops at exit.
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap 'stop_all; if [ $FAILS -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi' EXIT
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return; fi
	done
	echo 0
}
# serve NAME [ARGS...]: starts `tiersync serve` in the background, log in $W/NAME.log
serve() {
	local name=$1; shift
	"$T" serve "$W/$name" "$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
# wait_port PORT: until something listens there (5 s)
wait_port() {
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
	bad "nothing listens on $1"; return 1
}
# wait_for SECONDS CMD...: retries CMD until it succeeds
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}
rows() { "$T" sql "$W/$1" "SELECT count(*) FROM cases WHERE $2" | tail -1; }
has_rows() { [ "$(rows "$1" "$2")" = "$3" ]; }
