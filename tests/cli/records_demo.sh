#!/usr/bin/env bash
# `tiersync demo` (the README's main job): a whole district of real serve
# processes; every check it prints holds, it leaves one folder per office,
# stops every process it started, and finishes well inside a minute.
source "$(dirname "$0")/lib.sh"
start=$SECONDS
expect 0 "$T" demo "$W/demo"
cat "$W/out"
has '^19 checks, 0 failed'
has '✓ the street.s web app answers'
has '费桥村 \(village\): http://127.0.0.1:[0-9]+/'
has 'account: demo / demo-pass-1'
hasnt '✗'
has '✓ the district holds all 8 disputes'
has '✓ Xinhe village holds only its own 2 disputes'
has '✓ the conflict shows at the street and at the village'
has '✓ the settlement reached the village and the district'
has '✓ the auditor.s digest equals the district.s'
has '✓ verify at the auditor'
has '矛盾纠纷 登记 8 件；调解结案 4 件，成功 4 件，成功率 100.0%'
elapsed=$((SECONDS - start))
[ $elapsed -lt 60 ] && ok || bad "demo took ${elapsed}s"
for d in ca gangzha gangzha.qinzao gangzha.tangzha gangzha.qinzao.feiqiao gangzha.qinzao.xinhe \
	gangzha.tangzha.donggang gangzha.tangzha.huayuan gangzha.qinzao.feiqiao.g1 gangzha.auditor; do
	[ -d "$W/demo/$d" ] && ok || bad "no folder $d"
done
[ -s "$W/demo/report.html" ] && ok || bad "no HTML report"
# No serve process of the demo is left running.
if pgrep -f "serve $W/demo/" >/dev/null; then bad "serve processes left running"; else ok; fi
# The nodes it left work: a clerk can go on at the village.
expect 0 "$T" dispute list "$W/demo/gangzha.qinzao.feiqiao"
has '^费桥2026-001 .*宅基地边界争议'
expect 0 "$T" verify "$W/demo/gangzha"
expect 1 "$T" demo "$W/demo"
has 'already'
finish
