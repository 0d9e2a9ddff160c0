#!/usr/bin/env bash
# The web app: API tests for every endpoint (tests/web/api_test.py) and
# browser tests in headless Chromium (tests/web/browser_test.py) against
# real nodes: a village under a street, each serving the app beside sync,
# a loopback node with no account (opens directly), and a node on a
# non-loopback address that requires login.  Screenshots are kept in
# TSYNC_TEST_OUT/web.
source "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TSYNC_TEST_OUT:-$W}/web
mkdir -p "$OUT"
node s gangzha/qinzao
node v gangzha/qinzao/feiqiao
node o gangzha/qinzao/xinhe
node p gangzha/tangzha
PS=$(free_port); HV=$(free_port); HS=$(free_port); HO=$(free_port); HP=$(free_port)
PO=$(free_port); PP=$(free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$PS/" "$W/s/tiersync.conf"
sed -i "s/^listen = .*/listen = 127.0.0.1:$PO/" "$W/o/tiersync.conf"
sed -i "s/^listen = .*/listen = 127.0.0.1:$PP/" "$W/p/tiersync.conf"
# Debian's python3 has Debian's selenium (another python3 may come first)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
sed -i "s/^parent = .*/parent = 127.0.0.1:$PS/" "$W/v/tiersync.conf"
sed -i "s/^http_listen = .*//; \$a http_listen = 127.0.0.1:$HS" "$W/s/tiersync.conf"
# Accounts: passwords on stdin; bad ones refused
echo clerk-pass-1 | expect 0 "$T" user add "$W/v" wangfang --role clerk
echo viewer-pass-1 | expect 0 "$T" user add "$W/v" guest --role viewer
echo lock-pass-1 | expect 0 "$T" user add "$W/v" locktest --role clerk
echo short | expect 1 "$T" user add "$W/v" x --role clerk
has 'at least 8 characters'
echo whatever-1 | expect 1 "$T" user add "$W/v" y --role boss
has "role 'boss'"
echo clerk-pass-1 | expect 1 "$T" user add "$W/v" wangfang --role clerk
has 'already exists'
echo street-pass-1 | expect 0 "$T" user add "$W/s" zhoulei --role clerk
echo public-pass-1 | expect 0 "$T" user add "$W/p" admin --role admin
expect 0 "$T" user list "$W/v"
has '^guest +viewer'
if grep -q 'pass-1' "$W/v/users.db"; then bad "a password is stored in clear"; else ok; fi
# Off loopback the app refuses to start without an account
expect 1 "$T" serve "$W/o" --http 0.0.0.0:$HO
has 'needs an account'
expect 1 "$T" serve "$W/o" --http nonsense
has 'give ADDR:PORT'

# The street publishes its offices to its villages
expect 0 "$T" office add "$W/s" --path gangzha/qinzao --name 秦灶街道 --short 秦灶 --tier street --by 周磊
expect 0 "$T" office add "$W/s" --path gangzha/qinzao/feiqiao --name 费桥村 --short 费桥 --tier village --by 周磊
serve s
serve v --http 127.0.0.1:$HV
echo "$PID_v" >"$W/v.pid"
serve o --http 127.0.0.1:$HO
serve p --http 0.0.0.0:$HP
for p in $PS $HV $HS $HO $HP; do wait_port "$p"; done
offices_at_v() { [ "$("$T" sql "$W/v" "SELECT count(*) FROM offices" | tail -1)" = 2 ]; }
wait_for 15 offices_at_v && ok ||
	bad "the street's offices did not reach the village"

"$PY" "$top/tests/web/api_test.py" http://127.0.0.1:$HV http://127.0.0.1:$HS http://127.0.0.1:$HO >"$W/out" 2>&1 && ok ||
	bad "API tests"
cat "$W/out"
if [ -x /usr/bin/chromedriver ] && "$PY" -c 'import selenium' 2>/dev/null; then
	timeout 300 "$PY" "$top/tests/web/browser_test.py" "$T" "$W/v" http://127.0.0.1:$HV "$W/s" \
		http://127.0.0.1:$HS http://127.0.0.1:$HP "$OUT" "$W/v.pid" >"$W/out" 2>&1 && ok || bad "browser tests"
	cat "$W/out"
	kill "$(cat "$W/v.pid")" 2>/dev/null
else
	bad "chromium-driver or python3-selenium missing (scripts/setup.sh installs them)"
fi
echo "screenshots in $OUT"
finish
