#!/usr/bin/env bash
# A whole district on this machine: tiersync BINARY [DIR].
# The district office, two street offices, four village work rooms and the
# district's auditors, each a real `tiersync serve` process over mutual TLS
# on loopback; offline work, a conflict a clerk settles, a USB-stick
# bundle for a village with no link, a revocation, and the audit.
set -euo pipefail
T=$1
dir=${2:-}
[ -n "$dir" ] || dir=$(mktemp -d /tmp/tiersync-district.XXXXXX)
mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ tiersync %s\n' "$*"; "$T" "$@"; }
port() { # a free loopback port
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
}
serve() { # NAME ARGS...
	local name=$1; shift
	"$T" serve "$dir/$name" --quiet "$@" >>"$dir/$name.log" 2>&1 &
	pids+=($!)
	eval "pid_$name=$!"
}
rows() { "$T" sql "$dir/$1" "SELECT count(*) FROM cases${2:+ WHERE $2}" | tail -1; }
wait_rows() { # NODE WHERE COUNT
	for _ in $(seq 200); do [ "$(rows "$1" "$2")" = "$3" ] && return 0; sleep 0.05; done
	echo "(still waiting for $1 to hold $3 rows${2:+ where $2})"; return 1
}

say "The district (gangzha) creates its CA and issues every office an identity"
run ca init "$dir/ca" --district gangzha
declare -A scope=(
	[district]=gangzha [auditor]=gangzha
	[qinzao]=gangzha/qinzao [tangjia]=gangzha/tangjia
	[feiqiao]=gangzha/qinzao/feiqiao [xinqiao]=gangzha/qinzao/xinqiao
	[nanhu]=gangzha/tangjia/nanhu [beihu]=gangzha/tangjia/beihu)
for n in district qinzao tangjia feiqiao xinqiao nanhu beihu; do
	"$T" ca issue "$dir/ca" --scope "${scope[$n]}" --out "$dir/$n" >/dev/null
done
run ca issue "$dir/ca" --scope gangzha --role auditor --out "$dir/auditor"
PD=$(port); PQ=$(port); PT=$(port)
"$T" init "$dir/district" --listen 127.0.0.1:$PD >/dev/null
"$T" init "$dir/qinzao" --listen 127.0.0.1:$PQ --parent 127.0.0.1:$PD >/dev/null
"$T" init "$dir/tangjia" --listen 127.0.0.1:$PT --parent 127.0.0.1:$PD >/dev/null
for v in feiqiao xinqiao; do "$T" init "$dir/$v" --parent 127.0.0.1:$PQ >/dev/null; done
for v in nanhu beihu; do "$T" init "$dir/$v" --parent 127.0.0.1:$PT >/dev/null; done
"$T" init "$dir/auditor" --parent 127.0.0.1:$PD >/dev/null
echo "${#scope[@]} nodes initialised under $dir"

say "Before any link exists, every office works offline"
i=0
for v in feiqiao xinqiao nanhu beihu; do
	for cat in neighbours family labour land; do
		i=$((i + 1))
		"$T" sql "$dir/$v" "INSERT INTO cases(id, scope, category, title, parties, status, opened_at)
		  VALUES('$v-$i', '${scope[$v]}', '$cat', '$v 村 $cat 纠纷 $i', '当事人甲; 当事人乙',
		         '$([ $((i % 3)) = 0 ] && echo resolved || echo mediating)', '2016-0$((i % 9 + 1))-1$((i % 9))')" >/dev/null
	done
done
run sql "$dir/qinzao" "INSERT INTO cases(id, scope, category, title, status) VALUES
  ('qz-1', 'gangzha/qinzao', 'labour', '街道联合调解：工资纠纷', 'mediating'),
  ('qz-roster', 'gangzha/qinzao/*', 'other', '秦灶街道三所联动值班表', 'published')"
run sql "$dir/district" "INSERT INTO cases(id, scope, category, title, status) VALUES
  ('gz-notice', 'gangzha/*', 'other', '全区法治宣传月通知', 'published')"

say "Every office starts its node: links come up, streams flow up and down"
serve district; serve auditor
sleep 0.3
serve qinzao; serve tangjia
sleep 0.3
for v in feiqiao xinqiao nanhu; do serve $v; done
echo "(beihu stays offline: no link reaches it this week)"
wait_rows district "" 15 || true
wait_rows auditor "" 15 || true
# A village holds its own 4 cases, the district's notice and, in Qinzao,
# the street's roster: 6 in Qinzao's villages, 5 in Tangjia's.
for v in feiqiao xinqiao; do wait_rows $v "" 6 || true; done
wait_rows nanhu "" 5 || true
printf '%-10s %s\n' node "rows held (only what its scope may see)"
for n in district auditor qinzao tangjia feiqiao xinqiao nanhu beihu; do
	printf '%-10s %s\n' "$n" "$(rows $n)"
done
run sql "$dir/feiqiao" "SELECT id, scope, title FROM cases ORDER BY scope, id"

say "The link to Feiqiao drops; the village and the street edit the same case"
kill "$pid_feiqiao"; wait "$pid_feiqiao" 2>/dev/null || true
run sql "$dir/feiqiao" "UPDATE cases SET status = 'resolved', notes = '村调解成功' WHERE id = 'feiqiao-1'"
run sql "$dir/qinzao" "UPDATE cases SET status = 'referred to court' WHERE id = 'feiqiao-1'"
serve feiqiao
for _ in $(seq 100); do
	"$T" conflicts "$dir/qinzao" list | grep -q '^1 open conflict$' &&
		"$T" conflicts "$dir/feiqiao" list | grep -q '^1 open conflict$' && break
	sleep 0.05
done
run conflicts "$dir/feiqiao" list
cid=$("$T" conflicts "$dir/feiqiao" list --json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
say "A clerk at the street settles it; the settlement is a signed write that reaches every node"
run conflicts "$dir/qinzao" resolve "$cid" --value 'resolved'
for _ in $(seq 100); do "$T" conflicts "$dir/feiqiao" list | grep -q '^0 open' && break; sleep 0.05; done
run conflicts "$dir/feiqiao" list
run sql "$dir/district" "SELECT id, status FROM cases WHERE id = 'feiqiao-1'"

say "Beihu has no link: its cases travel on a USB stick"
run bundle export "$dir/beihu" --for gangzha/tangjia --out "$dir/beihu-to-tangjia.tsb" --to "$dir/tangjia/node.crt"
run bundle import "$dir/tangjia" "$dir/beihu-to-tangjia.tsb"
run bundle export "$dir/tangjia" --for gangzha/tangjia/beihu --out "$dir/tangjia-to-beihu.tsb"
run bundle import "$dir/beihu" "$dir/tangjia-to-beihu.tsb"
wait_rows district "scope LIKE 'gangzha/tangjia/beihu'" 4 || true

say "A laptop of Xinqiao is stolen: the district revokes its certificate"
run ca revoke "$dir/ca" "$dir/xinqiao/node.crt" --node "$dir/district"
sleep 1
kill "$pid_xinqiao"; wait "$pid_xinqiao" 2>/dev/null || true
"$T" sync "$dir/xinqiao" --peer 127.0.0.1:$PQ --timeout 5 || echo "(refused, as it should be)"

say "Report: disputes mediated in Qinzao in 2016, by category, and the share resolved"
run sql "$dir/qinzao" "SELECT category, count(*) AS cases,
  printf('%.0f%%', 100.0 * sum(status = 'resolved') / count(*)) AS resolved
  FROM cases WHERE scope LIKE 'gangzha/qinzao/%' AND opened_at LIKE '2016-%'
  GROUP BY category ORDER BY category"

say "The auditors' check: every chain, signature and scope, and the state"
run verify "$dir/auditor"
echo "digests of the whole district:"
printf '  district %s\n  auditor  %s\n' "$("$T" digest "$dir/district")" "$("$T" digest "$dir/auditor")"
echo "digest of Feiqiao's scope at the village, street and district:"
for n in feiqiao qinzao district; do
	printf '  %-9s %s\n' $n "$("$T" digest "$dir/$n" --scope gangzha/qinzao/feiqiao)"
done
run status "$dir/qinzao"
say "Done: the district lives in $dir (logs in $dir/*.log)"
