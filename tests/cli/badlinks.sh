#!/usr/bin/env bash
# A bad link between a street and its village: each node runs `serve` in
# a network namespace of its own that this test creates, joined by a veth
# pair with addresses in 10.213.7.0/24 that exist only inside the two
# namespaces (the host's interfaces are never touched).  The village
# pushes a backlog of NV txns (about 160 KB) to a street, and the street
# sends NS rows of the village's scope down:
#   - over the clean veth, to one street node;
#   - over the same veth shaped to 64 kbit/s each way (tc tbf), losing
#     10 % of the packets each way (iptables -m statistic --mode random
#     -j DROP), and taken down for DOWN_S seconds in the middle of the
#     push (ip link set down/up), to a second, fresh street node.
# Both pushes complete by themselves; the village scope's digests agree,
# verify is clean, and a final `sync` over the bad link reports in sync.
# The goodput of each push (stored txn bytes, body and signature, moved
# per second of the push) is printed.
#
#   badlinks.sh TIERSYNC TSYNC_GEN
#
# Needs root and network namespaces; prints SKIP and exits 0 without
# them.  The namespaces are deleted at exit.  TSYNC_BADLINKS_TXNS sets NV
# (default 500).  About 40 s in the release build and under ASan, on
# 2 cores.
source "$(dirname "$0")/lib.sh"
GEN=${2:?usage: badlinks.sh TIERSYNC TSYNC_GEN}
NV=${TSYNC_BADLINKS_TXNS:-500}
NS=20      # rows the street writes into the village's scope
DOWN_S=8   # seconds the link is down
VS=gangzha/qinzao/feiqiao
skip() { echo "SKIP: $*"; PASSES=0; FAILS=0; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
for c in ip tc iptables sqlite3; do command -v $c >/dev/null || skip "no $c (scripts/setup.sh installs it)"; done
NA=tsync-street-$$
NB=tsync-village-$$
AA=10.213.7.1
AB=10.213.7.2
trap 'stop_all
	ip netns del $NA 2>/dev/null; ip netns del $NB 2>/dev/null
	if [ $FAILS -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi' EXIT
ip netns add $NA 2>"$W/out" || skip "cannot create a network namespace: $(cat "$W/out")"
ip netns add $NB 2>"$W/out" || skip "cannot create a network namespace: $(cat "$W/out")"
in_a() { ip netns exec $NA "$@"; }
in_b() { ip netns exec $NB "$@"; }
{ ip -n $NA link set lo up && ip -n $NB link set lo up &&
	ip -n $NA link add vs type veth peer name vv netns $NB &&
	ip -n $NA addr add $AA/24 dev vs && ip -n $NB addr add $AB/24 dev vv &&
	ip -n $NA link set vs up && ip -n $NB link set vv up; } 2>"$W/out" ||
	skip "cannot join the namespaces with a veth pair: $(cat "$W/out")"
t0=$SECONDS

node sc gangzha/qinzao   # the street over the clean link
node ss gangzha/qinzao   # the street over the bad link
node v $VS
"$GEN" "$W/v" "$NV" g >/dev/null || bad "tsync_gen at the village"
for s in sc ss; do "$GEN" "$W/$s" $NS "d$s" $VS >/dev/null || bad "tsync_gen at $s"; done
# Stored bytes of the txns each push moves: the village's and one street's.
txn_bytes() { sqlite3 "$W/$1/replica.db" "SELECT sum(length(body) + length(sig)) FROM ts_log"; }
BYTES=$(( $(txn_bytes v) + $(txn_bytes ss) ))
echo "push: $NV village txns up and $NS street txns down, $BYTES bytes of txns"

# serve_in NS NAME ARGS...: `serve` inside a namespace (ip netns exec
# execs it, so the pid is serve's).
serve_in() {
	local ns=$1 name=$2; shift 2
	ip netns exec "$ns" "$T" serve "$W/$name" "$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
stop() {
	local pid; eval "pid=\$PID_$1"
	kill "$pid"; wait "$pid"; eq $? 0 "serve $1 exit status after SIGTERM"
}
now() { date +%s.%N; }
level() { has_rows "$1" "id LIKE 'g-%'" "$NV" && has_rows v "id LIKE 'd$1-%'" "$NS"; }
# push STREET PORT: the village's serve pushes to STREET (serving in the
# street's namespace on PORT) until both hold everything; sets $secs.
push() {
	serve_in $NA "$1" --listen $AA:$2
	wait_for 10 grep -q 'listening on' "$W/$1.log" || bad "$1 does not listen"
	t1=$(now)
	serve_in $NB v --parent $AA:$2
}
goodput() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.0f", b / s }'; }

# ---- The clean veth ----------------------------------------------------
PC=$(free_port)
push sc $PC
wait_for 60 level sc || bad "clean link: not level in 60 s"
secs_clean=$(awk -v a="$t1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
stop v; stop sc; PIDS=()
echo "clean veth: level in $secs_clean s, goodput $(goodput "$secs_clean") B/s"

# ---- The bad link --------------------------------------------------------
for x in "$NA vs" "$NB vv"; do
	set -- $x
	{ tc -n $1 qdisc add dev $2 root tbf rate 64kbit burst 3000 latency 400ms &&
		ip netns exec $1 iptables -A INPUT -p tcp -m statistic --mode random --probability 0.1 -j DROP; } \
		2>"$W/out" || { bad "cannot shape the link in $1: $(cat "$W/out")"; finish; exit; }
done
PS=$(free_port)
tls0=$(grep -c 'TLS up' "$W/v.log")
push ss $PS
# In the middle of the push: the link goes down, and up again.
sleep 15
got=$(rows ss "id LIKE 'g-%'")
[ "$got" -lt "$NV" ] && ok || bad "the push was over before the link went down ($got of $NV)"
ip -n $NB link set vv down
echo "bad link: down at $(awk -v a="$t1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s into the push (street held $got of $NV)"
sleep $DOWN_S
ip -n $NB link set vv up
tc -n $NB qdisc show dev vv | grep -q 'tbf.*rate 64Kbit' && ok || bad "the shaping went with the link: $(tc -n $NB qdisc show dev vv)"
wait_for 170 level ss || bad "bad link: not level in $((15 + DOWN_S + 170)) s: street holds $(rows ss "id LIKE 'g-%'") of $NV, village $(rows v "id LIKE 'dss-%'") of $NS"
secs_bad=$(awk -v a="$t1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
echo "bad link (64 kbit/s, 10 % loss each way, down $DOWN_S s): level in $secs_bad s, goodput $(goodput "$secs_bad") B/s (the link carries at most 8000 B/s each way)"
drops() { ip netns exec $1 iptables -vnL INPUT | awk '/statistic/ { print $1 }'; }
echo "bad link: packets dropped at random: $(drops $NA) at the street, $(drops $NB) at the village;" \
	"$(( $(grep -c 'TLS up' "$W/v.log") - tls0 )) TLS sessions at the village"
grep -E 'closed|refused|no word' "$W/v.log" "$W/ss.log" | sed 's/^/  /' | head -8
stop v; PIDS=("$PID_ss")

# The next sync over the bad link completes, with nothing left to move.
expect 0 in_b "$T" sync "$W/v" --peer $AA:$PS --timeout 120
has "in sync with $AA:$PS: sent 0 txns, received 0"
stop ss; PIDS=()

eq "$("$T" digest "$W/v" --scope $VS)" "$("$T" digest "$W/ss" --scope $VS)" "village scope digest, village and street (bad link)"
eq "$(q sc "SELECT count(*) FROM cases WHERE id LIKE 'g-%'")" "$NV" "village rows at the street (clean link)"
for n in v sc ss; do
	expect 0 "$T" verify "$W/$n"
	has 'no faults'
	expect 0 "$T" status "$W/$n"
	has ', quarantined 0$'
done
if grep -qE 'Sanitizer|runtime error' "$W"/*.log; then bad "sanitizer report in a log"; grep -E -A5 'Sanitizer|runtime error' "$W"/*.log | head -40 >&2; else ok; fi
echo "$((SECONDS - t0)) s"
finish
