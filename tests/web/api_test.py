"""API tests for the web app: every endpoint, bad input, CSRF, roles,
lock-out.  Run by tests/cli/web.sh with the addresses of running nodes."""
import sys, urllib.request
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from webtest import Client, check, finish

village, street, open_url = sys.argv[1:4]


# --- Sessions and login
c = Client(village)
s, j, _ = c.call("GET", "/api/session")
check(s == 401 and "log in" in j["error"], f"no session is 401: {s} {j}")
s, j, _ = c.call("GET", "/api/records/dispute")
check(s == 401, "records need a session")
s, j = c.login("wangfang", "wrong-password")
check(s == 403 and j["field"] == "password", f"wrong password 403 at field password: {s} {j}")
s, j = c.login("wangfang", "clerk-pass-1")
check(s == 200 and j["role"] == "clerk" and len(j["csrf"]) == 64, f"login: {s} {j}")
cookie = [x for x in c.jar][0]
check(cookie.name == "tsid" and cookie.has_nonstandard_attr("HttpOnly"), "HttpOnly session cookie")
s, j, h = c.call("GET", "/api/session")
check(s == 200 and j["node"]["scope"] == "gangzha/qinzao/feiqiao", "session names the node")
check(h["Cache-Control"] == "no-store", "API responses are not cached")

# --- Static files: types and caching
s, body, h = c.call("GET", "/")
check(s == 200 and h["Content-Type"].startswith("text/html") and b"app.js" in body["raw"], "index.html")
s, body, h = c.call("GET", "/app.js")
check(s == 200 and h["Content-Type"].startswith("text/javascript") and "max-age" in h["Cache-Control"], "app.js type and caching")
s, body, h = c.call("GET", "/app.css")
check(s == 200 and h["Content-Type"].startswith("text/css"), "app.css type")
s, body, h = c.call("GET", "/nope.js")
check(s == 404, "unknown file 404")
s, j, _ = c.call("GET", "/api/nope")
check(s == 404, "unknown API 404")

# --- Kinds and status
s, j, _ = c.call("GET", "/api/kinds")
names = [k["name"] for k in j]
check(s == 200 and "dispute" in names and len(names) == 12, f"kinds: {names}")
cat = [f for f in j[names.index("dispute")]["fields"] if f["name"] == "category"][0]
check({"code": "family", "label": "家庭纠纷"} in cat["choices"], "choices carry code and label")
s, j, _ = c.call("GET", "/api/status")
check(s == 200 and "open_by_risk" in j and isinstance(j["peers"], list), f"status: {j}")

# --- Writes: CSRF, validation, types
d = {"title": "宅基地纠纷", "category": "家庭纠纷", "source": "walkin", "parties": ["张三", "李四"],
     "risk": "low", "lead": "judicial", "opened": "2026-03-05"}
s, j, _ = c.call("POST", "/api/records/dispute", d, csrf=False)
check(s == 403 and j["field"] == "csrf", f"missing CSRF 403: {s} {j}")
s, j, _ = c.call("POST", "/api/records/dispute", d, csrf=False, headers={"X-CSRF-Token": "0" * 64})
check(s == 403 and j["field"] == "csrf", "forged CSRF 403")
s, j, _ = c.call("POST", "/api/records/dispute", raw=b'{"title": ')
check(s == 400 and j["field"] == "body" and "bad JSON" in j["error"], f"bad JSON 400: {j}")
s, j, _ = c.call("POST", "/api/records/dispute", raw=b'[1,2]')
check(s == 400 and j["field"] == "body", "not an object 400")
s, j, _ = c.call("POST", "/api/records/dispute", dict(d, category="famly"))
check(s == 400 and j["field"] == "category" and "family 家庭纠纷" in j["error"], f"enum 400 at field: {j}")
s, j, _ = c.call("POST", "/api/records/dispute", dict(d, opened="2026-02-30"))
check(s == 400 and j["field"] == "opened", f"bad date 400: {j}")
s, j, _ = c.call("POST", "/api/records/dispute", dict(d, parties=[1, 2]))
check(s == 400 and j["field"] == "parties", f"wrong type 400: {j}")
s, j, _ = c.call("POST", "/api/records/event", {"kind": "lecture", "title": "t", "date": "2026-03-01", "place": "p", "audience": "many"})
check(s == 400 and j["field"] == "audience", f"int field 400: {j}")
s, j, _ = c.call("POST", "/api/records/dispute", dict(d, nosuch=1))
check(s == 400 and j["field"] == "nosuch", f"unknown field 400: {j}")
s, j, _ = c.call("POST", "/api/records/dispute", raw=b'{"x":"' + b"a" * 300000 + b'"}')
check(s == 413, f"body over 256 KiB is 413: {s}")
s, j, _ = c.call("GET", "/api/records/dispute")
before = j["total"]
s, j, _ = c.call("POST", "/api/records/dispute", d)
check(s == 201 and j["recorded_by"] == "wangfang" and j["category"] == "family", f"add 201: {s} {j}")
did, dno = j["id"], j["no"]
s, j, _ = c.call("GET", "/api/records/dispute")
check(j["total"] == before + 1, "refused writes wrote nothing; the good one landed")
s, j, _ = c.call("GET", "/api/records/dispute/" + urllib.request.quote(dno))
check(s == 200 and j["id"] == did, "get by number")
s, j, _ = c.call("GET", "/api/records/dispute/nope")
check(s == 404, "get unknown 404")
s, j, _ = c.call("GET", "/api/records/nokind")
check(s == 404 and j["field"] == "kind", "unknown kind 404")
s, j, _ = c.call("PATCH", "/api/records/dispute/" + did, {"status": "resolved", "closed": "2026-03-09", "outcome": "和解"})
check(s == 400 and j["field"] == "status" and "never mediated" in j["error"], f"workflow step 400: {j}")
s, j, _ = c.call("PATCH", "/api/records/dispute/" + did, {"status": "mediating"})
check(s == 200 and j["status"] == "mediating", "patch")
s, sess, _ = c.call("GET", "/api/session")
s, j, _ = c.call("GET", "/api/provenance/dispute/" + did)
cols = {x["column"]: x for x in j.get("columns", [])}
check(s == 200 and cols["title"]["origin"] == sess["node"]["id"] and cols["title"]["value"] == "宅基地纠纷"
      and cols["status"]["stream_scope"] == "gangzha/qinzao/feiqiao" and cols["status"]["seq"] >= 2
      and cols["status"]["seq"] > cols["title"]["seq"] and cols["category"]["label"] == "类别",
      f"provenance: {s} {j}")
s, j, _ = c.call("GET", "/api/provenance/dispute/nope")
check(s == 404, "provenance of nothing 404")
s, j, _ = c.call("DELETE", "/api/records/dispute/" + did, {})
check(s == 405, "no DELETE")
s, j, _ = c.call("GET", "/api/records/dispute?limit=0")
check(s == 400 and j["field"] == "limit", "limit 400")
s, j, _ = c.call("GET", "/api/records/dispute?status=mediating&search=" + urllib.request.quote("宅基地") + "&limit=5&page=1")
check(s == 200 and j["total"] >= 1 and all(r["status"] == "mediating" for r in j["records"]), "list filters")
s, j, _ = c.call("GET", "/api/records/dispute?category=" + urllib.request.quote("家家"))
check(s == 400 and j["field"] == "category", "bad filter 400")

# --- Report, verify, conflicts
s, j, _ = c.call("GET", "/api/report?from=2026-01-01&to=2026-12-31")
check(s == 200 and j["totals"]["disputes"] >= 1, "report")
s, j, _ = c.call("GET", "/api/report?from=2026-13-01")
check(s == 400 and "from" in j["error"], "report bad date 400")
s, body, h = c.call("GET", "/report.html?from=2026-01-01")
check(s == 200 and h["Content-Type"].startswith("text/html") and "三所共建工作报告".encode() in body["raw"], "printable report")
s, j, _ = c.call("GET", "/api/verify")
check(s == 200 and j["clean"] is True and j["faults"] == [], f"verify: {j}")
s, j, _ = c.call("GET", "/api/conflicts")
check(s == 200 and isinstance(j, list), "conflicts list")
s, j, _ = c.call("POST", "/api/conflicts/abc", {"keep": "both"})
check(s == 400 and j["field"] == "keep", "resolve bad keep 400")
s, j, _ = c.call("POST", "/api/conflicts/abcdefabcdef", {"keep": "mine"})
check(s == 404, f"resolve unknown 404: {s} {j}")

# --- Roles: a viewer reads only
v = Client(village)
s, j = v.login("guest", "viewer-pass-1")
check(s == 200 and j["role"] == "viewer", "viewer login")
s, j, _ = v.call("GET", "/api/records/dispute")
check(s == 200, "viewer reads")
s, j, _ = v.call("POST", "/api/records/dispute", d)
check(s == 403 and j["field"] == "role", f"viewer cannot write: {s} {j}")
s, j, _ = v.call("PATCH", "/api/records/dispute/" + did, {"risk": "high"})
check(s == 403, "viewer cannot patch")
s, j, _ = v.call("POST", "/api/conflicts/abcdefabcdef", {"keep": "mine"})
check(s == 403, "viewer cannot settle")

# --- Logout ends the session
s, j, _ = c.call("POST", "/api/logout", {})
check(s == 200, "logout")
s, j, _ = c.call("GET", "/api/records/dispute")
check(s == 401, "after logout 401")

# --- Lock-out after repeated failures
lk = Client(village)
for i in range(5):
    lk.login("locktest", "bad-password")
s, j = lk.login("locktest", "lock-pass-1")
check(s == 429 and "locked" in j["error"], f"locked after 5 failures: {s} {j}")

# --- The loopback node with no account opens directly
o = Client(open_url)
s, j, _ = o.call("GET", "/api/session")
check(s == 200 and j["open"] is True, f"open mode on loopback without accounts: {s} {j}")
o.csrf = j["csrf"]
s, j, _ = o.call("POST", "/api/records/consult", {"lawyer": "陈静", "topic": "t", "question": "q", "date": "2026-03-01"})
check(s == 201 and j["recorded_by"] == "本机用户", f"open mode writes: {s} {j}")

finish()
