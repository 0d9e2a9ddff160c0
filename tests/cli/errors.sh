#!/usr/bin/env bash
# Bad input gets a clear error, a non-zero exit, and changes nothing.
source "$(dirname "$0")/lib.sh"

# Command line.
expect 2 "$T"
expect 2 "$T" frobnicate
has "unknown command 'frobnicate'"
expect 2 "$T" ca init "$W/ca"
has 'district are needed'
expect 1 "$T" ca init "$W/ca" --district 'Gang Zha'
has 'one lower-case word'
expect 0 "$T" ca init "$W/ca" --district gangzha
expect 1 "$T" ca init "$W/ca" --district gangzha
has 'already holds a CA'
expect 2 "$T" ca issue "$W/ca" --scope gangzha/a --out "$W/n" --days x
expect 1 "$T" ca issue "$W/ca" --scope gangzha/a --role boss --out "$W/n"
has "role 'boss'"
expect 1 "$T" ca issue "$W/ca" --scope other/a --out "$W/n"
has 'not inside district gangzha'
expect 1 "$T" ca issue "$W/ca" --scope 'gangzha//a' --out "$W/n"
has 'not a scope path'

# Identity files: keys are 0600 and never printed.
expect 0 "$T" ca issue "$W/ca" --scope gangzha/qinzao/feiqiao --out "$W/v"
eq "$(stat -c %a "$W/v/node.key")" 600 "node key mode"
eq "$(stat -c %a "$W/ca/ca.key")" 600 "ca key mode"
expect 1 "$T" ca issue "$W/ca" --scope gangzha/qinzao/feiqiao --out "$W/v"
has 'already holds a node identity'

# init: bad address, uninitialised node, double init changes nothing.
expect 1 "$T" init "$W/v" --parent nohost
has 'HOST:PORT'
[ -e "$W/v/replica.db" ] && bad "replica created despite bad --parent" || ok
expect 1 "$T" status "$W/v"
has 'not an initialised node'
expect 1 "$T" init "$W/empty"
has 'has no node identity'
expect 0 "$T" init "$W/v" --parent 127.0.0.1:7402 --listen 127.0.0.1:7403
has 'initialised'
grep -q '^parent = 127.0.0.1:7402$' "$W/v/tiersync.conf" && ok || bad "conf lacks parent"
"$T" sql "$W/v" "INSERT INTO cases(id, scope) VALUES('a', 'gangzha/qinzao/feiqiao')" >/dev/null
sum1=$(md5sum "$W/v/tiersync.conf" | cut -d' ' -f1)
d1=$("$T" digest "$W/v")
expect 1 "$T" init "$W/v"
has 'already initialised; nothing changed'
eq "$(md5sum "$W/v/tiersync.conf" | cut -d' ' -f1)" "$sum1" "conf unchanged"
eq "$("$T" digest "$W/v")" "$d1" "replica unchanged"

# Writes that must be refused, each leaving nothing behind.
expect 1 "$T" sql "$W/v" "INSERT INTO cases(id, scope) VALUES('b', 'gangzha/qinzao/other')"
has 'outside this node'
expect 1 "$T" sql "$W/v" "INSERT INTO cases(id, scope) VALUES('c', 'gangzha/qinzao/feiqiao'); INSERT INTO cases(id, scope) VALUES('d', 'gangzha')"
expect 1 "$T" sql "$W/v" "INSERT INTO cases(scope) VALUES('gangzha/qinzao/feiqiao')"
expect 1 "$T" sql "$W/v" "INSERT INTO cases(id) VALUES('e')"
expect 1 "$T" sql "$W/v" "INSERT INTO cases(id, scope) VALUES('f', 'gangzha/qinzao/feiqiao'); SELEKT 1"
has 'syntax error'
expect 1 "$T" sql "$W/v" "DELETE FROM ts_log"
expect 1 "$T" sql "$W/v" "DROP TABLE cases"
expect 1 "$T" sql "$W/v" "UPDATE cases SET scope='gangzha/qinzao/feiqiao/x'"
has 'cannot change'
# Pragmas that could alter the schema or the replica's integrity, and
# ATTACH, are refused; reading a pragma is fine.
expect 1 "$T" sql "$W/v" "PRAGMA writable_schema=ON; UPDATE sqlite_master SET sql = sql WHERE 0"
has 'PRAGMA writable_schema is refused'
expect 1 "$T" sql "$W/v" "SELECT 1; /* hidden */ EXPLAIN PRAGMA main.\"Writable_Schema\" = 1"
has 'PRAGMA writable_schema is refused'
expect 1 "$T" sql "$W/v" "PRAGMA trusted_schema = 1"
has 'PRAGMA trusted_schema is refused'
expect 1 "$T" sql "$W/v" "PRAGMA journal_mode = OFF"
has 'PRAGMA journal_mode is refused'
expect 1 "$T" sql "$W/v" "ATTACH '$W/v/replica.db' AS r2; INSERT INTO r2.cases(id, scope) VALUES('g', 'gangzha/qinzao/feiqiao')"
has 'ATTACH is refused'
expect 0 "$T" sql "$W/v" "PRAGMA writable_schema; PRAGMA journal_mode"
has '^wal$'
eq "$("$T" digest "$W/v")" "$d1" "refused writes left nothing"
expect 0 "$T" verify "$W/v"
has '1 streams, 1 txns, 1 rows'

# digest --scope takes a scope path; anything else is a bad argument, not
# the digest of nothing.
for s in 'gangzha/qinzao/' 'gangzha//qinzao' '/gangzha' 'Gangzha/qinzao' 'gangzha/村' ''; do
	expect 2 "$T" digest "$W/v" --scope "$s"
	has 'is not a scope path'
done
expect 0 "$T" digest "$W/v" --scope gangzha/qinzao
eq "$(cat "$W/out")" "$d1" "digest of the subtree holding every row"

# tiersync.conf: a broken header, a key outside [node], an unknown key and
# a key given twice are errors naming the file and the line.
cp "$W/v/tiersync.conf" "$W/conf.good"
conf_case() { # LINES... : appended to the good file, then `serve` and `status`
	cp "$W/conf.good" "$W/v/tiersync.conf"
	printf '%s\n' "$@" >>"$W/v/tiersync.conf"
}
nl=$(($(wc -l <"$W/conf.good") + 1))
conf_case '[node'
expect 1 timeout 10 "$T" serve "$W/v"
has "tiersync.conf line $nl: not \[node\]"
conf_case '[nodes]' 'listen = 127.0.0.1:7404'
expect 1 "$T" status "$W/v"
has "tiersync.conf line $((nl + 1)): 'listen' is in \[nodes\]"
conf_case 'lissen = 127.0.0.1:7404'
expect 1 timeout 10 "$T" serve "$W/v"
has "tiersync.conf line $nl: unknown key 'lissen'"
conf_case 'parent = 127.0.0.1:7404'
expect 1 timeout 10 "$T" serve "$W/v"
has "tiersync.conf line $nl: 'parent' is given twice"
cp "$W/conf.good" "$W/v/tiersync.conf"
expect 0 "$T" status "$W/v"

# sql with no SQL argument, or with -, reads the script from standard
# input, past the 128 KiB limit of one argument; still one transaction.
python3 -c '
print("INSERT INTO cases(id, scope, title) VALUES")
print(",\n".join("(\x27bulk-%d\x27, \x27gangzha/qinzao/feiqiao\x27, \x27%s\x27)" % (i, "x" * 40) for i in range(3500)) + ";")
' >"$W/bulk.sql"
[ "$(wc -c <"$W/bulk.sql")" -gt 204800 ] && ok || bad "bulk script under 200 KiB"
expect 0 "$T" sql "$W/v" <"$W/bulk.sql"
eq "$(q v "SELECT count(*) FROM cases WHERE id LIKE 'bulk-%'")" 3500 "bulk rows from stdin"
echo "SELECT count(*) FROM cases WHERE id LIKE 'bulk-%'" | "$T" sql "$W/v" - >"$W/out"
has '^3500$'
printf 'DELETE FROM cases WHERE id = %s;\nSELEKT 1;\n' "'bulk-1'" >"$W/bad.sql"
expect 1 "$T" sql "$W/v" - <"$W/bad.sql"
has 'syntax error.*nothing was written'
eq "$(q v "SELECT count(*) FROM cases WHERE id = 'bulk-1'")" 1 "failed script wrote nothing"
"$T" sql "$W/v" "DELETE FROM cases WHERE id LIKE 'bulk-%'" >/dev/null

# Auditors read and verify; they never write.
expect 0 "$T" ca issue "$W/ca" --scope gangzha --role auditor --out "$W/aud"
expect 0 "$T" init "$W/aud"
expect 1 "$T" sql "$W/aud" "INSERT INTO cases(id, scope) VALUES('z', 'gangzha')"
has 'auditor'
expect 0 "$T" sql "$W/aud" "SELECT count(*) FROM cases"

# A node whose key does not match its certificate refuses to open.
cp "$W/aud/node.key" "$W/v/node.key.other"
mv "$W/v/node.key.other" "$W/v/node.key"
expect 1 "$T" status "$W/v"
has 'does not match'
finish
