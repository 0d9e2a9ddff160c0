#!/usr/bin/env bash
# Resume under faults: a village sends at least 100,000 txns to its street
# (and the street a few thousand down to it) while the link is cut at
# random points over and over: kill -9 of either `serve`, and a proxy of
# the test's own (tsync_chaos) that cuts, stalls and slows the stream.
# After the last restart and a clean final catch-up the replicas' digests
# are equal, verify passes on both, and no txn was applied twice.
#
#   resume.sh TIERSYNC TSYNC_GEN TSYNC_CHAOS
#
# TSYNC_RESUME_TXNS (default 100000) is the number of village txns; both
# builds run the default (measured on 2 cores: about 25 s in the release
# build, 75 s under ASan, most of it in the two audits).
# TSYNC_RESUME_SEED picks the test's random choices and the proxy's
# faults (printed; the timing of a run still varies).
source "$(dirname "$0")/lib.sh"
GEN=${2:?usage: resume.sh TIERSYNC TSYNC_GEN TSYNC_CHAOS}
CHAOS=${3:?usage: resume.sh TIERSYNC TSYNC_GEN TSYNC_CHAOS}
NV=${TSYNC_RESUME_TXNS:-100000}
NS=3000           # street txns written into the village's scope
ROUNDS=10         # kill -9 rounds; the village writes half of NV during them
SEED=${TSYNC_RESUME_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
VS=gangzha/qinzao/feiqiao
echo "seed $SEED: $NV village txns, $NS street txns, $ROUNDS kill rounds"

node s gangzha/qinzao
node v $VS
PS=$(free_port); PX=$(free_port)
while [ "$PX" = "$PS" ]; do PX=$(free_port); done
t0=$SECONDS

# gen NODE COUNT PREFIX [SCOPE]: writes txns, one per commit.
gen() { "$GEN" "$W/$1" "$2" "$3" ${4:+"$4"} >/dev/null 2>>"$W/gen.log"; }
# forget PID: drops a process we stopped from lib.sh's list.
forget() { local p keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
start_s() { serve s --listen 127.0.0.1:$PS; }
start_v() { serve v --parent 127.0.0.1:$PX; }
# crash NAME: kill -9; the server must not have died on its own before.
crash() {
	local pid st; eval "pid=\$PID_$1"
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; st=$?
	forget "$pid"
	[ $st -eq 137 ] || { bad "serve $1 had exited with $st"; tail -5 "$W/$1.log" >&2; }
}

# Half of the village's txns are a backlog before any link exists.
half=$((NV / 2)); per=$(((NV - half) / ROUNDS))
gen v "$half" v0 || bad "tsync_gen: backlog"
echo "backlog written at $((SECONDS - t0)) s"

"$CHAOS" --seed "$SEED" "$PX" "$PS" 2>"$W/chaos.log" &
PID_chaos=$!; PIDS+=($PID_chaos)
start_s; wait_port $PS
start_v

# Each round both sides write more (live pushes), then one server, chosen
# at random, is killed at a random moment and restarted.
kills_v=0; kills_s=0; sent=$half
for r in $(seq 1 $ROUNDS); do
	n=$per; [ "$r" -eq "$ROUNDS" ] && n=$((NV - sent))
	gen v "$n" "v$r" & gv=$!
	gen s $((NS / ROUNDS)) "s$r" $VS & gs=$!
	sleep "0.$((2 + RANDOM % 8))$((RANDOM % 10))"
	if [ $((RANDOM % 2)) -eq 0 ]; then who=v; kills_v=$((kills_v + 1)); else who=s; kills_s=$((kills_s + 1)); fi
	crash $who
	sleep "0.$((RANDOM % 4))"
	if [ $who = v ]; then start_v; else start_s; wait_port $PS; fi
	wait $gv || bad "tsync_gen at the village, round $r"
	wait $gs || bad "tsync_gen at the street, round $r"
	sent=$((sent + n))
done
echo "kill rounds done at $((SECONDS - t0)) s"

# The chaotic link alone must bring both sides level.
level() { has_rows s "id LIKE 'v%'" "$NV" && has_rows v "id LIKE 's%'" "$NS"; }
if wait_for 120 level; then ok; else
	bad "not level through the chaos proxy: street holds $(rows s "id LIKE 'v%'") of $NV, village $(rows v "id LIKE 's%'") of $NS"
fi
echo "level through the proxy at $((SECONDS - t0)) s"

# A clean final catch-up straight to the street, without the proxy.
crash v
kill "$PID_chaos"; wait "$PID_chaos"; eq $? 143 "the proxy ran until it was stopped"
forget "$PID_chaos"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS --timeout 120
has 'in sync with'
echo "final catch-up at $((SECONDS - t0)) s: $(cat "$W/out")"
kill "$PID_s"; wait "$PID_s"; eq $? 0 "street serve exit status after SIGTERM"
forget "$PID_s"

eq "$(rows s "id LIKE 'v%'")" "$NV" "street holds every village row"
eq "$(rows v "id LIKE 's%'")" "$NS" "village holds every street row"
eq "$("$T" digest "$W/v" --scope $VS)" "$("$T" digest "$W/s" --scope $VS)" "village scope digest"
"$T" verify "$W/v" >"$W/verify-v" 2>&1 & vv=$!
"$T" verify "$W/s" >"$W/verify-s" 2>&1 & vs=$!
wait $vv; eq $? 0 "verify village: $(tail -1 "$W/verify-v")"
wait $vs; eq $? 0 "verify street: $(tail -1 "$W/verify-s")"
echo "verified at $((SECONDS - t0)) s"

# No txn applied twice: each side applied exactly the other's stream.
id_of() { sqlite3 "$W/$1/replica.db" "SELECT value FROM ts_meta WHERE key = 'node_id'"; }
applied() { sqlite3 "$W/$1/replica.db" "SELECT value FROM ts_meta WHERE key = 'applied_txns'"; }
held_from() { sqlite3 "$W/$1/replica.db" "SELECT coalesce(sum(seq), 0) FROM ts_streams WHERE printf('%016x', origin) = '$(id_of "$2")'"; }
eq "$(held_from s v)" "$NV" "street holds the village's stream"
eq "$(held_from v s)" "$NS" "village holds the street's stream"
eq "$(applied s)" "$NV" "street applied each village txn once"
eq "$(applied v)" "$NS" "village applied each street txn once"
for n in s v; do
	expect 0 "$T" status "$W/$n"
	has ', conflicts 0, quarantined 0$'
done
if grep -qE 'Sanitizer|runtime error' "$W"/*.log; then bad "sanitizer report in a log"; grep -E -A5 'Sanitizer|runtime error' "$W"/*.log | head -40 >&2; else ok; fi

echo "faults: kill -9 village $kills_v, street $kills_s; proxy:" \
	"$(grep -c 'conn [0-9]*: cut' "$W/chaos.log") cuts," \
	"$(grep -c ': stall' "$W/chaos.log") stalls," \
	"$(grep -c ': slow' "$W/chaos.log") slow stretches," \
	"$(grep -c 'target refused' "$W/chaos.log") refused, over" \
	"$(grep -c 'TLS up' "$W/v.log") village TLS sessions; $((SECONDS - t0)) s"
finish
