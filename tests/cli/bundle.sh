#!/usr/bin/env bash
# Bundles: export what a scope may see, import through the same checks,
# idempotent, truncated and corrupted files keep every good batch, --since.
source "$(dirname "$0")/lib.sh"
node v gangzha/qinzao/feiqiao
node s gangzha/qinzao
node s2 gangzha/qinzao
node v2 gangzha/qinzao/tangzha
V=gangzha/qinzao/feiqiao

# Ten large txns: several 1 MiB batches.
for i in $(seq 10); do
	"$T" sql "$W/v" "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE x < 1500)
	  INSERT INTO cases(id, scope, title, notes) SELECT 'b$i-' || x, '$V', '宅基地纠纷 ' || x, hex(randomblob(60)) FROM k" >/dev/null
done
expect 0 "$T" bundle export "$W/v" --for gangzha/qinzao --out "$W/all.tsb"
has 'wrote 10 txns for gangzha/qinzao'
[ -e "$W/all.tsb.tmp" ] && bad "temporary file left behind" || ok

expect 0 "$T" bundle import "$W/s" "$W/all.tsb"
has 'read 10 txns: applied 10, already held 0, quarantined 0'
eq "$("$T" digest "$W/s" --scope $V)" "$("$T" digest "$W/v" --scope $V)" "digest after import"
expect 0 "$T" bundle import "$W/s" "$W/all.tsb"
has 'applied 0, already held 10'
expect 0 "$T" verify "$W/s"

# Truncated: the complete batches before the cut are kept.
size=$(stat -c %s "$W/all.tsb")
head -c $((size * 6 / 10)) "$W/all.tsb" >"$W/cut.tsb"
expect 1 "$T" bundle import "$W/s2" "$W/cut.tsb"
has 'bundle truncated at byte [0-9]+ of'
has 'were applied and kept'
got=$(rows s2 "1")
[ "$got" -gt 0 ] && [ "$got" -lt 15000 ] && ok || bad "truncated import kept $got rows"
expect 0 "$T" verify "$W/s2"
expect 0 "$T" bundle import "$W/s2" "$W/all.tsb"
eq "$(rows s2 "1")" 15000 "full import after a truncated one"

# Corrupted length header of the third frame: named by offset.
cp "$W/all.tsb" "$W/bad.tsb"
off=$(( $(od -An -tu1 -j0 -N4 "$W/all.tsb" | awk '{print $1*16777216+$2*65536+$3*256+$4}') + 4 ))
next=$(od -An -tu1 -j$off -N4 "$W/all.tsb" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
third=$((off + 4 + next))
printf '\xff\xff\xff\xff' | dd of="$W/bad.tsb" bs=1 seek=$third conv=notrunc status=none
node s3 gangzha/qinzao
expect 1 "$T" bundle import "$W/s3" "$W/bad.tsb"
has "corrupt frame at byte $third"
expect 0 "$T" verify "$W/s3"

# A flipped byte inside a txn: that txn and the rest of its stream are
# quarantined, nothing else is lost.
cp "$W/all.tsb" "$W/flip.tsb"
b=$(od -An -tu1 -j$((third + 4000)) -N1 "$W/flip.tsb" | tr -d ' ')
printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$W/flip.tsb" bs=1 seek=$((third + 4000)) conv=notrunc status=none
node s4 gangzha/qinzao
"$T" bundle import "$W/s4" "$W/flip.tsb" >"$W/out" 2>&1
has 'quarantined [1-9]'
expect 0 "$T" verify "$W/s4"
expect 0 "$T" status "$W/s4"
has 'quarantined [1-9]'

# --since: only what the earlier bundle did not carry.
"$T" sql "$W/v" "INSERT INTO cases(id, scope, title) VALUES('late-1', '$V', '补录')" >/dev/null
"$T" sql "$W/v" "UPDATE cases SET status = 'resolved' WHERE id = 'b1-1'" >/dev/null
expect 0 "$T" bundle export "$W/v" --for gangzha/qinzao --out "$W/next.tsb" --since "$W/all.tsb"
has 'wrote 2 txns'
expect 0 "$T" bundle import "$W/s" "$W/next.tsb"
has 'applied 2'
eq "$("$T" digest "$W/s" --scope $V)" "$("$T" digest "$W/v" --scope $V)" "digest after --since"
expect 1 "$T" bundle export "$W/v" --for gangzha/qinzao --out "$W/x.tsb" --since "$W/cut.tsb"
has 'not a complete bundle'

# Visibility: a bundle for tangzha carries nothing of feiqiao; a bundle
# made for the street is refused txn by txn at a village.
expect 0 "$T" bundle export "$W/s" --for gangzha/qinzao/tangzha --out "$W/t.tsb"
has 'wrote 0 txns'
expect 0 "$T" bundle import "$W/v2" "$W/all.tsb"
has 'applied 0, already held 0, quarantined 10'
eq "$(rows v2 "1")" 0 "village 2 holds none of feiqiao's rows"
expect 0 "$T" verify "$W/v2"

expect 2 "$T" bundle export "$W/v" --out x
expect 1 "$T" bundle import "$W/v" "$W/nonexistent"
has 'cannot open'
# A bundle whose txn announces 134 million msgpack elements is refused
# before msgpack-c allocates for them (found by fuzz_bundle), within a
# 1 GB address-space limit.
top=$(cd "$(dirname "$0")/../.." && pwd)
# (ASan reserves terabytes of shadow address space: no limit there; it
# reports a huge allocation by itself.)
lim=1000000
ldd "$T" 2>/dev/null | grep -q libasan && lim=unlimited
(ulimit -v $lim; "$T" bundle import "$W/s" "$top/tests/fuzz/corpus/bundle/txn-count-oom") >"$W/out" 2>&1
[ $? -eq 1 ] && ok || bad "the oversized-count bundle was not refused cleanly"
has 'corrupt frame at byte 24'
finish
