#!/usr/bin/env bash
# Receipts a village cannot undo, and equivocation evidence
# (docs/protocol.md 8.3).  A village writes three records and syncs; its
# street countersigns the village's head (a receipt, in the street's own
# signed stream) and the receipt reaches the district.  Then the village's
# key holder rewrites its own history: txn 2 edited, 2..3 re-chained and
# re-signed with the village's own key, so the stream verifies on its
# own.  At the next sync the street sees the other head (the VV hash, then
# the village's txn at that seq), records evidence, and the evidence
# reaches the district, where `status` and `verify` show it; a bundle of
# the rewritten stream imported there adds the district's own.  An auditor
# that took the rewritten stream straight from the village finds the
# receipt held at the district contradicting its log.
source "$(dirname "$0")/lib.sh"
F=${2:?usage: receipts.sh tiersync tsync_forge}
node d gangzha
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
node a gangzha auditor
V=gangzha/qinzao/feiqiao
VID=$("$T" status "$W/v" --json | sed -n 's/.*"node_id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
SID=$("$T" status "$W/s" --json | sed -n 's/.*"node_id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
[ -n "$VID" ] && [ -n "$SID" ] && ok || bad "no node ids"
sq() { sqlite3 "$W/$1/replica.db" "$2"; }

for i in 1 2 3; do "$T" sql "$W/v" "INSERT INTO cases(id, scope, title) VALUES('v-$i', '$V', 'orig-$i')" >/dev/null; done
PD=$(free_port); PS=$(free_port); PA=$(free_port)
serve d --listen 127.0.0.1:$PD
wait_port $PD
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
serve s --listen 127.0.0.1:$PS --parent 127.0.0.1:$PD
wait_port $PS
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS

# The street receipted the village's stream at seq 3, with its head hash.
HEAD3=$(sq v "SELECT lower(hex(hash)) FROM ts_streams WHERE origin = (SELECT origin FROM ts_streams WHERE scope = '$V')")
wait_for 10 test "$(sq s "SELECT seq || ' ' || head FROM receipts WHERE origin = '$VID'")" = "3 $HEAD3" && ok ||
	bad "street has no receipt of the village at seq 3: $(sq s "SELECT * FROM receipts")"
# ... signed in the street's own stream, and relayed to the district.
wait_for 10 test "$(sq d "SELECT witness || ' ' || seq FROM receipts WHERE origin = '$VID'")" = "$SID 3" && ok ||
	bad "the receipt did not reach the district: $(sq d "SELECT * FROM receipts")"
expect 0 "$T" verify "$W/d" --receipts
has "$VID/$V: seq 3, witnessed up to 3 by $SID:3"
expect 0 "$T" verify "$W/s"
expect 0 "$T" status "$W/d"
has 'evidence: none'

# The village's key holder rewrites its own history.
"$F" rewrite "$W/v" 2 orig-2 FAKE-2 || bad "forge rewrite"
sq v "UPDATE cases SET title = 'FAKE-2' WHERE id = 'v-2'"
# An auditor takes the rewritten stream straight from the village.
serve a --listen 127.0.0.1:$PA
wait_port $PA
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PA
kill $PID_a; wait $PID_a 2>/dev/null

# The street sees it at the next sync: not in sync, evidence recorded.
expect 1 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has 'not in sync'
wait_for 10 test "$(sq s "SELECT count(*) FROM evidence WHERE origin = '$VID' AND seq = 3 AND how = 'txn'")" = 1 && ok ||
	bad "street recorded no txn evidence: $(sq s "SELECT how, seq FROM evidence")"
eq "$(sq s "SELECT count(*) FROM evidence WHERE origin = '$VID' AND how = 'vv' AND held = '$HEAD3'")" 1 "street recorded the VV hash"
grep -q "equivocat" "$W/s.log" && ok || bad "street log does not name the equivocation"

# The evidence reaches the district, which checks both bodies itself.
wait_for 15 test "$(sq d "SELECT count(*) FROM evidence WHERE origin = '$VID' AND seen_by = '$SID'")" -ge 2 && ok ||
	bad "evidence did not reach the district: $(sq d "SELECT how, seen_by FROM evidence")"
expect 0 "$T" status "$W/d"
has "evidence: [0-9]+ records of equivocation"
has "$VID/$V seq 3: .*by txn.*2 of 2 bodies signed"
expect 0 "$T" status "$W/d" --json
has '"evidence": ?\['
has '"how": ?"txn"'
expect 1 "$T" verify "$W/d"
has "equivocation: stream $VID/$V seq 3"
has "2 of 2 bodies signed by the origin"
# The district's own copy is the original: the receipt agrees with it.
hasnt "receipt by"

# A bundle of the rewritten stream, carried straight to the district:
# the import quarantines the village's other txns and, since the village
# signed them, records evidence of its own.
DID=$(sq d "SELECT value FROM ts_meta WHERE key = 'node_id'")
expect 0 "$T" bundle export "$W/v" --for gangzha --out "$W/rw.tsb" --unsealed
expect 0 "$T" bundle import "$W/d" "$W/rw.tsb"
has 'quarantined [1-9]'
# (seq 2 and 3 were both rewritten; the bundle's writer is the peer)
eq "$(sq d "SELECT count(*) FROM evidence WHERE origin = '$VID' AND seen_by = '$DID' AND how = 'txn' AND body_b IS NOT NULL AND peer = '$VID'")" 2 "the district's own evidence from the bundle"

# The auditor holds the rewritten history: the street's receipt, relayed
# by the district, contradicts it.
serve a --listen 127.0.0.1:$PA
wait_port $PA
"$T" sync "$W/d" --peer 127.0.0.1:$PA >/dev/null 2>&1
kill $PID_a; wait $PID_a 2>/dev/null
expect 1 "$T" verify "$W/a"
has "receipt by $SID: stream $VID/$V seq 3 had head ${HEAD3:0:12}"
expect 1 "$T" verify "$W/a" --receipts
has "$VID/$V: seq 3, witnessed up to 0.*1 receipts contradict"
finish
