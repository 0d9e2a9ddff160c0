#!/usr/bin/env bash
# verify catches tampering with a replica: flipped bytes in a stored txn,
# a removed txn (gap), rows edited, added or removed behind the node, and
# every engine table and schema object edited with sqlite3 behind it
# (docs/data-model.md, "What verify checks").
source "$(dirname "$0")/lib.sh"
node v gangzha/qinzao/feiqiao
for i in 1 2 3 4 5; do
	"$T" sql "$W/v" "INSERT INTO cases(id, scope, title, status) VALUES('c$i', 'gangzha/qinzao/feiqiao', '案件$i', 'registered')" >/dev/null
done
"$T" sql "$W/v" "UPDATE cases SET status='resolved' WHERE id='c2'" >/dev/null
expect 0 "$T" verify "$W/v"
has 'verified: 1 streams, 6 txns, 5 rows'
good=$("$T" digest "$W/v")
id=$("$T" status "$W/v" --json | sed 's/.*"node_id":"\([0-9a-f]*\)".*/\1/')

# A byte flipped inside a stored txn names the stream and seq.
cp -r "$W/v" "$W/a"
flip_log_byte a 3 40
expect 1 "$T" verify "$W/a"
has "FAULT stream $id/gangzha/qinzao/feiqiao seq 3: stored bytes were altered"
has 'seq 4: does not link to seq 3'

# A forged signature (body intact) is caught too.
cp -r "$W/v" "$W/s"
sqlite3 "$W/s/replica.db" "UPDATE ts_log SET sig = zeroblob(64) WHERE (k & 1099511627775) = 5"
expect 1 "$T" verify "$W/s"
has 'seq 5: signature does not verify'

# A removed txn is a gap.
cp -r "$W/v" "$W/g"
sqlite3 "$W/g/replica.db" "DELETE FROM ts_log WHERE (k & 1099511627775) = 2"
expect 1 "$T" verify "$W/g"
has 'seq 2..2 missing \(gap\)'

# A row edited, added or deleted directly in replica.db is named.
cp -r "$W/v" "$W/e"
sqlite3 "$W/e/replica.db" "UPDATE cases SET title='改过' WHERE id='c4'"
expect 1 "$T" verify "$W/e"
has 'FAULT row cases/c4'
hasnt 'FAULT row cases/c3'
cp -r "$W/v" "$W/x"
sqlite3 "$W/x/replica.db" "INSERT INTO cases(id, scope) VALUES('ghost', 'gangzha/qinzao/feiqiao'); DELETE FROM cases WHERE id='c1'"
expect 1 "$T" verify "$W/x"
has 'FAULT row cases/ghost'
has 'FAULT row cases/c1'

# Copies the good replica to $W/NAME, runs SQL on it with sqlite3 behind
# the node's back, and runs verify, which must fail.
tamper() {
	rm -rf "$W/$1"
	cp -r "${3:-$W/v}" "$W/$1"
	sqlite3 "$W/$1/replica.db" "$2" || bad "sqlite3 refused: $2"
	expect 1 "$T" verify "$W/$1"
}
S=gangzha/qinzao/feiqiao

# The engine's columns that only restate the body: ts_log.hlc and the
# stream head's hlc.
tamper lh "UPDATE ts_log SET hlc = hlc + 1 WHERE (k & 1099511627775) = 3"
has "FAULT stream $id/$S seq 3: ts_log.hlc [0-9]+ is not the body's HLC"
tamper sh "UPDATE ts_streams SET hlc = hlc - 1"
has "FAULT stream $id/$S: head hlc [0-9]+ is not seq 6's HLC"

# ts_meta and ts_certs against node.crt and the certificates they store.
tamper m "UPDATE ts_meta SET value = 'gangzha' WHERE key = 'scope'"
has "FAULT ts_meta.scope is 'gangzha', but node.crt says '$S'"
tamper c "UPDATE ts_certs SET scope = 'gangzha', role = 'auditor'"
has "FAULT certificate of node $id: ts_certs says scope gangzha, role auditor; the certificate says scope $S, role office"
"$T" ca init "$W/ca2" --district gangzha >/dev/null
"$T" ca issue "$W/ca2" --scope gangzha --role office --out "$W/rogue" >/dev/null
rid=$(openssl x509 -in "$W/rogue/node.crt" -noout -subject | sed 's/.*CN *= *\([0-9a-f]\{16\}\).*/\1/')
tamper c2 "INSERT INTO ts_certs VALUES($((16#$rid)), 'gangzha', 'office', readfile('$W/rogue/node.crt'))"
has "FAULT certificate of node $rid: not signed by the district CA"

# A deleted row keeps its last values; they are checked like the table.
cp -r "$W/v" "$W/d"
"$T" sql "$W/d" "DELETE FROM cases WHERE id = 'c5'" >/dev/null
expect 0 "$T" verify "$W/d"
tamper d1 "UPDATE ts_ver SET dead = CAST(replace(CAST(dead AS TEXT), '案件5', '改过5') AS BLOB) WHERE id = 'c5'" "$W/d"
has "FAULT row cases/c5: the tombstone's title is not what the log says"
tamper d2 "UPDATE ts_ver SET dead = NULL WHERE id = 'c5'" "$W/d"
has "FAULT row cases/c5: the log says it is deleted, but no tombstone is kept"

# A conflict's kept value, and a pending overwrite no txn names.
node st gangzha/qinzao
cp -r "$W/v" "$W/k"
PS=$(free_port)
serve st --listen 127.0.0.1:$PS
wait_port $PS
expect 0 "$T" sync "$W/k" --peer 127.0.0.1:$PS
"$T" sql "$W/k" "UPDATE cases SET title = '村里改' WHERE id = 'c3'" >/dev/null
"$T" sql "$W/st" "UPDATE cases SET title = '街道改' WHERE id = 'c3'" >/dev/null
expect 0 "$T" sync "$W/k" --peer 127.0.0.1:$PS
expect 0 "$T" conflicts "$W/k" list
has '^1 open conflict$'
expect 0 "$T" verify "$W/k"
tamper k1 "UPDATE ts_heads SET val = '改过'" "$W/k"
has "FAULT row cases/c3 column title: a conflict's kept value is not the value its txn wrote"
tamper k2 "INSERT INTO ts_over VALUES((SELECT tid FROM ts_tables WHERE name = 'cases'), 'c1', 3, 1, 1)"
has "FAULT row cases/c1 column title: a pending overwrite is listed that no txn in the log names"

# The quarantine never holds a body of a scope this node may not see.
node o gangzha/qinzao/xinqiao
"$T" sql "$W/o" "INSERT INTO cases(id, scope, title) VALUES('x1', 'gangzha/qinzao/xinqiao', '别村')" >/dev/null
tamper qv "ATTACH '$W/o/replica.db' AS o; INSERT INTO ts_quarantine(at, peer, origin, scope, seq, reason, body, sig) SELECT 0, 'x', NULL, NULL, NULL, 'txn body is malformed', body, sig FROM o.ts_log"
has 'FAULT quarantine #1: holds the body of a txn of a scope this node may not see'
tamper qs "INSERT INTO ts_quarantine(at, peer, origin, scope, seq, reason, body) VALUES(0, 'x', 1, 'gangzha/qinzao/xinqiao', 1, 'scope not visible to this node', x'00')"
has 'FAULT quarantine #1: holds the body of a txn of scope gangzha/qinzao/xinqiao, which this node may not see'

# Schema objects: the records layer's triggers and indexes must be
# exactly what it declares; anything else is named.
tamper t1 'DROP TRIGGER "ts_chk_disputes_ins"'
has 'FAULT schema: trigger ts_chk_disputes_ins is missing'
tamper t2 'DROP TRIGGER "ts_chk_disputes_upd"; CREATE TRIGGER "ts_chk_disputes_upd" BEFORE UPDATE ON "disputes" WHEN ts_check() BEGIN SELECT 1; END'
has 'FAULT schema: trigger ts_chk_disputes_upd on disputes is not what tiersync makes'
tamper t3 "CREATE TRIGGER sneak AFTER INSERT ON cases BEGIN UPDATE ts_meta SET value = 'x' WHERE 0; END"
has 'FAULT schema: trigger sneak on cases was not made by tiersync'
tamper t4 "CREATE VIEW open_cases AS SELECT * FROM cases; CREATE INDEX mine ON cases(title); CREATE TABLE ts_extra(x)"
has 'FAULT schema: view open_cases was not made by tiersync'
has 'FAULT schema: index mine on cases was not made by tiersync'
has 'FAULT schema: table ts_extra is not one of the engine'
tamper t5 'DROP INDEX "ts_ix_disputes_date"; CREATE INDEX "ts_ix_disputes_date" ON "disputes"("closed")'
has 'FAULT schema: index ts_ix_disputes_date on disputes is not what tiersync makes'
# A user's own local table is allowed.
cp -r "$W/v" "$W/l"
sqlite3 "$W/l/replica.db" "CREATE TABLE my_notes(x)"
expect 0 "$T" verify "$W/l"

# The original is untouched by all this.
expect 0 "$T" verify "$W/v"
eq "$("$T" digest "$W/v")" "$good" "digest stable"
finish
