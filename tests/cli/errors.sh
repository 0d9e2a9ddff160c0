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
eq "$("$T" digest "$W/v")" "$d1" "refused writes left nothing"
expect 0 "$T" verify "$W/v"
has '1 streams, 1 txns, 1 rows'

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
