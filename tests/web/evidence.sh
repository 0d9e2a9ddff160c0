#!/usr/bin/env bash
# Equivocation evidence on the web dashboard, as a street's clerk sees it.
# A village (费桥村) syncs its records to its street by bundle; the street's
# dashboard says "篡改证据：无".  Then the village's key holder signs a
# second txn at its head's seq and a txn chained to another history
# (tsync_forge equivocate, chain), and the street imports them: real
# evidence rows (docs/protocol.md 8.3).  The API (/api/status "evidence",
# /api/evidence with its scope filter) must agree with `status --json`,
# and the dashboard must show the red panel first, with the count and
# the rows.  HTTP checks (tests/web/evidence_test.py) always; the browser
# in headless Chromium when chromium-driver and python3-selenium are
# there.  Screenshots in TSYNC_TEST_OUT/web-evidence.
source "$(dirname "$0")/../cli/lib.sh"
F=${2:?usage: evidence.sh tiersync tsync_forge}
top=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TSYNC_TEST_OUT:-$W}/web-evidence
mkdir -p "$OUT"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
V=gangzha/qinzao/feiqiao
expect 0 "$T" office add "$W/v" --path $V --name 费桥村 --short 费桥 --tier village --by 王芳
for t in 宅基地边界纠纷 赡养老人纠纷; do
	expect 0 "$T" dispute add "$W/v" --title $t --category family --source walkin \
		--parties 张三、李四 --risk low --lead judicial --opened 2026-03-05 --by 王芳
done
"$T" bundle export "$W/v" --for gangzha/qinzao --out "$W/v.tsb" --unsealed >/dev/null || bad "export"
expect 0 "$T" bundle import "$W/s" "$W/v.tsb"
echo lihua-pass-1 | expect 0 "$T" user add "$W/s" lihua --role clerk
echo zhaomin-pass-1 | expect 0 "$T" user add "$W/s" zhaomin --role viewer
PS=$(free_port); HS=$(free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$PS/" "$W/s/tiersync.conf"
serve s --http 127.0.0.1:$HS
wait_port "$HS"
URL=http://127.0.0.1:$HS
browser=0
if [ -x /usr/bin/chromedriver ] && "$PY" -c 'import selenium' 2>/dev/null; then browser=1
else bad "chromium-driver or python3-selenium missing (scripts/setup.sh installs them)"; fi

# No evidence yet: a calm line, no panel
if [ $browser = 1 ]; then
	timeout 300 "$PY" "$top/tests/web/evidence_browser_test.py" none "$URL" "$OUT" 0 >"$W/out" 2>&1 && ok ||
		bad "browser: no evidence"
	cat "$W/out"
fi
# The HTTP checks; they forge and import the evidence between their two
# halves
"$PY" "$top/tests/web/evidence_test.py" "$T" "$F" "$W/s" "$W/v" "$URL" >"$W/out" 2>&1 && ok ||
	bad "evidence API tests"
cat "$W/out"
n=$("$T" status "$W/s" --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["evidence"]))')
[ "$n" -ge 1 ] && ok || bad "the street holds no evidence after the forged imports ($n)"
if [ $browser = 1 ]; then
	timeout 300 "$PY" "$top/tests/web/evidence_browser_test.py" some "$URL" "$OUT" "$n" >"$W/out" 2>&1 && ok ||
		bad "browser: evidence panel"
	cat "$W/out"
fi
echo "screenshots in $OUT"
finish
