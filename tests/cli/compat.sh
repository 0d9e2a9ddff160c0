#!/usr/bin/env bash
# compat.sh TIERSYNC: a district where the previous release and this one
# run side by side (docs/operations.md, "Upgrading a district").
#
# The previous release is built from this repository's own history: a git
# worktree at the commit in tests/compat/previous-release, built once per
# build tree (beside TIERSYNC, in compat-previous/).  Then:
#   street s1 (new) with village v1 (old), street s2 (old) with village v2
#   (new), district d (old, upgraded in place half way):
#   - old village under new street under old district, and the reverse
#     (new village under old street under new district) link and sync;
#   - records written at a new village (tables release 0.1.0 does not
#     know) pass through the old street and the old district, which keep
#     and relay them, and arrive complete;
#   - a conflict between old and new nodes is kept on both and settled;
#   - an old node upgraded in place applies what it held (backup first);
#   - bundles both ways (unsealed: release 0.1.0 does not read sealed);
#   - at the end, every node upgraded: digests agree at every level and
#     verify is clean everywhere.
# Prints "SKIP: ..." (ctest skips) when the history is not in this clone.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
rel_file="$top/tests/compat/previous-release"
prev=$(head -n1 "$rel_file" | tr -d '[:space:]')
if ! git -C "$top" cat-file -e "$prev^{commit}" 2>/dev/null; then
	echo "SKIP: the previous release ($prev, tests/compat/previous-release)" \
		"is not in this clone's history (a shallow clone or an export);" \
		"fetch it (git fetch --unshallow) to run the compatibility test"
	exit 0
fi

# The previous release, built once per build tree.
cache="$(cd "$(dirname "$T")" && pwd)/compat-previous"
O="$cache/build/tiersync"
if [ ! -x "$O" ] || [ "$(cat "$cache/commit" 2>/dev/null)" != "$prev" ]; then
	rm -rf "$cache"
	mkdir -p "$cache"
	git -C "$top" worktree add --detach "$W/prev-src" "$prev" >/dev/null 2>&1 ||
		{ bad "cannot make a worktree at $prev"; finish; exit 1; }
	if cmake -S "$W/prev-src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release \
		-DTSYNC_SANITIZE=OFF >"$W/prev-build.log" 2>&1 &&
		cmake --build "$cache/build" -j "$(nproc)" --target tiersync \
			>>"$W/prev-build.log" 2>&1; then
		echo "$prev" >"$cache/commit"
	else
		sed 's/^/    /' "$W/prev-build.log" | tail -20 >&2
		bad "cannot build the previous release $prev"
	fi
	git -C "$top" worktree remove --force "$W/prev-src" >/dev/null 2>&1 ||
		git -C "$top" worktree prune
	[ -x "$O" ] || { finish; exit 1; }
fi
N=$T
expect 0 "$O" version # release 0.1.0's binary calls itself 0.3.0 (CHANGELOG.md)
oldver=$(cat "$W/out")
expect 0 "$N" version
has "protocol 2, schema 3"
echo "previous release: $oldver; this one: $(cat "$W/out")"

# bin NODE: the binary a node runs now.
declare -A BIN
mk() { # mk NAME SCOPE BIN
	"$N" ca issue "$W/ca" --scope "$2" --out "$W/$1" >/dev/null &&
		"$3" init "$W/$1" >/dev/null || bad "cannot make $1"
	BIN[$1]=$3
}
declare -A PORT
run() { # run NAME: serve NAME with its binary on its port
	"${BIN[$1]}" serve "$W/$1" --listen "127.0.0.1:${PORT[$1]}" >>"$W/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS+=($!)
	wait_port "${PORT[$1]}"
}
halt() { local p; p=$(eval echo "\$PID_$1"); kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
sync_up() { # sync_up CHILD PARENT: the child syncs with its parent
	expect 0 "${BIN[$1]}" sync "$W/$1" --peer "127.0.0.1:${PORT[$2]}"
}
round() { # two rounds up and down the tree
	for _ in 1 2; do
		sync_up v1 s1; sync_up v2 s2; sync_up s1 d; sync_up s2 d
	done
	sync_up v1 s1; sync_up v2 s2
}
dig() { "${BIN[$1]}" digest "$W/$1" --scope "$2" 2>/dev/null | tail -1; }
"$N" ca init "$W/ca" --district gangzha >/dev/null
mk d gangzha "$O"
mk s1 gangzha/s1 "$N"
mk v1 gangzha/s1/v1 "$O"
mk s2 gangzha/s2 "$O"
mk v2 gangzha/s2/v2 "$N"
for x in d s1 s2; do PORT[$x]=$(free_port); run $x; done

# Work at both kinds of village.
expect 0 "$O" sql "$W/v1" "INSERT INTO cases(id, scope, title, status) VALUES('c1', 'gangzha/s1/v1', '旧版登记', 'open')"
expect 0 "$N" dispute add "$W/v2" --title "邻里漏水" --category neighbour --source walkin \
	--parties "王五、李四" --risk low --lead judicial --opened 2026-11-30 --by 张三
has "recorded"
round
# Old district, new street: the old village's case arrived.
eq "$("$O" sql "$W/d" "SELECT title FROM cases WHERE id = 'c1'" | tail -1)" "旧版登记" "old village's case at the old district"
eq "$("$N" sql "$W/s1" "SELECT title FROM cases WHERE id = 'c1'" | tail -1)" "旧版登记" "old village's case at the new street"
# New village, old street: the street and the district hold the txn
# but have no table for it.
eq "$("$O" sql "$W/s2" "SELECT count(*) FROM ts_log" | tail -1)" "1" "old street holds the new village's txn"
expect 1 "$O" sql "$W/d" "SELECT count(*) FROM disputes"
grep -q "runs release 0.1.0" "$W/s1.log" && ok || bad "the new street does not log the old village's release"

# A conflict across versions: the new street and the old village edit
# the old village's case at once.
expect 0 "$O" sql "$W/v1" "UPDATE cases SET status = 'closed' WHERE id = 'c1'"
expect 0 "$N" sql "$W/s1" "UPDATE cases SET status = 'referred' WHERE id = 'c1'"
round
expect 0 "$O" conflicts "$W/v1" list
has "c1"
expect 0 "$N" conflicts "$W/s1" list --json
has '"c1"'
cid=$("$N" conflicts "$W/s1" list --json | grep -oE '"id": *"[0-9a-f]+"' | head -1 | grep -oE '[0-9a-f]{6,}')
expect 0 "$N" conflicts "$W/s1" resolve "$cid" --keep mine
round
eq "$("$O" sql "$W/v1" "SELECT status FROM cases WHERE id = 'c1'" | tail -1)" "referred" "the settled value at the old village"
expect 0 "$O" conflicts "$W/v1" list
hasnt "c1"

# The district is upgraded in place: it applies what it held.
halt d
BIN[d]=$N
expect 0 "$N" dispute list "$W/d"
has "邻里漏水"
[ -f "$W/d/replica.db.schema1-backup" ] && ok || bad "no backup before the district's migration"
expect 0 "$N" verify "$W/d"
run d
# New village under old street under new district: a new record passes
# the old street and arrives complete.
expect 0 "$N" dispute add "$W/v2" --title "宅基地边界" --category land --source grid \
	--parties "赵六、钱七" --risk medium --lead judicial --opened 2026-12-01 --by 张三
round
expect 0 "$N" dispute show "$W/d" "v22026-002" --json
has '"赵六"'
has '"钱七"'
has '"risk": "medium"'
eq "$(dig d gangzha/s2/v2)" "$(dig v2 gangzha/s2/v2)" "the new village's digest at the new district (through the old street)"

# Bundles both ways, unsealed (the previous release reads no sealed one).
expect 0 "$N" sql "$W/v2" "INSERT INTO cases(id, scope, title) VALUES('c2', 'gangzha/s2/v2', '离线带去')"
expect 0 "$N" bundle export "$W/v2" --for gangzha/s2 --unsealed --out "$W/up.tsb"
expect 0 "$O" bundle import "$W/s2" "$W/up.tsb"
eq "$("$O" sql "$W/s2" "SELECT title FROM cases WHERE id = 'c2'" | tail -1)" "离线带去" "a new node's bundle at an old street"
expect 0 "$O" sql "$W/s2" "INSERT INTO cases(id, scope, title) VALUES('c3', 'gangzha/s2/v2', '街道下发')"
expect 0 "$O" bundle export "$W/s2" --for gangzha/s2/v2 --out "$W/down.tsb"
expect 0 "$N" bundle import "$W/v2" "$W/down.tsb"
eq "$("$N" sql "$W/v2" "SELECT title FROM cases WHERE id = 'c3'" | tail -1)" "街道下发" "an old street's bundle at a new village"

# Everyone upgraded in place: digests agree at every level, verify clean.
halt s2; BIN[s2]=$N; run s2
BIN[v1]=$N
round
expect 0 "$N" dispute list "$W/s2"
has "宅基地边界"
for x in d s1 s2 v1 v2; do
	expect 0 "$N" verify "$W/$x"
	has "no faults"
	eq "$("$N" sql "$W/$x" "SELECT count(*) FROM ts_later" | tail -1)" "0" "$x keeps nothing for later"
done
for sc in gangzha/s1 gangzha/s2; do
	st=${sc#gangzha/}
	eq "$(dig d $sc)" "$(dig $st $sc)" "digest of $sc at the district and the street"
done
eq "$(dig d gangzha/s1/v1)" "$(dig v1 gangzha/s1/v1)" "digest of v1"
eq "$(dig s2 gangzha/s2/v2)" "$(dig v2 gangzha/s2/v2)" "digest of v2 at its street"
# A downgrade is refused: the previous release on an upgraded replica
# (release 0.1.0 does not check; this release refuses a newer schema).
expect 0 sqlite3 "$W/v1/replica.db" "UPDATE ts_meta SET value = '9' WHERE key = 'schema_version'"
expect 1 "$N" status "$W/v1"
has "schema version 9.*run the newer release"
finish
