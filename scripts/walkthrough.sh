#!/usr/bin/env bash
# The walk-through itself: tiersync BINARY [DIR].
set -euo pipefail
T=$1
dir=${2:-}
[ -n "$dir" ] || dir=$(mktemp -d /tmp/tiersync-demo.XXXXXX)
mkdir -p "$dir"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ tiersync %s\n' "$*"; "$T" "$@"; }

say "The district creates its certificate authority"
run ca init "$dir/ca" --district gangzha
say "It issues an identity to the Feiqiao village work room"
run ca issue "$dir/ca" --scope gangzha/qinzao/feiqiao --out "$dir/feiqiao"
run init "$dir/feiqiao" --parent 127.0.0.1:7402
say "The village records a dispute and a mediation, offline"
run sql "$dir/feiqiao" "INSERT INTO cases(id, scope, category, title, parties, status, opened_at)
  VALUES('fq-2016-001', 'gangzha/qinzao/feiqiao', 'neighbours', '宅基地边界纠纷',
         '张某; 李某', 'registered', '2016-03-02')"
run sql "$dir/feiqiao" "UPDATE cases SET status = 'mediating', notes = '司法所、派出所、律师联合调解' WHERE id = 'fq-2016-001'"
run sql "$dir/feiqiao" "INSERT INTO cases(id, scope, category, title, status, opened_at)
  VALUES('fq-2016-002', 'gangzha/qinzao/feiqiao', 'family', '赡养纠纷', 'registered', '2016-04-11')"
say "A write outside the village's scope is refused, and nothing is written"
run sql "$dir/feiqiao" "INSERT INTO cases(id, scope, title) VALUES('x', 'gangzha/qinzao/tangzha', 'not ours')" || true
say "Reading through the node"
run sql "$dir/feiqiao" "SELECT id, category, title, status FROM cases ORDER BY id"
say "The signed, hash-chained log, newest first"
run log "$dir/feiqiao"
say "Status"
run status "$dir/feiqiao"
say "Digest of the visible state (compare it with any other node)"
run digest "$dir/feiqiao"
say "The auditor's check"
run verify "$dir/feiqiao"
say "Someone edits replica.db behind the node's back; verify names the row"
sqlite3 "$dir/feiqiao/replica.db" "UPDATE cases SET status = 'resolved' WHERE id = 'fq-2016-002'"
run verify "$dir/feiqiao" || echo "(verify exited $? as it should)"
say "Done: the node lives in $dir/feiqiao"
