#!/usr/bin/env bash
# A real full disk: the street's node folder is a 3 MiB tmpfs.  The
# street's `serve` takes a live push of 10,000 txns from its village that
# cannot fit: batches fail with a disk-full error and nothing of a failed
# batch is kept; a bulk write at the street fails with the disk-full
# message and writes nothing.  Then the tmpfs grows to 64 MiB (no process
# is restarted) and the push completes by itself.  Next a file fills the
# disk while the village pushes 12,000 live commits: refused again, and
# completed by itself once the file is deleted.  Then the same bulk write
# succeeds, and both replicas pass verify and PRAGMA integrity_check, with
# equal digests of the village scope.
#
#   diskfull.sh TIERSYNC TSYNC_GEN
#
# Needs root (mount); prints SKIP and exits 0 without it.  About 25 s in
# the release build, 50 s under ASan, on 2 cores.
source "$(dirname "$0")/lib.sh"
GEN=${2:?usage: diskfull.sh TIERSYNC TSYNC_GEN}
NV=10000    # village txns, about 6 MB at the street
NV2=12000   # village txns while a file fills the disk the second time
NB=5000     # rows in the street's bulk write, about 3 MB
VS=gangzha/qinzao/feiqiao
MNT="$W/s"
skip() { echo "SKIP: $*"; PASSES=0; FAILS=0; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
command -v sqlite3 >/dev/null || { bad "the sqlite3 shell is missing"; finish; exit; }
mkdir "$MNT"
mount -t tmpfs -o size=3m,mode=0700 tmpfs "$MNT" 2>"$W/out" || skip "cannot mount a tmpfs: $(cat "$W/out")"
# Stop the servers, keep a copy of the street's folder if something
# failed, unmount, then lib.sh's clean-up.
trap 'stop_all
	if mountpoint -q "$MNT"; then
		[ $FAILS -eq 0 ] || cp -a "$MNT" "$W/s.kept"
		umount "$MNT" || umount -l "$MNT"
	fi
	if [ $FAILS -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi' EXIT
t0=$SECONDS

node s gangzha/qinzao
node v $VS
"$GEN" "$W/v" $NV g >/dev/null 2>"$W/gen.log" || bad "tsync_gen at the village"
echo "street on a tmpfs of $(df -k --output=size "$MNT" | tail -1) KiB; $NV village txns written at $((SECONDS - t0)) s"
bulk() { # bulk PREFIX: NB inserts as one `tiersync sql` transaction
	for i in $(seq "$NB"); do
		echo "INSERT INTO cases(id, scope, title) VALUES('$1-$i', '$VS', '批量录入 第$i号');"
	done
}
bulk b >"$W/bulk.sql"

PS=$(free_port)
serve s --listen 127.0.0.1:$PS
wait_port $PS
serve v --parent 127.0.0.1:$PS

# The push fills the disk: the street logs a batch it could not store.
if wait_for 60 grep -q 'cannot store batch.*disk full' "$W/s.log"; then ok; else
	bad "the street never logged a full disk"; tail -5 "$W/s.log" >&2
fi
grep -m1 'cannot store batch' "$W/s.log" | sed 's/^/  street: /'
held=$(rows s "id LIKE 'g-%'")
echo "disk full at $((SECONDS - t0)) s: the street holds $held of $NV; $(df -k --output=avail "$MNT" | tail -1) KiB free"
[ "$held" -lt $NV ] && ok || bad "the street holds every txn on a 3 MiB disk"
# A local write now fails as a whole, with the disk-full message.
own() { sqlite3 "$W/s/replica.db" "SELECT count(*) || ':' || coalesce(sum(seq), 0) FROM ts_streams WHERE printf('%016x', origin) = (SELECT value FROM ts_meta WHERE key = 'node_id')"; }
own0=$(own)
expect 1 "$T" sql "$W/s" - <"$W/bulk.sql"
has 'disk full: free space and retry; nothing was lost\); nothing was written'
eq "$(rows s "id LIKE 'b-%'")" 0 "rows of the failed bulk write"
eq "$(own)" "$own0" "the street's own stream after the failed write"
expect 0 "$T" status "$W/s"
has ', quarantined 0$'
# The street keeps failing batches, not crashing, while the disk stays full.
sleep 2
for n in s v; do eval "kill -0 \$PID_$n" 2>/dev/null && ok || bad "serve $n died on a full disk"; done
[ "$(rows s "id LIKE 'g-%'")" -lt $NV ] && ok || bad "the street held everything on a full disk"

# Free space: the push completes by itself, with the same two servers.
mount -o remount,size=64m "$MNT" || bad "cannot grow the tmpfs"
tf=$SECONDS
if wait_for 90 has_rows s "id LIKE 'g-%'" $NV; then ok; else
	bad "the push did not complete after space was freed: the street holds $(rows s "id LIKE 'g-%'") of $NV"
	tail -5 "$W/s.log" "$W/v.log" >&2
fi
echo "push complete $((SECONDS - tf)) s after space was freed"
for n in s v; do eval "kill -0 \$PID_$n" 2>/dev/null && ok || bad "serve $n is not the one started before the disk filled"; done

# Full again, by a file this time, while the village pushes live commits;
# deleting the file lets the push complete by itself.
nref=$(grep -c 'cannot store batch' "$W/s.log")
ls -l "$MNT"/replica.db* | awk '{ printf "  %s %s\n", $5, $9 }'
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
echo "filler of $(du -k "$MNT/filler" | cut -f1) KiB, $(df -k --output=avail "$MNT" | tail -1) KiB free"
"$GEN" "$W/v" $NV2 h >/dev/null 2>>"$W/gen.log" || bad "tsync_gen at the village, second round"
refused() { [ "$(grep -c 'cannot store batch.*disk full' "$W/s.log")" -gt "$nref" ]; }
if wait_for 60 refused; then ok; else bad "the street never logged the disk full again"; tail -5 "$W/s.log" >&2; fi
held=$(rows s "id LIKE 'h-%'")
echo "disk full again at $((SECONDS - t0)) s: the street holds $held of $NV2"
[ "$held" -lt $NV2 ] && ok || bad "the street holds every txn on a full disk"
rm "$MNT/filler"
tf=$SECONDS
if wait_for 90 has_rows s "id LIKE 'h-%'" $NV2; then ok; else
	bad "the push did not complete after the file was deleted: the street holds $(rows s "id LIKE 'h-%'") of $NV2"
	tail -5 "$W/s.log" "$W/v.log" >&2
fi
echo "push complete $((SECONDS - tf)) s after the file was deleted"
for n in s v; do eval "kill -0 \$PID_$n" 2>/dev/null && ok || bad "serve $n is not the one started before the disk filled"; done
expect 0 "$T" sql "$W/s" - <"$W/bulk.sql"
eq "$(rows s "id LIKE 'b-%'")" $NB "rows of the bulk write once space was freed"
# It travels down live, too.
if wait_for 30 has_rows v "id LIKE 'b-%'" $NB; then ok; else bad "the street's write did not reach the village"; fi

kill "$PID_v"; wait "$PID_v"; eq $? 0 "village serve exit status after SIGTERM"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS --timeout 60
has 'in sync with .*sent 0 txns, received 0$'
eq "$(rows s "id LIKE 'g-%' OR id LIKE 'h-%'")" $((NV + NV2)) "village rows at the street"
kill "$PID_s"; wait "$PID_s"; eq $? 0 "street serve exit status after SIGTERM"
PIDS=()
for n in s v; do
	eq "$(sqlite3 "$W/$n/replica.db" 'PRAGMA integrity_check')" ok "integrity_check at $n"
	expect 0 "$T" verify "$W/$n"
	expect 0 "$T" status "$W/$n"
	has ', conflicts 0, quarantined 0$'
done
eq "$("$T" digest "$W/v" --scope $VS)" "$("$T" digest "$W/s" --scope $VS)" "village scope digest"
if grep -qE 'Sanitizer|runtime error' "$W"/*.log; then bad "sanitizer report in a log"; grep -E -A5 'Sanitizer|runtime error' "$W"/*.log | head -40 >&2; else ok; fi
echo "$(grep -c 'cannot store batch' "$W/s.log") batches refused for the full disk; $((SECONDS - t0)) s"
finish
