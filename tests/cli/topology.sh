#!/usr/bin/env bash
# A whole district live on loopback: the district, two streets, two
# villages under each and an auditor, each a `tiersync serve` process.
# Every office writes before and while the links run; forbidden writes are
# refused.  Then every node holds exactly what the visibility rule allows
# (rows and streams), verify passes everywhere, digests agree with the
# district, and a district edit reaches its village and no other.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C

STREETS=(qinzao tangjia)
declare -A VILLAGES=([qinzao]="feiqiao xinqiao" [tangjia]="nanhu beihu")
declare -A SCOPE ROLE PORT
SCOPE[gangzha]=gangzha; ROLE[gangzha]=office
SCOPE[auditor]=gangzha; ROLE[auditor]=auditor
NODES=(gangzha auditor)
for s in "${STREETS[@]}"; do
	SCOPE[$s]=gangzha/$s; ROLE[$s]=office; NODES+=("$s")
	for v in ${VILLAGES[$s]}; do
		SCOPE[$v]=gangzha/$s/$v; ROLE[$v]=office; NODES+=("$v")
	done
done
for n in "${NODES[@]}"; do node "$n" "${SCOPE[$n]}" "${ROLE[$n]}"; done

# The visibility rule, written out independently of node/scope.c.
within() { [ "$1" = "$2" ] || [[ $1 == "$2"/* ]]; }
may_see() { # VIEWER_SCOPE ROLE SCOPE
	if [ "$2" = auditor ]; then within "$3" "${1%%/*}"; return; fi
	within "$3" "$1" && return 0
	[[ $3 == */\* ]] && within "$1" "${3%/\*}"
}

# write NODE ID SCOPE: one case, recorded in $W/written as "id scope".
write() {
	if "$T" sql "$W/$1" "INSERT INTO cases(id, scope, category, title, status) VALUES('$2', '$3', 'neighbours', '邻里纠纷 $2', 'registered')" >"$W/out" 2>&1; then
		echo "$2 $3" >>"$W/written"; ok
	else bad "$1 could not write $2 into $3"; sed 's/^/    /' "$W/out" >&2; fi
}
# writes PHASE: each office writes its share; ids are PHASE-NODE-WHAT.
writes() {
	local p=$1 s v first
	for s in "${STREETS[@]}"; do
		for v in ${VILLAGES[$s]}; do
			write "$v" "$p-$v-1" "${SCOPE[$v]}"
			write "$v" "$p-$v-2" "${SCOPE[$v]}"
		done
		first=${VILLAGES[$s]%% *}
		write "$s" "$p-$s-own" "${SCOPE[$s]}"
		write "$s" "$p-$s-to-$first" "${SCOPE[$first]}"
		write "$s" "$p-$s-bcast" "gangzha/$s/*"
	done
	write gangzha "$p-gangzha-own" gangzha
	write gangzha "$p-gangzha-to-nanhu" gangzha/tangjia/nanhu
	write gangzha "$p-gangzha-roster" 'gangzha/*'
}
# refusals PHASE: writes no node may make; each exits 1 and leaves nothing.
refusals() {
	local p=$1
	expect 1 "$T" sql "$W/auditor" "INSERT INTO cases(id, scope) VALUES('$p-aud', 'gangzha')"
	has auditor
	expect 1 "$T" sql "$W/auditor" "INSERT INTO cases(id, scope) VALUES('$p-aud-v', 'gangzha/qinzao/feiqiao')"
	expect 1 "$T" sql "$W/feiqiao" "INSERT INTO cases(id, scope) VALUES('$p-sib', 'gangzha/qinzao/xinqiao')"
	has 'outside this node'
	expect 1 "$T" sql "$W/feiqiao" "INSERT INTO cases(id, scope) VALUES('$p-up', 'gangzha/qinzao/*')"
	expect 1 "$T" sql "$W/nanhu" "INSERT INTO cases(id, scope) VALUES('$p-far', 'gangzha/qinzao/feiqiao')"
	expect 1 "$T" sql "$W/qinzao" "INSERT INTO cases(id, scope) VALUES('$p-other', 'gangzha/tangjia/beihu')"
	expect 1 "$T" sql "$W/tangjia" "INSERT INTO cases(id, scope) VALUES('$p-bc', 'gangzha/*')"
}

# expected NODE: the ids NODE may hold, sorted.
expected() {
	local id sc
	while read -r id sc; do
		may_see "${SCOPE[$1]}" "${ROLE[$1]}" "$sc" && echo "$id"
	done <"$W/written" | sort
}
held() { q "$1" "SELECT id FROM cases ORDER BY id"; }
holds_expected() { [ "$(held "$1")" = "$(expected "$1")" ]; }
# streams NODE: the scopes of the streams NODE holds, one a line.
streams() { "$T" status "$W/$1" | awk '/^streams/ {f = 1; next} /^peers:/ {f = 0} f {print $2}'; }

: >"$W/written"
writes pre
refusals pre

# Start the tree top-down; the villages and streets start writing at once.
for n in "${NODES[@]}"; do # distinct ports: none listens before all are picked
	until p=$(free_port); [[ " ${PORT[*]} " != *" $p "* ]]; do :; done
	PORT[$n]=$p
done
serve gangzha --listen 127.0.0.1:${PORT[gangzha]}
wait_port ${PORT[gangzha]}
serve auditor --listen 127.0.0.1:${PORT[auditor]} --parent 127.0.0.1:${PORT[gangzha]}
for s in "${STREETS[@]}"; do
	serve "$s" --listen 127.0.0.1:${PORT[$s]} --parent 127.0.0.1:${PORT[gangzha]}
done
for s in "${STREETS[@]}"; do
	wait_port ${PORT[$s]}
	for v in ${VILLAGES[$s]}; do
		serve "$v" --listen 127.0.0.1:${PORT[$v]} --parent 127.0.0.1:${PORT[$s]}
	done
done
writes live
refusals live
# One commit touching three scopes becomes three txns, each sent its way.
"$T" sql "$W/qinzao" "INSERT INTO cases(id, scope, title) VALUES('multi-own', 'gangzha/qinzao', '联合调解'), ('multi-xinqiao', 'gangzha/qinzao/xinqiao', '转办'), ('multi-bcast', 'gangzha/qinzao/*', '街道通知')" >/dev/null &&
	printf '%s\n' 'multi-own gangzha/qinzao' 'multi-xinqiao gangzha/qinzao/xinqiao' 'multi-bcast gangzha/qinzao/*' >>"$W/written" ||
	bad "multi-scope commit refused"
nall=$(wc -l <"$W/written")

# The district and the auditor first get everything; then each node its share.
for n in gangzha auditor "${NODES[@]:2}"; do
	if wait_for 20 holds_expected "$n"; then ok; else
		bad "$n did not converge to exactly its rows"
		diff <(expected "$n") <(held "$n") | sed 's/^/    /' >&2
	fi
done
eq "$(held gangzha | wc -l)" "$nall" "district holds every row"
eq "$(held auditor | wc -l)" "$nall" "auditor holds every row"
# Nothing extra trickles in later either: rows and streams.
sleep 1
for n in "${NODES[@]}"; do
	eq "$(held "$n")" "$(expected "$n")" "rows on $n"
	while read -r sc; do
		may_see "${SCOPE[$n]}" "${ROLE[$n]}" "$sc" && ok || bad "$n holds a stream of $sc"
	done < <(streams "$n")
	expect 0 "$T" status "$W/$n"
	has 'quarantined 0'
	expect 0 "$T" verify "$W/$n"
done
eq "$(held feiqiao | grep -c xinqiao)" 0 "feiqiao holds nothing of xinqiao"
eq "$(held qinzao | grep -c tangjia)" 0 "qinzao holds nothing of tangjia"

# Digests: every office agrees with the district on its own scope and on
# the district broadcast; the auditor agrees on everything.
for n in "${NODES[@]}"; do
	[ "$n" = auditor ] && continue
	eq "$("$T" digest "$W/$n" --scope "${SCOPE[$n]}")" "$("$T" digest "$W/gangzha" --scope "${SCOPE[$n]}")" "digest of ${SCOPE[$n]} on $n"
	eq "$("$T" digest "$W/$n" --scope 'gangzha/*')" "$("$T" digest "$W/gangzha" --scope 'gangzha/*')" "digest of gangzha/* on $n"
done
eq "$("$T" digest "$W/auditor")" "$("$T" digest "$W/gangzha")" "auditor = district"

# An edit: the district reviews a feiqiao case; feiqiao (through qinzao)
# sees it, xinqiao and the other street get nothing of it.
"$T" sql "$W/gangzha" "UPDATE cases SET status = 'reviewed by district' WHERE id = 'pre-feiqiao-1'" >/dev/null || bad "district edit refused"
if wait_for 20 has_rows feiqiao "id = 'pre-feiqiao-1' AND status = 'reviewed by district'" 1; then ok; else bad "district edit did not reach feiqiao"; fi
if wait_for 20 has_rows auditor "id = 'pre-feiqiao-1' AND status = 'reviewed by district'" 1; then ok; else bad "district edit did not reach the auditor"; fi
eq "$(rows qinzao "id = 'pre-feiqiao-1' AND status = 'reviewed by district'")" 1 "street relayed the edit"
sleep 0.5
for n in xinqiao tangjia nanhu beihu; do
	eq "$(rows "$n" "id = 'pre-feiqiao-1'")" 0 "$n did not get feiqiao's case"
	eq "$(held "$n")" "$(expected "$n")" "rows on $n after the edit"
	eq "$(streams "$n" | grep -c feiqiao)" 0 "$n holds no feiqiao stream"
done
eq "$("$T" digest "$W/feiqiao" --scope gangzha/qinzao/feiqiao)" "$("$T" digest "$W/gangzha" --scope gangzha/qinzao/feiqiao)" "feiqiao digest after the edit"
eq "$("$T" digest "$W/auditor")" "$("$T" digest "$W/gangzha")" "auditor = district after the edit"
for n in feiqiao auditor; do expect 0 "$T" verify "$W/$n"; done

# Every server stops cleanly on SIGTERM (in ASan builds: no leak, no error).
for n in "${NODES[@]}"; do pid=PID_$n; kill -TERM "${!pid}"; done
for n in "${NODES[@]}"; do
	pid=PID_$n; wait "${!pid}"; eq $? 0 "$n serve exit status after SIGTERM"
	grep -qE 'Sanitizer|runtime error' "$W/$n.log" && bad "sanitizer report in $n.log" || ok
done
PIDS=()
finish
