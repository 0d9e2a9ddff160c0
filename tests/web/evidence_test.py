"""HTTP tests of equivocation evidence in the web API: none at first;
then forged txns of the village imported at the street; /api/status and
/api/evidence agree with `tiersync status --json`, newest first, with
Chinese labels, filtered by scope, for every role and for no one without
a session.  Run by tests/web/evidence.sh: TIERSYNC FORGE STREET_DIR
VILLAGE_DIR URL."""
import json, subprocess, sys, urllib.parse
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from webtest import Client, check, finish

T, F, sdir, vdir, url = sys.argv[1:6]
V = "gangzha/qinzao/feiqiao"


def client(name, pw):
    """A browser on the API, logged in as name (None: no session)."""
    c = Client(url)
    if name:
        s, _ = c.login(name, pw)
        check(s == 200, f"login {name}")
    return c


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


clerk, viewer = client("lihua", "lihua-pass-1"), client("zhaomin", "zhaomin-pass-1")

# --- none yet
s, j = clerk.get("/api/status")
check(s == 200 and j.get("evidence") == {"total": 0, "records": []}, f"status: no evidence: {s} {j.get('evidence')}")
s, j = clerk.get("/api/evidence")
check(s == 200 and j == {"total": 0, "records": []}, f"/api/evidence: none: {s} {j}")
s, j = client(None, None).get("/api/evidence")
check(s == 401 and j.get("field") == "session", f"/api/evidence without a session: {s} {j}")

# --- the village's key holder signs two histories; the street imports them
for mode in ("equivocate", "chain"):
    run(F, mode, vdir, f"{sdir}/../{mode}.tsb")
    run(T, "bundle", "import", sdir, f"{sdir}/../{mode}.tsb")
want = json.loads(run(T, "status", sdir, "--json"))["evidence"]
check(len(want) >= 1, f"the street holds evidence: {want}")
want.reverse()  # the API gives the newest first

s, st = clerk.get("/api/status")
ev = st.get("evidence", {})
check(s == 200 and ev.get("total") == len(want), f"status: total {ev.get('total')} == {len(want)}")
s, j = clerk.get("/api/evidence")
check(s == 200 and j.get("total") == len(want) and len(j.get("records", [])) == len(want),
      f"/api/evidence: {len(want)} records: {s} {j.get('total')}")
got = j.get("records", [])
for g, w in zip(got, want):
    for key in ("origin", "scope", "seq", "held", "other", "how", "seen_by", "peer", "seen_at_ms",
                "signed_bodies", "ours"):
        check(g.get(key) == w.get(key), f"{key}: API {g.get(key)} == status --json {w.get(key)}")
    check(g.get("scope_name") == "费桥村", f"the office by its name: {g.get('scope_name')}")
    check(g.get("how_label") and g["how_label"] != g["how"] and any("\u4e00" <= c <= "\u9fff" for c in g["how_label"]),
          f"how in Chinese: {g.get('how_label')}")
check([r["seen_at_ms"] for r in got] == sorted((r["seen_at_ms"] for r in got), reverse=True),
      "newest first")
check(ev.get("records") == got[:20], "the dashboard's records are /api/evidence's first 20")
check({r["how"] for r in got} >= {"txn", "chain"}, f"both forgeries seen: {[r['how'] for r in got]}")

# --- scope: the stream's scope and below
for scope, n in ((V, len(want)), ("gangzha/qinzao", len(want)), ("gangzha", len(want)),
                 ("gangzha/qinzao/tangzha", 0), (V + "x", 0), (V + "/g1", 0)):
    s, j = clerk.get("/api/evidence?scope=" + urllib.parse.quote(scope))
    check(s == 200 and j.get("total") == n and len(j.get("records", [])) == n,
          f"scope {scope}: {n} records: {s} {j.get('total')}")

# --- a viewer reads it too
s, j = viewer.get("/api/evidence")
check(s == 200 and j.get("total") == len(want), f"a viewer sees the evidence: {s} {j.get('total')}")

finish()
