# restore.sh - a node restored from an older backup never equivocates.
#
# (1) A village writes, syncs to its street, is backed up, writes and syncs
#     more, and comes back from the backup.  Its heads file knows it is
#     behind: a local write is refused with a message saying to sync; a
#     sync fetches its own tail back from the street; then writes work and
#     the street takes them (no quarantine, digests equal, verify clean).
#     Without the heads file (the whole NODE_DIR restored), the street's VV
#     tells the village the same thing, and so does a bundle's END vv
#     when there is no link at all.
# (2) A restored district has no parent.  Its streets give back what it
#     wrote into their scopes and `gangzha/*`; its own scope `gangzha` is
#     held only by its auditor, which sends a restored office its own txns
#     back.  Until then writes are refused; afterwards nothing is
#     quarantined anywhere and verify is clean everywhere.
. "$(dirname "$0")/lib.sh"

ins() { "$T" sql "$W/$1" "INSERT INTO cases(id, scope, title) VALUES('$2', '$3', '$2')"; }
quarantined() { q "$1" "SELECT count(*) FROM ts_quarantine"; }
backup() { sqlite3 "$W/$1/replica.db" ".backup '$W/$1.bak'"; }
# restore NODE: the backup back in place, -wal and -shm moved aside
restore() {
	rm -f "$W/$1/replica.db-wal" "$W/$1/replica.db-shm"
	cp "$W/$1.bak" "$W/$1/replica.db"
}
digest() { "$T" digest "$W/$1" ${2:+--scope "$2"}; }
verify_clean() { expect 0 "$T" verify "$W/$1"; }

node d gangzha
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
node a gangzha auditor
PD=$(free_port)
PS=$(free_port)
PA=$(free_port)
VS=gangzha/qinzao/feiqiao

# ---- (1) the village -------------------------------------------------
serve s --listen 127.0.0.1:$PS
wait_port $PS
ins v v-1 $VS >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
backup v
ins v v-2 $VS >/dev/null
ins v v-3 $VS >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(rows s "id LIKE 'v-%'")" 3 "the street holds v-1..v-3"
[ -f "$W/v/heads" ] && ok || bad "no heads file after local writes"
has_line() { grep -qE -- "$1" "$2" && ok || { bad "$2 lacks /$1/"; sed 's/^/    /' "$2" >&2; }; }
has_line "^3 [0-9a-f]{64} $VS\$" "$W/v/heads"

restore v
expect 0 "$T" verify "$W/v"
eq "$(rows v "id LIKE 'v-%'")" 1 "the backup holds v-1 only"
expect 1 ins v v-4 $VS
has "restored from an older backup"
has "stream $VS up to seq 1, but the node had reached seq 3"
has "tiersync sync $W/v --peer PARENT:PORT"
eq "$(rows v "id = 'v-4'")" 0 "the refused write wrote nothing"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has "in sync with 127.0.0.1:$PS: sent 0 txns, received 2"
eq "$(rows v "id LIKE 'v-%'")" 3 "the tail came back"
expect 0 ins v v-4 $VS
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has "in sync with 127.0.0.1:$PS: sent 1 txns, received 0"
eq "$(rows s "id = 'v-4'")" 1 "the street took the new write"
eq "$(quarantined v)" 0 "nothing quarantined at the village"
eq "$(quarantined s)" 0 "nothing quarantined at the street"
eq "$(digest v $VS)" "$(digest s $VS)" "village and street digests"
verify_clean v
verify_clean s

# The whole NODE_DIR restored (heads file and all, so the file is as old
# as the replica): the street's VV shows it holds more of the village's
# stream, which the heads file records at once (local writes would wait),
# and the same session fetches it.
backup v
cp "$W/v/heads" "$W/v.heads"
ins v v-5 $VS >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
restore v
cp "$W/v.heads" "$W/v/heads"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has "in sync with 127.0.0.1:$PS: sent 0 txns, received 1"
has_line "^5 - $VS [0-9a-f]{16}\$" "$W/v/heads"
eq "$(rows v "id = 'v-5'")" 1 "v-5 came back"
expect 0 ins v v-6 $VS
has_line "^6 [0-9a-f]{64} $VS\$" "$W/v/heads"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(quarantined s)" 0 "nothing quarantined at the street"

# Restored with no link at all: a bundle from the street tells it too.
# One --since a full bundle carries no txn, only END's vv, which holds
# more of the village's own stream than the village does: the village
# records it and refuses writes; the full bundle brings the tail back.
backup v
cp "$W/v/heads" "$W/v.heads"
ins v v-7 $VS >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
restore v
cp "$W/v.heads" "$W/v/heads"
expect 0 "$T" bundle export "$W/s" --for $VS --out "$W/full.tsb" --unsealed
expect 0 "$T" bundle export "$W/s" --for $VS --out "$W/ends.tsb" --since "$W/full.tsb" --unsealed
has 'wrote 0 txns'
expect 0 "$T" bundle import "$W/v" "$W/ends.tsb"
has_line "^7 - $VS [0-9a-f]{16}\$" "$W/v/heads"
expect 1 ins v v-8 $VS
has "restored from an older backup"
expect 0 "$T" bundle import "$W/v" "$W/full.tsb"
has 'applied 1,'
expect 0 ins v v-8 $VS
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(rows s "id = 'v-8'")" 1 "the street took the write after the bundle"
eq "$(quarantined v)" 0 "nothing quarantined at the village"
eq "$(quarantined s)" 0 "nothing quarantined at the street"

# A file anyone could make: BUNDLE and an END naming the village's own
# stream at seq 1000000, and another head hash at seq 1.  Its END is not
# signed by its writer (or signed with garbage): its heads are not used.
# The village still writes, and records no evidence against itself.
VID=$(q v "SELECT value FROM ts_meta WHERE key = 'node_id'")
for how in unsigned badsig; do
	python3 - "$VID" "$VS" "$W/forged.tsb" $how <<'PY'
import struct, sys
def u(x):
    if x < 128: return bytes([x])
    if x < 2**32: return b'\xce' + struct.pack('>I', x)
    return b'\xcf' + struct.pack('>Q', x)
def s(t):
    b = t.encode()
    return (bytes([0xa0 | len(b)]) if len(b) < 32 else b'\xd9' + bytes([len(b)])) + b
def bn(b): return b'\xc4' + bytes([len(b)]) + b
def arr(items): return bytes([0x90 | len(items)]) + b''.join(items)
def frame(body): return struct.pack('>I', len(body)) + body
vid, scope, out, how = int(sys.argv[1], 16), sys.argv[2], sys.argv[3], sys.argv[4]
bundle = arr([u(11), u(1), u(0xdeadbeefcafef00d), s('gangzha'), u(0), arr([]), u(2), u(3), s('0.2.0')])
end = [u(12), u(0), arr([u(vid), s(scope), u(1), u(vid), s(scope), u(1000000)]),
       arr([bn(b'\x41' * 32), bn(b'\x42' * 32)])]
if how == 'badsig':
    end.append(bn(b'\x00' * 64))
open(out, 'wb').write(frame(bundle) + frame(arr(end)))
PY
	expect 0 "$T" bundle import "$W/v" "$W/forged.tsb"
	has 'read 0 txns'
	has 'is not signed by its writer .*: its heads were not used'
	expect 0 ins v "v-$how" $VS
	eq "$(q v "SELECT count(*) FROM evidence")" 0 "no evidence from a forged END ($how)"
done
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(rows s "id IN ('v-unsigned', 'v-badsig')")" 2 "the street took them"
kill $PID_s; wait $PID_s 2>/dev/null

# ---- (2) the district, which has no parent --------------------------
serve d --listen 127.0.0.1:$PD
serve a --listen 127.0.0.1:$PA
wait_port $PD
wait_port $PA
ins d d-1 gangzha >/dev/null
ins d n-1 'gangzha/*' >/dev/null
ins d ds-1 gangzha/qinzao >/dev/null
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
expect 0 "$T" sync "$W/a" --peer 127.0.0.1:$PD
backup d # online, while serve runs
ins d d-2 gangzha >/dev/null
ins d n-2 'gangzha/*' >/dev/null
ins d ds-2 gangzha/qinzao >/dev/null
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
expect 0 "$T" sync "$W/a" --peer 127.0.0.1:$PD
eq "$(rows a "id IN ('d-2', 'n-2', 'ds-2')")" 3 "the auditor holds the district's newer writes"

kill $PID_d; wait $PID_d 2>/dev/null
restore d
expect 0 "$T" verify "$W/d"
expect 1 ins d d-3 gangzha
has "restored from an older backup"
serve d --listen 127.0.0.1:$PD
wait_port $PD
# The street gives back what the district wrote into its scope and
# gangzha/*; gangzha itself stays behind.
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
eq "$(rows d "id IN ('n-2', 'ds-2')")" 2 "the street gave n-2 and ds-2 back"
expect 1 ins d d-3 gangzha
has "stream gangzha up to seq [0-9]+, but the node had reached seq [0-9]+"
# The auditor gives back the district's own scope.
expect 0 "$T" sync "$W/d" --peer 127.0.0.1:$PA
has "in sync with 127.0.0.1:$PA: sent 0 txns, received [1-9]"
eq "$(rows d "id = 'd-2'")" 1 "the auditor gave d-2 back"
expect 0 ins d d-3 gangzha
expect 0 ins d n-3 'gangzha/*'
expect 0 ins d ds-3 gangzha/qinzao
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PD
has "received [1-9]"
expect 0 "$T" sync "$W/a" --peer 127.0.0.1:$PD
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PD
for x in d s v a; do
	eq "$(quarantined $x)" 0 "nothing quarantined at $x"
	verify_clean $x
done
eq "$(digest d)" "$(digest a)" "district and auditor digests"
eq "$(digest d gangzha/qinzao)" "$(digest s gangzha/qinzao)" "district and street digests of the street"

# An auditor sends an office nothing but the office's own txns: the
# street, syncing with the auditor, gets none of the district's.
ins d ds-4 gangzha/qinzao >/dev/null
expect 0 "$T" sync "$W/a" --peer 127.0.0.1:$PD
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$PA
has "received 0"
eq "$(rows s "id = 'ds-4'")" 0 "the auditor relayed nothing"
finish
