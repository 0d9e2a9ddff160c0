"""HTTP tests: a change to an account ends its open sessions at their
next request; and the dashboard's figures, kept between requests while
the replica is unchanged, follow every write.  Run by
tests/web/sessions.sh: TIERSYNC NODE_DIR URL."""
import json, sqlite3, subprocess, sys, urllib.error, urllib.request
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from webtest import Client, check, finish

T, vdir, url = sys.argv[1:4]


def user(*args, stdin=None):
    r = subprocess.run([T, "user", args[0], vdir, *args[1:]], input=stdin,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"tiersync user {' '.join(args)}: {r.stderr}")


def logged_in(name, pw):
    c = Client(url)
    s, j = c.login(name, pw)
    check(s == 200, f"login {name}: {s} {j}")
    return c


def ended(c, word, what):
    """The next request is refused as an ended session naming `word`, and
    the cookie is cleared; the one after is a plain 'log in first'."""
    s, j, h = c.call("GET", "/api/status")
    check(s == 401 and isinstance(j, dict) and j.get("ended") is True and word in j.get("error", ""),
          f"{what}: next request 401 ended with '{word}': {s} {j}")
    check("tsid=;" in (h.get("Set-Cookie") or "") and "Max-Age=0" in (h.get("Set-Cookie") or ""),
          f"{what}: the cookie is cleared: {h.get('Set-Cookie')}")
    s, j, _ = c.call("GET", "/api/records/dispute")
    check(s == 401 and "ended" not in j, f"{what}: the session stays ended: {s} {j}")


def with_cookie(tok):
    """GET /api/status sending the cookie tsid=tok by hand, as a browser
    that kept an old cookie would."""
    req = urllib.request.Request(url + "/api/status", headers={"Cookie": "tsid=" + tok})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def alive(c, what):
    s, j, _ = c.call("GET", "/api/status")
    check(s == 200, f"{what}: session still open: {s} {j}")


# --- disable: every session of the account ends; the others' do not
a1, a2 = logged_in("lihua", "lihua-pass-1"), logged_in("lihua", "lihua-pass-1")
z = logged_in("zhangwei", "zhangwei-pass-1")
alive(a1, "before disable")
alive(a2, "before disable, second browser")
user("disable", "lihua")
ended(a1, "停用", "disabled")
ended(a2, "停用", "disabled, second browser")
alive(z, "another account, after lihua was disabled")
s, j = Client(url).login("lihua", "lihua-pass-1")
check(s == 403, f"a disabled account cannot log in again: {s} {j}")

# --- enable: the account logs in again, its lock-out cleared; the
# sessions the disable ended stay ended, also one that made no request
# while the account was disabled, and an old cookie sent by hand
e1, e2 = logged_in("sunli", "sunli-pass-1"), logged_in("sunli", "sunli-pass-1")
tok1, tok2 = e1.tsid(), e2.tsid()
check(tok1 and tok2 and tok1 != tok2, f"two sessions, two cookies: {tok1} {tok2}")
user("disable", "sunli")
ended(e1, "停用", "disabled before enable")
x = Client(url)
for i in range(5):
    s, j = x.login("sunli", "sunli-pass-1")
    check(s == 403, f"disabled: login {i + 1} refused with the right password: {s} {j}")
s, j = x.login("sunli", "sunli-pass-1")
check(s == 429, f"five refused logins lock the disabled account: {s} {j}")
user("enable", "sunli")
ended(e2, "停用", "a session idle from before disable until after enable")
for tok, what in ((tok1, "the cookie the disable ended"), (tok2, "the idle session's cookie")):
    s, j = with_cookie(tok)
    check(s == 401 and "ended" not in j, f"after enable, {what} stays dead: {s} {j}")
e3 = Client(url)
s, j = e3.login("sunli", "sunli-pass-1")
check(s == 200 and j.get("user") == "sunli" and j.get("role") == "clerk",
      f"after enable, login works at once (the lock cleared): {s} {j}")
check(e3.tsid() not in (tok1, tok2), "the new login has a new cookie")
alive(e3, "the session opened after enable")
s, j, _ = e3.call("POST", "/api/records/dispute", {})
check(s == 400, f"and the clerk can write again: {s} {j}")
r = subprocess.run([T, "user", "list", vdir], capture_output=True, text=True, timeout=60)
line = next((l for l in r.stdout.splitlines() if l.startswith("sunli ")), "")
check(line.split() == ["sunli", "clerk"], f"user list: neither disabled nor locked: '{line}'")

# --- a new role: the session ends; logged in again, the new role applies
s, j, _ = z.call("POST", "/api/records/dispute", {})
check(s == 400, f"a clerk's write reaches validation: {s} {j}")
user("role", "zhangwei", "--role", "viewer")
ended(z, "角色", "role changed")
z = logged_in("zhangwei", "zhangwei-pass-1")
s, j, _ = z.call("GET", "/api/session")
check(s == 200 and j["role"] == "viewer", f"the new role after login: {j}")
s, j, _ = z.call("POST", "/api/records/dispute", {})
check(s == 403 and j.get("field") == "role", f"the viewer's write refused: {s} {j}")
# The same role again changes nothing: the session stays
user("role", "zhangwei", "--role", "viewer")
alive(z, "role set to the one it had")

# --- a new password: the session ends; the old password no longer works
user("passwd", "zhangwei", stdin="zhangwei-pass-2\n")
ended(z, "密码", "password changed")
s, j = Client(url).login("zhangwei", "zhangwei-pass-1")
check(s == 403, f"the old password refused: {s}")
z = logged_in("zhangwei", "zhangwei-pass-2")

# --- removed: the session ends, and the name cannot log in
user("remove", "zhangwei")
ended(z, "删除", "removed")
s, j = Client(url).login("zhangwei", "zhangwei-pass-2")
check(s == 403, f"a removed account cannot log in: {s}")

# --- a lock-out by someone else's wrong passwords does not end a session
w = logged_in("wujing", "wujing-pass-1")
x = Client(url)
for i in range(5):
    x.login("wujing", "wrong-password")
s, j = x.login("wujing", "wujing-pass-1")
check(s == 429, f"the account is locked: {s} {j}")
alive(w, "the owner's session through a lock-out by failed logins")
s, j, _ = w.call("POST", "/api/records/dispute", {})
check(s == 400, f"and can still write: {s} {j}")

# --- users.db held by another process past the 5 s busy timeout: the
# request is refused (503), and the session is kept for the next one
lock = sqlite3.connect(vdir + "/users.db", isolation_level=None)
lock.execute("BEGIN EXCLUSIVE")
s, j, _ = w.call("GET", "/api/status")
check(s == 503 and j.get("field") == "session" and "ended" not in j,
      f"accounts unreadable: 503, nothing ended: {s} {j}")
lock.execute("ROLLBACK")
lock.close()
alive(w, "the session after users.db was unreadable for a while")

# --- The dashboard's figures (kept while the replica is unchanged) follow
# a write by another process and a write through the app itself
def status(c):
    s, j, _ = c.call("GET", "/api/status")
    check(s == 200, f"status: {s} {j}")
    return j


def cli(*args):
    r = subprocess.run([T, *args], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"tiersync {' '.join(args)}: {r.stderr}")
    return r.stdout


before = status(w)
check(status(w) == before, "the same figures twice with no write between")
out = cli("dispute", "add", vdir, "--category", "family", "--source", "walkin", "--title", "排水沟纠纷",
          "--parties", "张三", "--risk", "high", "--lead", "judicial", "--opened", "2026-03-05", "--by", "王芳")
dno = out.split()[-1]
j = status(w)
check(j["open_by_risk"].get("high", 0) == before["open_by_risk"].get("high", 0) + 1,
      f"a dispute added by another process is counted at once: {before['open_by_risk']} -> {j['open_by_risk']}")
s, j, _ = w.call("POST", "/api/records/dispute", {
    "title": "宅基地纠纷", "category": "family", "source": "walkin", "parties": ["李四"], "risk": "low",
    "lead": "judicial", "opened": "2026-03-06"})
check(s == 201, f"a dispute added through the app: {s} {j}")
j = status(w)
check(j["open_by_risk"].get("low", 0) == before["open_by_risk"].get("low", 0) + 1,
      f"a dispute added through the app is counted at once: {j['open_by_risk']}")
cli("dispute", "mediate", vdir, dno, "--by", "王芳")
j = status(w)
check(j["mediating"]["total"] == before["mediating"]["total"] + 1 and
      dno in [r["no"] for r in j["mediating"]["records"]],
      f"a mediation started by another process is listed at once: {j['mediating']}")

finish()
