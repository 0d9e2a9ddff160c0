#!/usr/bin/env bash
# verify catches tampering with a replica: flipped bytes in a stored txn,
# a removed txn (gap), rows edited, added or removed behind the node.
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

# The original is untouched by all this.
expect 0 "$T" verify "$W/v"
eq "$("$T" digest "$W/v")" "$good" "digest stable"
finish
