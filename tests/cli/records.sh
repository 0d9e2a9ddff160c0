#!/usr/bin/env bash
# The three offices' records through the command line: every workflow, and
# every validation error naming its field with nothing written.  Records
# that arrive from a peer are never refused for domain rules; `check`
# lists those that break one.
source "$(dirname "$0")/lib.sh"
export TSYNC_BY=王芳
node d gangzha
node v gangzha/qinzao/feiqiao
V=$W/v
n_disputes() { "$T" sql "$V" "SELECT count(*) FROM disputes" | tail -1; }

# --- The district publishes offices; a village number uses the short name
expect 0 "$T" office add "$W/d" --path gangzha/qinzao/feiqiao --name 费桥村 --short 费桥 --tier village
has '已登记 recorded: 辖区单位'
expect 0 "$T" office list "$W/d" --json
has '"scope": "gangzha/\*"'
# A village records only in its own subtree
expect 1 "$T" dispute add "$V" --scope gangzha/qinzao/xinhe --category family --source walkin \
	--title t --parties 甲 --risk low --lead judicial --opened 2026-03-05
has 'scope: this node \(gangzha/qinzao/feiqiao, office\) cannot record in gangzha/qinzao/xinhe'

# --- Register a dispute: Chinese labels and English codes both accepted
expect 0 "$T" dispute add "$V" --category 家庭纠纷 --source walkin --title 赡养纠纷 \
	--parties "张三、李四" --risk 低 --lead judicial --opened 2026-03-05
has '已登记 recorded: 矛盾纠纷 feiqiao2026-001'
expect 0 "$T" dispute show "$V" feiqiao2026-001 --json
has '"category": "family"'
has '"category_label": "家庭纠纷"'
has '"status": "registered"'
has '"recorded_by": "王芳"'
has '"parties": \['
id=$(grep '"id"' "$W/out" | head -1 | sed 's/.*"id": "\([^"]*\)".*/\1/')
node_id=$("$T" status "$V" --json | sed -n 's/.*"node_id": *"\([0-9a-f]*\)".*/\1/p' | head -1)
case "$id" in "$node_id"-*) ok ;; *) bad "id $id is not made by node $node_id" ;; esac

# --- Validation: each error names the field, and nothing is written
before=$(n_disputes)
v_err() { # FIELD-PATTERN ARGS...: a refused add
	local pat=$1; shift
	expect 1 "$T" dispute add "$V" "$@"
	has "$pat"
}
base=(--source walkin --title t --parties 甲 --risk low --lead judicial)
v_err '^tiersync: category \(类别\): .famly. is not an allowed value.*allowed: land 征地拆迁, family 家庭纠纷' \
	--category famly "${base[@]}" --opened 2026-03-05
v_err 'opened \(登记日期\): .2026-02-30. is not a date|opened \(登记日期\): not a date' \
	--category family "${base[@]}" --opened 2026-02-30
v_err 'opened \(登记日期\): .5 March. is not a date' --category family "${base[@]}" --opened "5 March"
v_err 'title \(事由\): required' --category family --source walkin --parties 甲 --risk low --lead judicial --opened 2026-03-05
v_err '^tiersync: category \(类别\), source \(来源\), parties \(当事人\), risk \(风险等级\), lead \(牵头单位\): required' --title t
v_err 'risk \(风险等级\): .extreme. is not an allowed value' --category family --source walkin --title t --parties 甲 --risk extreme --lead judicial --opened 2026-03-05
v_err 'closed \(结案日期\): the closing date is before the opened date' \
	--category family "${base[@]}" --opened 2026-03-05 --closed 2026-03-01
v_err 'status \(状态\): a new dispute starts as registered or mediating' \
	--category family "${base[@]}" --opened 2026-03-05 --status resolved
expect 2 "$T" dispute add "$V" --category family "${base[@]}" --opened 2026-03-05 --nosuch x
has "unexpected argument '--nosuch'"
expect 1 env -u TSYNC_BY "$T" dispute add "$V" --category family "${base[@]}" --opened 2026-03-05
has 'recorded_by \(登记人\): say who records it'
eq "$(n_disputes)" "$before" "refused adds wrote nothing"

# --- The workflow: mediate, session, close; skipping a step is refused
expect 1 "$T" dispute close "$V" feiqiao2026-001 --result resolved --outcome 和解
has 'status \(状态\): cannot resolve a dispute that was never mediated'
expect 1 "$T" dispute refer "$V" feiqiao2026-001 --to court
has 'status \(状态\): refer a dispute only after mediation failed'
expect 0 "$T" dispute mediate "$V" feiqiao2026-001
expect 1 "$T" dispute close "$V" feiqiao2026-001 --result resolved --outcome 和解 --closed 2026-03-08
has 'status \(状态\): a resolved dispute needs at least one mediation session'
expect 1 "$T" mediation add "$V" --dispute feiqiao2026-009 --date 2026-03-06 --participants 王芳 --result agreed
has 'dispute \(纠纷\): no dispute feiqiao2026-009'
expect 1 "$T" mediation add "$V" --dispute feiqiao2026-001 --date 2026-03-06 --participants 王芳 --result 很好
has 'result \(本次结果\): .很好. is not an allowed value'
expect 0 "$T" mediation add "$V" --dispute feiqiao2026-001 --date 2026-03-06 \
	--participants "王芳（司法所）、李强（派出所）" --result 达成协议 --agreement 子女轮流赡养
has 'feiqiao调2026-001'
expect 1 "$T" dispute close "$V" feiqiao2026-001 --result resolved --closed 2026-03-08
has 'outcome \(调解结果\): closing a dispute needs its outcome'
expect 1 "$T" dispute close "$V" feiqiao2026-001 --result resolved --outcome 和解 --closed 2026-03-01
has 'closed \(结案日期\): the closing date is before the opened date'
expect 0 "$T" dispute close "$V" feiqiao2026-001 --result 调解成功 --outcome 和解 --closed 2026-03-08 --by 李强
expect 0 "$T" dispute show "$V" feiqiao2026-001
has '状态 status: 调解成功'
has '调解记录 \(1\):'
has '修改 edited: 李强 .*outcome、status、closed'
expect 1 "$T" dispute mediate "$V" feiqiao2026-001
has 'status \(状态\): a closed dispute cannot go back to mediation'

# A failed mediation is referred to court
expect 0 "$T" dispute add "$V" --category labour --source police --title 欠薪 --parties "甲、乙" \
	--risk high --lead joint --opened 2026-04-01 --status mediating
expect 0 "$T" mediation add "$V" --dispute feiqiao2026-002 --date 2026-04-02 --participants 王芳 --result none
expect 0 "$T" dispute close "$V" feiqiao2026-002 --result failed --outcome 未达成 --closed 2026-04-03
expect 1 "$T" dispute refer "$V" feiqiao2026-002 --to 天庭
has 'referred_to \(移交去向\): .天庭. is not an allowed value.*court 法院'
expect 0 "$T" dispute refer "$V" feiqiao2026-002 --to 法院
expect 0 "$T" dispute list "$V" --status referred --json
has '"total": 1'

# --- Consultations, petitions, events, files and visits, risks, meetings
expect 0 "$T" consult add "$V" --lawyer 陈静 --topic 土地承包 --question 如何维权 --date 2026-03-07 --became 转为纠纷
expect 1 "$T" consult add "$V" --lawyer 陈静 --topic x --date 2026-03-07
has 'question \(咨询问题\): required'
expect 0 "$T" petition add "$V" --petitioner 赵六 --subject 拆迁补偿 --category land \
	--received 2026-03-10 --triage 涉法涉诉 --lawyer 陈静
has 'feiqiao访2026-001'
expect 1 "$T" petition update "$V" feiqiao访2026-001 --status routed
has 'routed_to \(分流去向\): a routed petition names where it went'
expect 0 "$T" petition route "$V" feiqiao访2026-001 --to 法院 --advice 依法起诉
expect 1 "$T" petition close "$V" feiqiao访2026-001 --closed 2026-03-01
has 'closed \(办结日期\): the closing date is before the received date'
expect 0 "$T" petition close "$V" feiqiao访2026-001 --closed 2026-03-20
expect 0 "$T" event add "$V" --kind 法治讲座 --title 民法典进村 --date 2026-03-12 --place 村委会 --speakers 陈静 --audience 120
expect 1 "$T" event add "$V" --kind lecture --title x --date 2026-03-12 --place p --audience 很多
has 'audience \(受众人数\): .很多. is not a whole number'
expect 0 "$T" person add "$V" --kind 社区矫正 --person 孙某 --supervisor judicial --since 2026-01-01
has 'feiqiao档2026-001'
expect 1 "$T" person update "$V" feiqiao档2026-001 --until 2025-12-01
has 'until \(终止日期\): the end of the period is before its start'
expect 0 "$T" person visit "$V" feiqiao档2026-001 --date 2026-03-15 --visitors "王芳、李强" --notes 思想稳定
expect 0 "$T" person show "$V" feiqiao档2026-001
has '走访记录 \(1\):'
expect 0 "$T" risk add "$V" --subject 征地项目 --level 高 --measures 提前入户宣讲 --date 2026-03-16 --disputes feiqiao2026-001
expect 0 "$T" meeting add "$V" --kind 周例会 --date 2026-03-17 --attendees "司法所、派出所、律师事务所" --minutes 研判
expect 1 "$T" meeting add "$V" --kind daily --date 2026-03-17 --attendees x
has 'kind \(会议类型\): .daily. is not an allowed value.*weekly 周例会'

# --- A grid report turned into a dispute: one commit, both linked
expect 0 "$T" grid report "$V" --reporter 顾春梅 --seen 两户因排水沟争吵 --place 三组 --date 2026-03-18
expect 0 "$T" grid convert "$V" feiqiao网2026-001 --title 排水沟纠纷 --category neighbour --parties "甲、乙" --risk low --lead judicial
has 'converted: feiqiao网2026-001 -> feiqiao2026-003'
expect 0 "$T" dispute show "$V" feiqiao2026-003 --json
has '"source": "grid"'
has '"opened": "2026-03-18"'
expect 0 "$T" grid show "$V" feiqiao网2026-001 --json
has '"status": "converted"'

# --- Lists: filters, search, paging, JSON
expect 0 "$T" dispute list "$V" --search 欠薪
has 'feiqiao2026-002'
hasnt 'feiqiao2026-001'
expect 0 "$T" dispute list "$V" --limit 1 --page 2 --asc --json
has '"total": 3'
has '"no": "feiqiao2026-003"'
expect 0 "$T" dispute list "$V" --from 2026-03-10 --to 2026-03-31 --json
has '"total": 1'
expect 2 "$T" dispute list "$V" --limit many
expect 1 "$T" dispute list "$V" --category 家家
has 'category \(类别\)'
for k in office staff dispute mediation consult petition event person visit risk meeting grid; do
	expect 0 "$T" "$k" list "$V" --json
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/out" && ok || bad "$k list --json is not JSON"
	expect 0 "$T" help "$k"
	has '^fields'
done
expect 2 "$T" dispute frobnicate "$V"
has "unknown verb 'frobnicate'"

# --- tiersync sql is judged by the same rules; reading stays free
expect 1 "$T" sql "$V" "UPDATE disputes SET category = 'famly'"
has 'category \(类别\): not an allowed value'
expect 1 "$T" sql "$V" "INSERT INTO disputes(id, scope, recorded_by, title) VALUES('2026-001', 'gangzha/qinzao/feiqiao', 'x', 'y')"
has 'id \(记录\): records get their id from the node'
expect 0 "$T" sql "$V" "SELECT count(*) FROM disputes WHERE category = 'family'"
expect 0 "$T" verify "$V"

# --- Records from peers are never refused; check lists what breaks a rule.
# Two valid edits made apart (the village ends a file's period, the street
# moves its start past that end) merge into a record that breaks a rule:
# both nodes take it, and check names it for a person to fix.
node s gangzha/qinzao
P=$(free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$P/" "$W/s/tiersync.conf"
serve s
wait_port "$P"
expect 0 "$T" sync "$V" --peer 127.0.0.1:$P
expect 0 "$T" check "$W/s"
has 'all records keep the rules'
expect 0 "$T" person update "$V" feiqiao档2026-001 --until 2026-06-01
expect 0 "$T" person update "$W/s" feiqiao档2026-001 --since 2026-07-01 --by 周磊
expect 0 "$T" sync "$V" --peer 127.0.0.1:$P
for n in s v; do
	expect 1 "$T" check "$W/$n"
	has 'person feiqiao档2026-001 \[gangzha/qinzao/feiqiao\]: until \(终止日期\): the end of the period is before its start'
done
expect 1 "$T" check "$W/s" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["field"]=="until", d' "$W/out" && ok || bad "check --json"
# A person fixes it with an ordinary edit, and check is clean again
expect 0 "$T" person update "$V" feiqiao档2026-001 --until 2026-12-31
expect 0 "$T" check "$V"
expect 0 "$T" verify "$W/s"
# The date that dates a record is today's (local time) when not given.
expect 0 "$T" dispute add "$V" --category family "${base[@]}" --json
has "\"opened\": \"$(date +%Y-%m-%d)\""
finish
