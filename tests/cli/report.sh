#!/usr/bin/env bash
# Reports: every figure checked against the records, counted here with
# plain SQL over the replica, at district, street and village, with and
# without a period; a street's own report after sync equals the district's
# view of that street; the HTML report opened in headless Chromium.
source "$(dirname "$0")/lib.sh"
OUT=${TSYNC_TEST_OUT:-$W}/report
mkdir -p "$OUT"
node d gangzha
expect 0 "$T" generate "$W/d" --seed 7 --streets 2 --villages 3 --years 2 --end-year 2026
has '^generated [0-9]+ records'
expect 0 "$T" check "$W/d"
has 'all records keep the rules'
expect 0 "$T" verify "$W/d"

# report.py SCOPE FROM TO: checks one report's JSON against the database
cat >"$W/report.py" <<'PY'
import json, sqlite3, subprocess, sys
T, node, scope, frm, to = sys.argv[1:6]
frm = frm or None; to = to or None
args = [T, "report", node, "--format", "json", "--scope", scope]
if frm: args += ["--from", frm]
if to: args += ["--to", to]
rep = json.loads(subprocess.run(args, check=True, capture_output=True).stdout)
db = sqlite3.connect(f"file:{node}/replica.db?mode=ro", uri=True)
bad = 0
def inper(col):
    return (f" AND ({col} >= :f OR :f IS NULL) AND ({col} <= :t OR :t IS NULL)")
def under(s):
    return "(scope = :s OR scope LIKE :s || '/%') AND scope NOT LIKE '%*'"
def n(sql, s, **kw):
    return db.execute(sql, dict(s=s, f=frm, t=to, **kw)).fetchone()[0] or 0
def want(s):
    w = {}
    U = under(s)
    w["disputes"] = n(f"SELECT count(*) FROM disputes WHERE {U}" + inper("opened"), s)
    w["mediated"] = n(f"SELECT count(*) FROM disputes WHERE {U} AND status IN ('resolved','failed','referred')" + inper("closed"), s)
    w["resolved"] = n(f"SELECT count(*) FROM disputes WHERE {U} AND status = 'resolved'" + inper("closed"), s)
    w["sessions"] = n(f"SELECT count(*) FROM mediations WHERE {U}" + inper("date"), s)
    w["consults"] = n(f"SELECT count(*) FROM consults WHERE {U}" + inper("date"), s)
    w["petitions"] = n(f"SELECT count(*) FROM petitions WHERE {U}" + inper("received"), s)
    w["events"] = n(f"SELECT count(*) FROM events WHERE {U}" + inper("date"), s)
    w["audience"] = n(f"SELECT sum(audience) FROM events WHERE {U}" + inper("date"), s)
    w["specials"] = n(f"SELECT count(*) FROM specials WHERE {U} AND (since <= :t OR :t IS NULL) AND (until IS NULL OR until >= :f OR :f IS NULL)", s)
    w["visits"] = n(f"SELECT count(*) FROM visits WHERE {U}" + inper("date"), s)
    w["risks"] = n(f"SELECT count(*) FROM risks WHERE {U}" + inper("date"), s)
    w["meetings"] = n(f"SELECT count(*) FROM meetings WHERE {U}" + inper("date"), s)
    w["grid_reports"] = n(f"SELECT count(*) FROM grid_reports WHERE {U}" + inper("date"), s)
    for cat in ("land", "family", "marriage", "neighbour", "labour", "traffic", "property", "other"):
        w["by_category." + cat] = n(f"SELECT count(*) FROM disputes WHERE {U} AND category = :c" + inper("opened"), s, c=cat)
    for src in ("walkin", "grid", "police", "petition", "screening"):
        w["by_source." + src] = n(f"SELECT count(*) FROM disputes WHERE {U} AND source = :c" + inper("opened"), s, c=src)
    for st in ("registered", "mediating", "resolved", "failed", "referred"):
        w["by_status." + st] = n(f"SELECT count(*) FROM disputes WHERE {U} AND status = :c" + inper("opened"), s, c=st)
    for r in ("court", "procuratorate", "police", "justice", "government", "local"):
        w["petitions_routed." + r] = n(f"SELECT count(*) FROM petitions WHERE {U} AND routed_to = :c" + inper("received"), s, c=r)
    for k in ("lecture", "saturday", "youth", "quiz", "mocktrial", "enterprise"):
        w["events_by_kind." + k] = n(f"SELECT count(*) FROM events WHERE {U} AND kind = :c" + inper("date"), s, c=k)
    for k in ("weekly", "monthly"):
        w["meetings_by_kind." + k] = n(f"SELECT count(*) FROM meetings WHERE {U} AND kind = :c" + inper("date"), s, c=k)
    return w
def got(fig, key):
    if "." in key:
        a, b = key.split(".")
        return fig.get(a, {}).get(b, 0)
    return fig[key]
def compare(fig, s, where):
    global bad
    w = want(s)
    for k, v in w.items():
        if got(fig, k) != v:
            print(f"FAIL: {where} {k}: report {got(fig, k)}, records {v}"); bad += 1
    rate = fig["success_rate"]
    exp = (w["resolved"] / w["mediated"]) if w["mediated"] else None
    if (rate is None) != (exp is None) or (rate is not None and abs(rate - exp) > 1e-9):
        print(f"FAIL: {where} success_rate {rate} != {exp}"); bad += 1
    return w
tot = compare(rep["totals"], scope, f"{scope} totals")
if tot["disputes"] == 0:
    print(f"FAIL: {scope}: no disputes to check"); bad += 1
kids = {c["scope"]: c for c in rep["children"]}
depth = scope.count("/") + 1
expect_kids = {r[0] for r in db.execute(
    "SELECT DISTINCT path FROM offices WHERE path LIKE :s || '/%' AND length(path) - length(replace(path, '/', '')) = :d",
    dict(s=scope, d=depth))}
if set(kids) - {scope} != expect_kids:
    print(f"FAIL: {scope} children {sorted(kids)} != {sorted(expect_kids)}"); bad += 1
sums = {}
for s, c in kids.items():
    w = compare(c, s, f"{scope} child {s}") if s != scope else None
    for k in ("disputes", "events", "audience", "visits"):
        sums[k] = sums.get(k, 0) + c[k]
for k, v in sums.items():
    if v != rep["totals"][k]:
        print(f"FAIL: {scope}: children's {k} add to {v}, total {rep['totals'][k]}"); bad += 1
print(f"{scope} {frm}..{to}: disputes {tot['disputes']}, children {len(kids)}, {bad} mismatches")
json.dump(rep, open(sys.argv[6], "w"))
sys.exit(1 if bad else 0)
PY
chk() { # NODE SCOPE FROM TO
	if python3 "$W/report.py" "$T" "$W/$1" "$2" "$3" "$4" "$W/last.json" >"$W/out" 2>&1; then ok; else
		bad "report $*"; sed 's/^/    /' "$W/out" >&2; fi
	cat "$W/out"
}
chk d gangzha "" ""
chk d gangzha 2025-01-01 2025-12-31
chk d gangzha 2026-03-01 2026-08-31
chk d gangzha/qinzao "" ""
chk d gangzha/qinzao 2026-01-01 2026-06-30
chk d gangzha/tangzha/xinmin 2025-01-01 2025-12-31

# A street's own replica, after sync, reports exactly what the district
# says of that street.
node s gangzha/qinzao
P=$(free_port)
sed -i "s/^listen = .*/listen = 127.0.0.1:$P/" "$W/d/tiersync.conf"
serve d
wait_port "$P"
expect 0 "$T" sync "$W/s" --peer 127.0.0.1:$P --timeout 60
chk s gangzha/qinzao 2025-01-01 2025-12-31
expect 0 "$T" report "$W/s" --from 2025-01-01 --to 2025-12-31 --format json
python3 - "$W/out" "$W/last.json" <<'PY' && ok || bad "street report differs from the district's view"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b): r.pop("generated_at")
assert a["totals"] == b["totals"] and a["children"] == b["children"], "differ"
PY
# A village's report at the street: one row of its own
expect 0 "$T" report "$W/s" --scope gangzha/qinzao/feiqiao --format text
has '^费桥村 \(gangzha/qinzao/feiqiao\) 工作报告'
has '矛盾纠纷 登记 [0-9]+ 件'

# Bad arguments
expect 1 "$T" report "$W/d" --from 2026-13-01
has "from: '2026-13-01' is not a date"
expect 1 "$T" report "$W/d" --to 2026-11-31
has "to: '2026-11-31' is not a date"
expect 1 "$T" report "$W/d" --from 2026-05-01 --to 2026-01-01
has 'is before --from'
expect 1 "$T" report "$W/d" --scope 'gangzha/'
has 'not a scope path'
expect 2 "$T" report "$W/d" --format pdf

# The HTML report: one self-contained file, opened in a real browser
expect 0 "$T" report "$W/d" --from 2025-01-01 --to 2026-12-31 --format html --out "$OUT/district.html"
expect 0 "$T" report "$W/d" --from 2025-01-01 --to 2026-12-31 --format json --out "$W/district.json"
if grep -qiE '<script|src=|href=|@import|url\(' "$OUT/district.html"; then
	bad "the HTML report reaches outside itself"; else ok; fi
CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ]; then
	bad "chromium is not installed (scripts/setup.sh installs it)"
else
	flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$W/chrome")
	timeout 60 "$CHROME" "${flags[@]}" --dump-dom "file://$OUT/district.html" >"$W/dom.html" 2>"$W/chrome.log"
	timeout 60 "$CHROME" "${flags[@]}" --window-size=1280,2400 \
		--screenshot="$OUT/district.png" "file://$OUT/district.html" >>"$W/chrome.log" 2>&1
	[ -s "$OUT/district.png" ] && ok || bad "no screenshot of the report"
	python3 - "$W/dom.html" "$W/district.json" <<'PY' && ok || bad "rendered report does not match the JSON report"
import json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
rep = json.load(open(sys.argv[2]))
t = rep["totals"]
assert "三所共建工作报告" in dom, "title missing"
for key in ("disputes", "mediated", "resolved", "consults", "petitions", "events", "audience", "visits", "risks", "meetings"):
    m = re.search(r'id="t-%s">(\d+)<' % key, dom)
    assert m and int(m.group(1)) == t[key], (key, m and m.group(1), t[key])
for chart in ("c-category", "c-source", "c-status", "c-routed", "c-events", "c-kids"):
    assert re.search(r'<svg[^>]*id="%s"' % chart, dom), chart
bars = re.findall(r'<rect class="bar"[^>]*data-value="(\d+)"', dom)
assert len(bars) >= 20, len(bars)
cat = re.search(r'<svg[^>]*id="c-category".*?</svg>', dom, re.S).group(0)
vals = [int(v) for v in re.findall(r'data-value="(\d+)"', cat)]
assert sum(vals) == t["disputes"], (vals, t["disputes"])
rows = re.findall(r'<tr data-scope="([^"]+)"><td>[^<]*</td><td data-key="disputes">(\d+)</td>', dom)
assert {s: int(v) for s, v in rows} == {c["scope"]: c["disputes"] for c in rep["children"]}, rows
print("html ok:", len(bars), "bars")
PY
fi
echo "report and screenshot kept in $OUT"
finish
