#!/usr/bin/env bash
# Crashes on both sides of a live stream: a village runs `serve` pushing to
# its street (also running `serve`) while loops of `tiersync sql` write at
# the village and, into the village's scope, at the street, and tsync_gen
# adds bursts of txns at the village.  One `serve` at a time, alternating
# sides (both at once every eighth round), is killed with SIGKILL after a
# random delay and restarted after another: 63 kills in 56 rounds.
# Afterwards:
#   - every write acknowledged by `tiersync sql` (exit 0) is held by the
#     other side, delivered by the live link alone; every write that
#     failed left nothing behind;
#   - PRAGMA integrity_check is ok on both replicas, verify is clean on
#     both, the village scope's digests agree, and the next `sync`
#     completes with both sides in sync;
#   - no txn was applied twice.
#
#   crash.sh TIERSYNC TSYNC_GEN
#
# TSYNC_CRASH_KILLS (default 56) is the number of kill -9 rounds and
# TSYNC_CRASH_SEED picks the test's random choices (printed; the timing of
# a run still varies).  Measured on 2 cores: about 65 s in the normal
# build and 75 s under ASan (mostly the random delays).
source "$(dirname "$0")/lib.sh"
GEN=${2:?usage: crash.sh TIERSYNC TSYNC_GEN}
KILLS=${TSYNC_CRASH_KILLS:-56}
SEED=${TSYNC_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
BURST=250 # tsync_gen txns in a burst at the village; a new one starts
          # each round once the last is done
VS=gangzha/qinzao/feiqiao
echo "seed $SEED: $KILLS kill -9 rounds, bursts of $BURST txns"
command -v sqlite3 >/dev/null || { bad "the sqlite3 shell is missing"; finish; exit; }

node s gangzha/qinzao
node v $VS
PS=$(free_port)
t0=$SECONDS

forget() { local p keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
start_s() { serve s --listen 127.0.0.1:$PS; }
start_v() { serve v --parent 127.0.0.1:$PS; }
# crash NAME: kill -9; the server must not have died on its own before.
crash() {
	local pid st; eval "pid=\$PID_$1"
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; st=$?
	forget "$pid"
	[ $st -eq 137 ] || { bad "serve $1 had exited with $st"; tail -5 "$W/$1.log" >&2; }
}
# writer NODE PREFIX: inserts one case per `tiersync sql` until $W/stop
# exists; records each id as acknowledged (exit 0) or failed.
writer() {
	local i=0 rc
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		"$T" sql "$W/$1" "INSERT INTO cases(id, scope, title) VALUES('$2-$i', '$VS', '写$i')" \
			>/dev/null 2>>"$W/$2.err"
		rc=$?
		if [ $rc -eq 0 ]; then echo "$2-$i" >>"$W/$2.acked"; else echo "$2-$i $rc" >>"$W/$2.failed"; fi
		sleep "0.0$((RANDOM % 10))"
	done
}

# A backlog before any link exists, so the first rounds move a stream.
"$GEN" "$W/v" $((BURST * 4)) g0 >/dev/null 2>>"$W/gen.log" || bad "tsync_gen: backlog"
start_s; wait_port $PS
start_v
: >"$W/w.acked"; : >"$W/x.acked"
writer v w & WV=$!; PIDS+=($WV)
writer s x & WS=$!; PIDS+=($WS)
GT=$((BURST * 4)) # txns tsync_gen wrote at the village
gv=

kills_v=0; kills_s=0
for r in $(seq 1 "$KILLS"); do
	# Bursts of txns, one after the other: the live push is busy when the
	# kills come.
	if [ -z "$gv" ] || ! kill -0 $gv 2>/dev/null; then
		if [ -n "$gv" ]; then wait $gv || bad "tsync_gen at the village, before round $r"; fi
		"$GEN" "$W/v" $BURST "g$r" >/dev/null 2>>"$W/gen.log" & gv=$!
		GT=$((GT + BURST))
	fi
	sleep "0.$((1 + RANDOM % 9))$((RANDOM % 10))"
	if [ $((r % 8)) -eq 0 ]; then who="v s"; elif [ $((r % 2)) -eq 1 ]; then who=v; else who=s; fi
	for x in $who; do
		crash $x
		if [ $x = v ]; then kills_v=$((kills_v + 1)); else kills_s=$((kills_s + 1)); fi
	done
	sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
	for x in $who; do
		if [ $x = s ]; then start_s; wait_port $PS; else start_v; fi
	done
done
[ -z "$gv" ] || wait $gv || bad "tsync_gen at the village, last burst"
touch "$W/stop"
wait $WV $WS
forget $WV; forget $WS
nw=$(wc -l <"$W/w.acked"); nx=$(wc -l <"$W/x.acked")
fw=$(cat "$W/w.failed" 2>/dev/null | wc -l); fx=$(cat "$W/x.failed" 2>/dev/null | wc -l)
echo "kill rounds done at $((SECONDS - t0)) s: acknowledged $nw village and $nx street writes" \
	"($fw and $fx failed), $GT generated txns"
[ "$nw" -gt 0 ] && [ "$nx" -gt 0 ] && ok || bad "no acknowledged writes"

# The live link alone brings both sides level.
level() { has_rows s "id LIKE 'w-%' OR id LIKE 'g%'" $((nw + GT)) && has_rows v "id LIKE 'x-%'" "$nx"; }
if wait_for 120 level; then ok; else
	bad "not level over the live link: street holds $(rows s "id LIKE 'w-%' OR id LIKE 'g%'") of $((nw + GT)), village $(rows v "id LIKE 'x-%'") of $nx"
fi
echo "level over the live link at $((SECONDS - t0)) s"

# Every acknowledged write, by id, is at both nodes; no failed one is.
ids() { sqlite3 "$W/$1/replica.db" "SELECT id FROM cases WHERE id LIKE '$2-%'" | sort; }
for p in w x; do
	sort "$W/$p.acked" >"$W/$p.want"
	for n in s v; do
		ids $n $p >"$W/$p.$n.held"
		missing=$(comm -23 "$W/$p.want" "$W/$p.$n.held" | wc -l)
		extra=$(comm -13 "$W/$p.want" "$W/$p.$n.held" | head -5 | tr '\n' ' ')
		eq "$missing" 0 "acknowledged $p writes missing at $n: $(comm -23 "$W/$p.want" "$W/$p.$n.held" | head -5 | tr '\n' ' ')"
		eq "$extra" "" "rows at $n from writes that failed"
	done
done
if [ -s "$W/w.failed" ] || [ -s "$W/x.failed" ]; then
	echo "failed writes said:" >&2; sort "$W/w.err" "$W/x.err" 2>/dev/null | uniq -c | head -5 >&2
fi

# The next sync completes (straight from the village, serve stopped there).
kill "$PID_v"; wait "$PID_v"; eq $? 0 "village serve exit status after SIGTERM"
forget "$PID_v"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS --timeout 120
has 'in sync with 127.0.0.1'
echo "final sync at $((SECONDS - t0)) s: $(cat "$W/out")"
kill "$PID_s"; wait "$PID_s"; eq $? 0 "street serve exit status after SIGTERM"
forget "$PID_s"

for n in s v; do
	eq "$(sqlite3 "$W/$n/replica.db" 'PRAGMA integrity_check')" ok "integrity_check at $n"
done
eq "$("$T" digest "$W/v" --scope $VS)" "$("$T" digest "$W/s" --scope $VS)" "village scope digest"
"$T" verify "$W/v" >"$W/verify-v" 2>&1 & vv=$!
"$T" verify "$W/s" >"$W/verify-s" 2>&1 & vs=$!
wait $vv; eq $? 0 "verify village: $(tail -3 "$W/verify-v")"
wait $vs; eq $? 0 "verify street: $(tail -3 "$W/verify-s")"

# No txn applied twice: each side applied exactly the other's stream.
id_of() { sqlite3 "$W/$1/replica.db" "SELECT value FROM ts_meta WHERE key = 'node_id'"; }
applied() { sqlite3 "$W/$1/replica.db" "SELECT value FROM ts_meta WHERE key = 'applied_txns'"; }
held_from() { sqlite3 "$W/$1/replica.db" "SELECT coalesce(sum(seq), 0) FROM ts_streams WHERE printf('%016x', origin) = '$(id_of "$2")'"; }
eq "$(held_from s v)" $((nw + GT)) "street holds the village's stream"
eq "$(held_from v s)" "$nx" "village holds the street's stream"
eq "$(applied s)" $((nw + GT)) "street applied each village txn once"
eq "$(applied v)" "$nx" "village applied each street txn once"
for n in s v; do
	expect 0 "$T" status "$W/$n"
	has ', conflicts 0, quarantined 0$'
done
if grep -qE 'Sanitizer|runtime error' "$W"/*.log; then bad "sanitizer report in a log"; grep -E -A5 'Sanitizer|runtime error' "$W"/*.log | head -40 >&2; else ok; fi
echo "kill -9: village $kills_v, street $kills_s; $(grep -c "TLS up" "$W/v.log") village TLS sessions, $(grep -c "applied [0-9]* txns" "$W/s.log") batches applied at the street; $((SECONDS - t0)) s"
finish
