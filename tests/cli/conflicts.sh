#!/usr/bin/env bash
# A street and a village edit the same field of the same case while the
# link is down: after sync both show the same value and list the same
# conflict; resolving it on one clears it on both.  On a coded field of a
# record (a dispute's risk) the list shows the labels and --value takes
# the label or the code.
source "$(dirname "$0")/lib.sh"
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
PS=$(free_port)
"$T" sql "$W/v" "INSERT INTO cases(id, scope, title, status) VALUES('c1', 'gangzha/qinzao/feiqiao', '土地纠纷', 'registered')" >/dev/null
serve s --listen 127.0.0.1:$PS
wait_port $PS
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
expect 0 "$T" conflicts "$W/v" list
has '^0 open conflicts'

# The link is down (no sync): both edit the status.
"$T" sql "$W/v" "UPDATE cases SET status = 'mediating' WHERE id = 'c1'" >/dev/null
"$T" sql "$W/s" "UPDATE cases SET status = 'referred to court' WHERE id = 'c1'" >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(q v "SELECT status FROM cases WHERE id = 'c1'")" "$(q s "SELECT status FROM cases WHERE id = 'c1'")" "same value"
expect 0 "$T" conflicts "$W/v" list
has '^1 open conflict$'
has 'column status'
"$T" conflicts "$W/v" list --json >"$W/cv.json"
"$T" conflicts "$W/s" list --json >"$W/cs.json"
eq "$(cat "$W/cv.json")" "$(cat "$W/cs.json")" "identical conflict lists"
grep -q '"mine":"referred to court"\|"mine":"mediating"' "$W/cv.json" && ok || bad "conflict lacks the shown value"
grep -q '"theirs":"mediating"\|"theirs":"referred to court"' "$W/cv.json" && ok || bad "conflict lacks the other value"
expect 0 "$T" status "$W/s"
has 'conflicts 1'
expect 0 "$T" verify "$W/v"
expect 0 "$T" verify "$W/s"

# A later edit on top of the winner leaves the conflict open.
"$T" sql "$W/s" "UPDATE cases SET title = '土地纠纷（复议）' WHERE id = 'c1'" >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
expect 0 "$T" conflicts "$W/v" list
has '^1 open conflict$'

# Bad input: unknown id, missing choice.
expect 1 "$T" conflicts "$W/v" resolve 000000000000 --keep mine
has 'no open conflict'
id=$(sed 's/.*"id":"\([0-9a-f]*\)".*/\1/' "$W/cv.json")
expect 2 "$T" conflicts "$W/v" resolve "$id"
expect 2 "$T" conflicts "$W/v" resolve "$id" --keep nobody

# Settled at the village with the other value; the settlement clears it
# at the street too.
theirs=$(sed 's/.*"theirs":"\([^"]*\)".*/\1/' "$W/cv.json")
expect 0 "$T" conflicts "$W/v" resolve "$id" --keep theirs
has 'settled'
expect 0 "$T" conflicts "$W/v" list
has '^0 open conflicts'
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
expect 0 "$T" conflicts "$W/s" list
has '^0 open conflicts'
eq "$(q s "SELECT status FROM cases WHERE id = 'c1'")" "$theirs" "settled value at the street"
eq "$("$T" digest "$W/s" --scope gangzha/qinzao/feiqiao)" "$("$T" digest "$W/v" --scope gangzha/qinzao/feiqiao)" "digests after settling"
expect 0 "$T" verify "$W/v"
expect 0 "$T" verify "$W/s"

# --value settles with a new value.
"$T" sql "$W/v" "UPDATE cases SET notes = '村' WHERE id = 'c1'" >/dev/null
"$T" sql "$W/s" "UPDATE cases SET notes = '街道' WHERE id = 'c1'" >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
id=$("$T" conflicts "$W/s" list --json | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
expect 0 "$T" conflicts "$W/s" resolve "$id" --value '村街联合调解'
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(q v "SELECT notes FROM cases WHERE id = 'c1'")" "村街联合调解" "new value reached the village"
expect 0 "$T" conflicts "$W/v" list
has '^0 open conflicts'

# --json is always JSON: a blob (NUL and 0xff bytes) is {"blob":"<hex>"};
# text with control characters is escaped and each byte that is not UTF-8
# becomes U+FFFD.
"$T" sql "$W/v" "UPDATE cases SET parties = x'00ff0a22' WHERE id = 'c1'" >/dev/null
"$T" sql "$W/s" "UPDATE cases SET parties = CAST(x'e6ff0a01225c' AS TEXT) WHERE id = 'c1'" >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
isjson() { python3 -c 'import json, sys; json.load(sys.stdin)' <"$1"; }
for n in v s; do
	"$T" conflicts "$W/$n" list --json >"$W/c$n.json"
	isjson "$W/c$n.json" && ok || bad "conflicts list --json at $n is not JSON"
	grep -q '{"blob":"00ff0a22"}' "$W/c$n.json" && ok || bad "blob not hex at $n"
	python3 -c 'import json, sys; v = [c[k] for c in json.load(open(sys.argv[1])) for k in ("mine", "theirs")]; sys.exit("\ufffd\ufffd\n\x01\"\\" not in v)' "$W/c$n.json" && ok || bad "text not escaped at $n"
	"$T" status "$W/$n" --json >"$W/st$n.json"
	isjson "$W/st$n.json" && ok || bad "status --json at $n is not JSON"
done
expect 0 "$T" conflicts "$W/v" list
has "x'00ff0a22'"

# A coded field of the records (a dispute's risk): the list names the field
# in Chinese and gives each value's label, and --value takes the label a
# clerk reads there, or the code; anything else is refused, naming the
# allowed labels and codes, and writes nothing.
expect 0 "$T" dispute add "$W/v" --category family --source walkin --title 宅基地纠纷 \
	--parties 张三 --risk low --lead judicial --opened 2026-03-05 --by 王芳
dno=$(sed -n 's/.*recorded: .* \([^ ]*\)$/\1/p' "$W/out")
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
risk_clash() { # VILLAGE-VALUE STREET-VALUE: both edit offline, then sync
	expect 0 "$T" dispute update "$W/v" "$dno" --risk "$1" --by 王芳
	expect 0 "$T" dispute update "$W/s" "$dno" --risk "$2" --by 周磊
	expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
	"$T" conflicts "$W/s" list --json >"$W/cr.json"
	rid=$(python3 -c 'import json, sys; print([c["id"] for c in json.load(open(sys.argv[1])) if c["column"] == "risk"][0])' "$W/cr.json")
}
risk_clash high medium
expect 0 "$T" conflicts "$W/s" list
has "column risk \(风险等级\)"
has '^  (shown|other): +high \(高\)$'
has '^  (shown|other): +medium \(中\)$'
was=$(q s "SELECT risk FROM disputes")
for v in 高风险 '高 ' 'HIGH' 风险等级; do
	expect 1 "$T" conflicts "$W/s" resolve "$rid" --value "$v"
	has "--value '$v' is not a value of 风险等级 \(risk\)"
	has 'give a label or its code: 低 low, 中 medium, 高 high, 重大 major; nothing was written'
done
eq "$(q s "SELECT risk FROM disputes")" "$was" "a refused value writes nothing"
expect 0 "$T" conflicts "$W/s" list
has "column risk"
expect 0 "$T" conflicts "$W/s" resolve "$rid" --value 低
has 'settled'
eq "$(q s "SELECT risk FROM disputes")" low "the label 低 stored as its code"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
eq "$(q v "SELECT risk FROM disputes")" low "the settlement by label reached the village"
expect 0 "$T" conflicts "$W/v" list
hasnt "column risk"
# The code is still taken
risk_clash medium high
expect 0 "$T" conflicts "$W/s" resolve "$rid" --value major
eq "$(q s "SELECT risk FROM disputes")" major "the code stored as given"
expect 0 "$T" verify "$W/s"
finish
