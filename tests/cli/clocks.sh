#!/usr/bin/env bash
# Wrong clocks, through libfaketime (the monotonic clock stays real): a
# street on a true clock, running `serve`; a village `a` whose PC runs a
# year ahead (FAKETIME=+365d); a village `b` ten years behind (-3650d,
# before the HLC range starts at 2020-01-01); the district, on a true
# clock, reached by a bundle only.  What docs/data-model.md and
# docs/protocol.md (section 6.4) promise, checked:
#   - ahead: the village's writes are kept with their versions, the
#     street lists it under `clock skew:` in `status` (and clock_skews in
#     --json), with a lead of about 365 days, through a socket (`sync`)
#     and, at the district, through a bundle; a concurrent edit is a
#     conflict listed alike on both sides, shown with the far-ahead value;
#     a street write over a far-ahead version goes above it, but the
#     street's clock stays bounded: its next write elsewhere carries
#     today's time; settling the conflict at the street reaches the
#     village; digests agree, verify is clean;
#   - behind: `sql` and a record command refuse to write, saying the clock
#     lies outside 2020-01-01..2100-01-01, and write nothing; reads,
#     status and verify work; a socket fails at TLS (`peer certificate
#     refused: not yet valid (check the clock)`); a bundle is imported,
#     and the street is listed under `clock skew:` (ten years ahead of
#     this PC); once the clock is right, the village writes and syncs, and
#     digests agree.
#
#   clocks.sh TIERSYNC TSYNC_GEN
#
# Needs libfaketime (Debian package faketime; scripts/setup.sh installs
# it); prints SKIP and exits 0 without it.  About 3 s in the release
# build and 8 s under ASan, on 2 cores.
source "$(dirname "$0")/lib.sh"
GEN=${2:?usage: clocks.sh TIERSYNC TSYNC_GEN}
FT=${TSYNC_FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
skip() { echo "SKIP: $*"; PASSES=0; FAILS=0; exit 0; }
[ -f "$FT" ] || skip "no libfaketime at $FT (Debian package faketime)"
command -v sqlite3 >/dev/null || { bad "the sqlite3 shell is missing"; finish; exit; }
# fk OFFSET CMD...: runs CMD with the PC's clock moved by OFFSET (an ASan
# build wants its runtime first; libfaketime comes before it here).
fk() {
	local off=$1; shift
	LD_PRELOAD=$FT FAKETIME="$off" FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
Y=$(date -u +%Y)
[ "$(fk +365d date -u +%Y)" = $((Y + 1)) ] && [ "$(fk -3650d date -u +%Y)" = $((Y - 10)) ] ||
	skip "libfaketime does not move the clock here"
[ "$Y" -ge 2026 ] || skip "the true clock reads $Y: ten years back must lie before 2020"
t0=$SECONDS
FS=gangzha/qinzao/feiqiao
BS=gangzha/qinzao/beiqiao
node d gangzha
node s gangzha/qinzao
node a $FS
node b $BS
id_of() { sqlite3 "$W/$1/replica.db" "SELECT value FROM ts_meta WHERE key = 'node_id'"; }
IA=$(id_of a); IS=$(id_of s)
PS=$(free_port)
serve s --listen 127.0.0.1:$PS
wait_port $PS

# A common past, on true clocks.
"$GEN" "$W/a" 200 g >/dev/null || bad "tsync_gen at a"
"$GEN" "$W/b" 50 h >/dev/null || bad "tsync_gen at b"
expect 0 "$T" sql "$W/s" "INSERT INTO cases(id, scope, title) VALUES('f1', '$FS', '街道登记'), ('b1', '$BS', '街道登记')"
for n in a b; do
	expect 0 "$T" sync "$W/$n" --peer 127.0.0.1:$PS --timeout 60
	has 'in sync with'
done

# ---- A village a year ahead -------------------------------------------
expect 0 fk +365d "$T" sql "$W/a" "INSERT INTO cases(id, scope, title) VALUES('a1', '$FS', '村里登记'); UPDATE cases SET title = '村里改的' WHERE id = 'f1'"
expect 0 "$T" sql "$W/s" "UPDATE cases SET title = '街道改的' WHERE id = 'f1'" # concurrent
expect 0 "$T" log "$W/a" --limit 1
has "^$IA $FS #201  $((Y + 1))-" # the village's own clock, a year ahead
expect 0 fk +365d "$T" sync "$W/a" --peer 127.0.0.1:$PS --timeout 60
has 'in sync with.*sent 1 txns, received 1'

# The street flags the village's clock and keeps its versions.
expect 0 "$T" status "$W/s"
has '^clock skew:$'
has "^  $IA clock ran [0-9]+ ms ahead of ours \(versions kept; our clock bounded\)$"
lead=$(sed -n "s/^  $IA clock ran \([0-9]*\) ms ahead.*/\1/p" "$W/out")
day=86400000
if [ -n "$lead" ] && [ "$lead" -gt $((364 * day)) ] && [ "$lead" -le $((365 * day + 60000)) ]; then ok; else
	bad "street: lead of the village's clock '$lead' ms, wanted about 365 days"; fi
echo "street: village a's clock ran $lead ms ($((${lead:-0} / day)) days) ahead"
expect 0 "$T" status "$W/s" --json
has "\"clock_skews\":\[\{[^]]*\"$IA\""
expect 0 fk +365d "$T" status "$W/a"
hasnt 'clock skew' # the street's clock is behind a's, not ahead
# The concurrent edit is a conflict on both sides; the far-ahead value shows.
for n in s a; do
	"$T" conflicts "$W/$n" list >"$W/conf-$n" 2>&1 || bad "conflicts list at $n"
	eq "$(q $n "SELECT title FROM cases WHERE id = 'f1'")" 村里改的 "f1 at $n: the year-ahead edit wins"
done
grep -q '^1 open conflict$' "$W/conf-s" && ok || { bad "street: not one conflict"; cat "$W/conf-s" >&2; }
eq "$(cat "$W/conf-a")" "$(cat "$W/conf-s")" "the conflict list at the village and the street"

# A street write over the far-ahead row goes above it; the street's clock
# does not follow, so its next write elsewhere carries today's time.
expect 0 "$T" sql "$W/s" "UPDATE cases SET title = '街道又改' WHERE id = 'a1'"
expect 0 "$T" sql "$W/s" "INSERT INTO cases(id, scope, title) VALUES('b2', '$BS', '街道今日')"
expect 0 "$T" log "$W/s"
when() { awk -v r="cases/$1 " '/^[0-9a-f]+ [a-z]/{h=$4} index($0, r){print h; exit}' "$W/out"; }
w_a1=$(when a1); w_b2=$(when b2)
echo "street: its write over a1 at $w_a1, its next write (b2) at $w_b2"
case $w_a1 in $((Y + 1))-*) ok ;; *) bad "street's write over a1 at '$w_a1', wanted above the village's ($((Y + 1)))" ;; esac
# today, at most max_clock_skew_ms (300 s) ahead of true time
ahead=$(( $(date -u -d "${w_b2%%.*}" +%s 2>/dev/null || echo 0) - $(date -u +%s) ))
if [ $ahead -ge -60 ] && [ $ahead -le 300 ]; then ok; else
	bad "street's next write at '$w_b2', $ahead s from true time: wanted today, within the bound"; fi
# Settle the conflict at the street with its own value.
cid=$(sed -n 's/^conflict \([0-9a-f]*\) .*/\1/p' "$W/conf-s" | head -1)
expect 0 "$T" conflicts "$W/s" resolve "$cid" --keep theirs
has 'settled'
expect 0 fk +365d "$T" sync "$W/a" --peer 127.0.0.1:$PS --timeout 60
has 'in sync with'
for n in s a; do
	eq "$(q $n "SELECT title FROM cases WHERE id = 'f1'")" 街道改的 "f1 at $n after the settlement"
	eq "$(q $n "SELECT title FROM cases WHERE id = 'a1'")" 街道又改 "a1 at $n"
	expect 0 "$T" status "$W/$n"
	has ', conflicts 0, quarantined 0$'
done
eq "$("$T" digest "$W/a" --scope $FS)" "$("$T" digest "$W/s" --scope $FS)" "village a's scope digest, a and the street"

# Through a bundle: the district, on a true clock, flags the village too.
expect 0 fk +365d "$T" sql "$W/a" "INSERT INTO cases(id, scope, title) VALUES('a2', '$FS', '又一件')"
expect 0 fk +365d "$T" bundle export "$W/a" --for gangzha --out "$W/a.tsb" --unsealed
expect 0 "$T" bundle import "$W/d" "$W/a.tsb"
has 'quarantined 0$'
expect 0 "$T" status "$W/d"
has "^  $IA clock ran [0-9]+ ms ahead of ours"
eq "$("$T" digest "$W/d" --scope $FS)" "$("$T" digest "$W/a" --scope $FS)" "village a's scope digest, a and the district (bundle)"

# ---- A village ten years behind (before 2020) -------------------------
nb=$(q b "SELECT count(*) FROM cases")
expect 1 fk -3650d "$T" sql "$W/b" "INSERT INTO cases(id, scope, title) VALUES('b9', '$BS', '十年前')"
has 'the clock of this computer reads [0-9]+ ms since 1970, outside 2020-01-01\.\.2100-01-01: set the clock; nothing was written'
sed -n 1p "$W/out" | sed 's/^/  village b: /'
expect 1 fk -3650d "$T" dispute add "$W/b" --title 十年前 --category land --source walkin \
	--parties '张某、李某' --risk low --lead judicial --opened "$((Y - 10))-06-01" --by 王
has 'outside 2020-01-01\.\.2100-01-01: set the clock; nothing was written'
eq "$(q b "SELECT count(*) FROM cases")" "$nb" "rows at b after refused writes"
expect 0 fk -3650d "$T" status "$W/b"
has "^txns 51, rows $nb, "
expect 0 fk -3650d "$T" verify "$W/b"
# A socket: TLS refuses the street's certificate, which is "not yet valid".
expect 1 fk -3650d "$T" sync "$W/b" --peer 127.0.0.1:$PS --timeout 60
has 'peer certificate refused: not yet valid \(check the clock\)'
# A bundle goes in; the street's clock is ten years ahead of this PC (and
# since it saw village a, the street stamps its writes up to the bound,
# max_clock_skew_ms, ahead of true time).
expect 0 "$T" bundle export "$W/s" --for $BS --out "$W/s.tsb" --unsealed
expect 0 fk -3650d "$T" bundle import "$W/b" "$W/s.tsb"
has 'applied [1-9][0-9]*, already held [0-9]+, quarantined 0$'
expect 0 fk -3650d "$T" status "$W/b"
has "^  $IS clock ran [0-9]+ ms ahead of ours"
lead=$(sed -n "s/^  $IS clock ran \([0-9]*\) ms ahead.*/\1/p" "$W/out")
if [ -n "$lead" ] && [ "$lead" -gt $((3649 * day)) ] && [ "$lead" -le $((3650 * day + 300000 + 60000)) ]; then ok; else
	bad "village b: lead of the street's clock '$lead' ms, wanted about 3650 days"; fi
echo "village b: the street's clock ran $lead ms ($((${lead:-0} / day)) days) ahead"
expect 0 fk -3650d "$T" verify "$W/b"
eq "$(q b "SELECT title FROM cases WHERE id = 'b2'")" 街道今日 "b2 at b, through the bundle"
# The clock set right: b writes and syncs.
expect 0 "$T" sql "$W/b" "INSERT INTO cases(id, scope, title) VALUES('b9', '$BS', '钟已校准')"
expect 0 "$T" sync "$W/b" --peer 127.0.0.1:$PS --timeout 60
has 'in sync with'

kill "$PID_s"; wait "$PID_s"; eq $? 0 "street serve exit status after SIGTERM"
PIDS=()
eq "$("$T" digest "$W/b" --scope $BS)" "$("$T" digest "$W/s" --scope $BS)" "village b's scope digest, b and the street"
for n in d s a b; do
	expect 0 "$T" verify "$W/$n"
	has 'no faults'
done
if grep -qE 'Sanitizer|runtime error' "$W"/*.log; then bad "sanitizer report in a log"; grep -E -A5 'Sanitizer|runtime error' "$W"/*.log | head -40 >&2; else ok; fi
echo "$((SECONDS - t0)) s"
finish
