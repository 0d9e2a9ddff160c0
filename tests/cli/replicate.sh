#!/usr/bin/env bash
# Real processes on loopback over mutual TLS: a street and a village sync
# both ways; three tiers live (village -> street -> district and back);
# digests equal; TLS refuses a node of another district's CA.
source "$(dirname "$0")/lib.sh"
node d gangzha
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
node v2 gangzha/qinzao/tangzha
PD=$(free_port); PS=$(free_port)

# Both sides write while apart.
for i in 1 2 3 4 5; do
	"$T" sql "$W/v" "INSERT INTO cases(id, scope, category, title) VALUES('v-$i', 'gangzha/qinzao/feiqiao', 'family', '家事纠纷 $i')" >/dev/null
done
"$T" sql "$W/s" "INSERT INTO cases(id, scope, title) VALUES('s-1', 'gangzha/qinzao/feiqiao', '街道转办'), ('s-2', 'gangzha/qinzao', '街道自办'), ('s-3', 'gangzha/qinzao/tangzha', '别村')" >/dev/null

# One catch-up both ways with `sync`.
serve s --listen 127.0.0.1:$PS
wait_port $PS
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has 'in sync with 127.0.0.1:'"$PS"': sent 5 txns, received 1'
eq "$(rows s "id LIKE 'v-%'")" 5 "street got the village's cases"
eq "$(rows v "id = 's-1'")" 1 "village got the street's case for it"
eq "$(rows v "id IN ('s-2', 's-3')")" 0 "village got nothing outside its scope"
eq "$("$T" digest "$W/v" --scope gangzha/qinzao/feiqiao)" "$("$T" digest "$W/s" --scope gangzha/qinzao/feiqiao)" "village digest"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PS
has 'sent 0 txns, received 0'
expect 0 "$T" status "$W/v"
has 'behind: peer lacked 0 of ours, we lacked 0 of its'

# Three tiers, live: the street also keeps a parent link to the district.
kill $PID_s; wait $PID_s 2>/dev/null
serve d --listen 127.0.0.1:$PD
wait_port $PD
serve s --listen 127.0.0.1:$PS --parent 127.0.0.1:$PD
wait_port $PS
serve v --parent 127.0.0.1:$PS
serve v2 --parent 127.0.0.1:$PS
if wait_for 10 has_rows d "id LIKE 'v-%'" 5; then ok; else bad "district lacks village rows"; fi
"$T" sql "$W/v" "INSERT INTO cases(id, scope, title) VALUES('v-live', 'gangzha/qinzao/feiqiao', '现场登记')" >/dev/null
if wait_for 10 has_rows d "id = 'v-live'" 1; then ok; else bad "live village write did not reach the district"; fi
"$T" sql "$W/d" "UPDATE cases SET status = 'reviewed by district' WHERE id = 'v-3'" >/dev/null
if wait_for 10 has_rows v "id = 'v-3' AND status = 'reviewed by district'" 1; then ok; else bad "district edit did not reach the village"; fi
"$T" sql "$W/d" "INSERT INTO cases(id, scope, title) VALUES('notice-1', 'gangzha/*', '全区普法通知')" >/dev/null
if wait_for 10 has_rows v2 "id = 'notice-1'" 1; then ok; else bad "broadcast did not reach village 2"; fi
sleep 0.5
eq "$(rows v2 "scope = 'gangzha/qinzao/feiqiao'")" 0 "sibling village sees nothing of feiqiao"
for n in v v2 s d; do expect 0 "$T" verify "$W/$n"; done
eq "$("$T" digest "$W/v" --scope gangzha/qinzao/feiqiao)" "$("$T" digest "$W/d" --scope gangzha/qinzao/feiqiao)" "village = district"
eq "$("$T" digest "$W/s" --scope gangzha/qinzao)" "$("$T" digest "$W/d" --scope gangzha/qinzao)" "street = district"
grep -q 'applied 1 txns from' "$W/d.log" && ok || bad "district log does not say what moved"

# TLS refuses a node whose certificate comes from another CA.
"$T" ca init "$W/ca2" --district rogue >/dev/null
"$T" ca issue "$W/ca2" --scope rogue/qinzao/feiqiao --out "$W/rogue" >/dev/null
"$T" init "$W/rogue" >/dev/null
expect 1 "$T" sync "$W/rogue" --peer 127.0.0.1:$PS --timeout 5
has 'failed: peer certificate refused: not signed by this district'
# Even trusting the real CA, its own certificate is refused by the street.
cat "$W/ca/ca.crt" >>"$W/rogue/ca.crt"
expect 1 "$T" sync "$W/rogue" --peer 127.0.0.1:$PS --timeout 5
has 'failed'
if wait_for 5 grep -q "peer certificate refused: not signed by this district's CA" "$W/s.log"; then ok; else bad "street log lacks the TLS refusal"; fi
eq "$(rows s "1")" "$(rows d "scope LIKE 'gangzha/qinzao%' OR scope = 'gangzha/*'")" "rogue added nothing"

# SIGTERM stops a server cleanly.
kill -TERM $PID_v; wait $PID_v; eq $? 0 "serve exit status after SIGTERM"
grep -q 'stopping: SIGTERM' "$W/v.log" && ok || bad "no clean stop logged"

# `sync` with an auditor that holds more than this node, even of what this
# node may see, is in sync: an auditor sends nothing, so what it holds
# beyond us is not a disagreement.  What we hold and it lacks is still sent.
node a gangzha auditor
PA=$(free_port)
serve a --listen 127.0.0.1:$PA
wait_port $PA
"$T" sql "$W/d" "INSERT INTO cases(id, scope, title) VALUES('notice-2', 'gangzha/*', '停电通知')" >/dev/null
expect 0 "$T" sync "$W/a" --peer 127.0.0.1:$PD
eq "$(rows a 1)" "$(rows d 1)" "auditor holds the district"
eq "$(rows v "id = 'notice-2'")" 0 "the village (stopped) lacks the new notice"
"$T" sql "$W/v" "INSERT INTO cases(id, scope, title) VALUES('v-late', 'gangzha/qinzao/feiqiao', '晚到')" >/dev/null
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PA
has "in sync with 127.0.0.1:$PA: sent 1 txns, received 0"
eq "$(rows a "id = 'v-late'")" 1 "auditor got the village's new case"
expect 0 "$T" sync "$W/v" --peer 127.0.0.1:$PA
has 'sent 0 txns, received 0'
finish
