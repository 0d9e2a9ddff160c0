# snapshot.sh - a snapshot first pull (docs/protocol.md 3.14), with real
# `serve` processes.
#
# (1) A district of a few thousand txns (its own records in every scope, a
#     village's txns synced up, so more than one origin and certificate).
#     An auditor and a fresh district-scope office, each serving with the
#     district as parent, pull it by snapshot: their logs say so, status
#     says verified, digests equal the district's, verify is clean, and
#     the ordinary session goes on (a later write arrives as a txn).
# (2) A street pulling from the district takes the ordinary pull: the
#     district offers no filtered snapshot.
# (3) A peer whose replica was edited behind its back (a row differs from
#     the log), and one with a txn body altered: the puller discards the
#     snapshot with an error naming the fault and falls back to the
#     ordinary pull, which brings the log's data (edited row) or
#     quarantines the altered txn, as it does today.
# (4) A replica left unverified (an interrupted pull) says so in status,
#     refuses a child's session, and the next pull from its parent
#     replaces it with a verified one.
. "$(dirname "$0")/lib.sh"
G=${2:?usage: snapshot.sh tiersync tsync_gen}

digest() { "$T" digest "$W/$1" ${2:+--scope "$2"}; }
quarantined() { q "$1" "SELECT count(*) FROM ts_quarantine"; }
held() { q "$1" "SELECT coalesce(sum(seq), 0) FROM ts_streams"; }
state() { "$T" status "$W/$1" | sed -n 's/^replica   //p'; }
verified() { state "$1" | grep -q '^verified'; }
# log_has NAME PATTERN: the serve log of NAME matches
log_has() { grep -qE -- "$2" "$W/$1.log" && ok || { bad "$1.log lacks /$2/"; sed 's/^/    /' "$W/$1.log" >&2; }; }

# opt_in NAME: the node asks for a snapshot when it starts empty
# (tiersync.conf snapshot_first_pull = yes; without it, the ordinary pull)
opt_in() { echo "snapshot_first_pull = yes" >>"$W/$1/tiersync.conf"; }
VS=gangzha/qinzao/feiqiao
node d gangzha
node v $VS
node a gangzha auditor
node d2 gangzha
node d3 gangzha
node s gangzha/qinzao
for x in a d2 s; do opt_in $x; done
PD=$(free_port)

# ---- (1) the district and two snapshot pulls -------------------------
"$T" generate "$W/d" --seed 3 --streets 2 --villages 2 --years 1 --end-year 2026 >/dev/null ||
	bad "generate"
"$G" "$W/d" 2500 dg >/dev/null || bad "tsync_gen d"
"$G" "$W/d" 300 dv $VS >/dev/null || bad "tsync_gen d into the village"
"$G" "$W/v" 400 vg >/dev/null || bad "tsync_gen v"
serve d --listen 127.0.0.1:$PD
wait_port $PD
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PD
N=$(held d)
[ "$N" -gt 3000 ] && ok || bad "the district holds only $N txns"

# The auditor serves with the district as its parent; the new district
# PC (no parent above it) takes one `sync`.
serve a --parent 127.0.0.1:$PD
wait_for 60 verified a || bad "the auditor's replica is not verified"
log_has a "asking .* for a snapshot first pull"
log_has a "snapshot from [0-9a-f]+ \(office gangzha\) verified: $N txns"
expect 0 "$T" sync "$W/d2" --peer 127.0.0.1:$PD
has "in sync with 127.0.0.1:$PD: sent 0 txns, received $N"
# A node that did not opt in takes the ordinary pull.
expect 0 "$T" sync "$W/d3" --peer 127.0.0.1:$PD
has "in sync with 127.0.0.1:$PD: sent 0 txns, received $N"
hasnt "snapshot"
eq "$(digest d3)" "$(digest d)" "the ordinary pull's digest"
for x in a d2; do
	state $x | grep -q "verified: $N txns by snapshot from" && ok ||
		bad "$x: status says '$(state $x)'"
	eq "$(held $x)" "$N" "$x holds every txn"
	eq "$(digest $x)" "$(digest d)" "$x and district digests"
	expect 0 "$T" verify "$W/$x"
	eq "$(quarantined $x)" 0 "nothing quarantined at $x"
done
log_has d "sending [0-9a-f]+ \(auditor gangzha\) a snapshot of"
log_has d "[0-9a-f]+ \(auditor gangzha\) verified our snapshot"
log_has d "sending [0-9a-f]+ \(office gangzha\) a snapshot of"
# The local-only tables did not travel.
eq "$(q a "SELECT count(*) FROM ts_peers")" 1 "the auditor's ts_peers lists its parent only"
# The ordinary session goes on from the snapshot's version vector.
"$T" sql "$W/d" "INSERT INTO cases(id, scope, title) VALUES('after', 'gangzha', 'after')" >/dev/null
wait_for 20 has_rows a "id = 'after'" 1 && ok || bad "a later write did not reach the auditor"
eq "$(digest a)" "$(digest d)" "auditor and district digests after a live write"

# ---- (2) a street takes the ordinary pull ----------------------------
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
has "in sync with 127.0.0.1:$PD"
log_has d "no snapshot for [0-9a-f]+ \(office gangzha/qinzao\): this replica holds streams the peer may not see"
eq "$(state s)" "" "the street's replica was built txn by txn"
eq "$(digest s gangzha/qinzao)" "$(digest d gangzha/qinzao)" "street and district digests of the street"
expect 0 "$T" verify "$W/s"

# ---- (3) tampered peers ------------------------------------------------
kill $PID_a; wait $PID_a 2>/dev/null
# A copy of the district (same identity) whose table was edited behind
# its back: the snapshot's table differs from the fold of its log.
cp -r "$W/d" "$W/de"
rm -f "$W/de/heads"
sqlite3 "$W/de/replica.db" "UPDATE cases SET title = 'forged' WHERE id = (SELECT min(id) FROM cases WHERE scope = 'gangzha')"
PE=$(free_port)
serve de --listen 127.0.0.1:$PE
wait_port $PE
node f1 gangzha auditor
opt_in f1
expect 0 "$T" sync "$W/f1" --peer 127.0.0.1:$PE
has "snapshot from [0-9a-f]+ \(office gangzha\) discarded, taking the ordinary pull; the check failed: .*row cases/"
has "in sync with 127.0.0.1:$PE"
eq "$(state f1)" "" "no snapshot state left after the discard"
eq "$(digest f1)" "$(digest d)" "the ordinary pull brought the log's data"
expect 0 "$T" verify "$W/f1"
eq "$(q f1 "SELECT count(*) FROM cases WHERE title = 'forged'")" 0 "the edited row did not travel"
grep -qE "discarded our snapshot: .*row cases/" "$W/de.log" && ok || bad "de.log lacks the puller's reason"
kill $PID_de; wait $PID_de 2>/dev/null

# A copy with one txn body altered (its hash left as it was).
cp -r "$W/d" "$W/db"
rm -f "$W/db/heads"
flip_log_byte db 7 60
PB=$(free_port)
serve db --listen 127.0.0.1:$PB
wait_port $PB
node f2 gangzha auditor
opt_in f2
expect 1 "$T" sync "$W/f2" --peer 127.0.0.1:$PB
has "discarded, taking the ordinary pull; the check failed: .*seq 7: stored bytes were altered"
[ "$(quarantined f2)" -gt 0 ] && ok || bad "the altered txn was not quarantined"
eq "$(state f2)" "" "no snapshot state left after the discard"
expect 0 "$T" verify "$W/f2"
kill $PID_db; wait $PID_db 2>/dev/null

# ---- (4) a replica left unverified -----------------------------------
cp -r "$W/a" "$W/u"
rm -rf "$W/u/heads"
sqlite3 "$W/u/replica.db" "UPDATE ts_meta SET value = 'unverified' WHERE key = 'snapshot'"
expect 0 "$T" status "$W/u"
has "^replica   unverified"
PU=$(free_port)
serve u --listen 127.0.0.1:$PU
wait_port $PU
node c gangzha/qinzao
opt_in c
expect 1 "$T" sync "$W/c" --peer 127.0.0.1:$PU
has "replica is unverified"
kill $PID_u; wait $PID_u 2>/dev/null
serve u --parent 127.0.0.1:$PD
wait_for 60 verified u || bad "the unverified replica was not replaced"
grep -q "discarded an unverified snapshot" "$W/u.log" && ok || bad "u.log lacks the discard"
eq "$(digest u)" "$(digest d)" "the replaced replica's digest"
expect 0 "$T" verify "$W/u"
finish
