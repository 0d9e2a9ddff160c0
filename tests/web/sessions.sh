#!/usr/bin/env bash
# A change to an account ends its open sessions in the web app at once:
# `tiersync user disable|role|passwd|remove` in another process, and the
# person's next request (on every browser) is refused with the reason and
# lands on the login page.  `user enable` lets the account in again, and
# the sessions the disable ended stay ended.  HTTP checks (tests/web/session_test.py) always;
# the browser checks in headless Chromium when chromium-driver and
# python3-selenium are there.  Screenshots in TSYNC_TEST_OUT/web-sessions.
source "$(dirname "$0")/../cli/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TSYNC_TEST_OUT:-$W}/web-sessions
mkdir -p "$OUT"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
node v gangzha/qinzao/feiqiao
PV=$(free_port); HV=$(free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$PV/" "$W/v/tiersync.conf"
for u in lihua:clerk zhangwei:clerk wujing:lawyer wangfang:clerk zhaomin:clerk sunli:clerk; do
	echo "${u%%:*}-pass-1" | expect 0 "$T" user add "$W/v" "${u%%:*}" --role "${u#*:}"
done
# The new verbs refuse what they cannot do
expect 1 "$T" user role "$W/v" lihua --role boss
has "role 'boss'"
expect 2 "$T" user role "$W/v" lihua
expect 1 "$T" user role "$W/v" nobody --role viewer
has 'no account nobody'
expect 1 "$T" user remove "$W/v" nobody
has 'no account nobody'
expect 1 "$T" user enable "$W/v" nobody
has 'no account nobody'
expect 1 "$T" user enable "$W/v" lihua
has 'account lihua is not disabled: nothing to enable'
expect 2 "$T" user enable "$W/v"
has "give the account's NAME"
# enable after disable, and the lock-out cleared, without the app
expect 0 "$T" user disable "$W/v" zhaomin
expect 0 "$T" user list "$W/v"
has '^zhaomin +clerk +disabled'
expect 0 "$T" user enable "$W/v" zhaomin
has '^account zhaomin: enable$'
expect 0 "$T" user list "$W/v"
has '^zhaomin +clerk *$'
expect 0 "$T" user list "$W/v"
has '^lihua +clerk'
serve v --http 127.0.0.1:$HV
wait_port "$HV"

"$PY" "$top/tests/web/session_test.py" "$T" "$W/v" http://127.0.0.1:$HV >"$W/out" 2>&1 && ok ||
	bad "session API tests"
cat "$W/out"
if [ -x /usr/bin/chromedriver ] && "$PY" -c 'import selenium' 2>/dev/null; then
	timeout 300 "$PY" "$top/tests/web/session_browser_test.py" "$T" "$W/v" http://127.0.0.1:$HV \
		"$OUT" >"$W/out" 2>&1 && ok || bad "session browser tests"
	cat "$W/out"
else
	bad "chromium-driver or python3-selenium missing (scripts/setup.sh installs them)"
fi
echo "screenshots in $OUT"
finish
