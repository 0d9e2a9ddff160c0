"""Browser tests of the work room's web app in headless Chromium (Debian's
chromium and chromium-driver, driven by python3-selenium).  Screenshots of
every page go to OUT.  Run by tests/cli/web.sh."""
import json, os, signal, subprocess, sys, time
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from webtest import api_status, browser, check, el, finish, login, screenshots, shot, text, wait

T, vdir, vhttp, sdir, shttp, pubhttp, out, vpidfile = sys.argv[1:9]
screenshots(out)


def fill(d, values):
    for k, v in values.items():
        e = el(d, "#f-" + k)
        if e.tag_name == "select":
            Select(e).select_by_visible_text(v)
        elif e.get_attribute("type") == "date":
            d.execute_script("arguments[0].value = arguments[1]", e, v)
        else:
            e.clear()
            e.send_keys(v)


def cli(*args):
    return subprocess.run([T, *args], capture_output=True, text=True, timeout=60)


v = browser(height=1000)
try:
    # Login: a wrong password is shown at the field, then the right one
    v.get(vhttp + "/")
    wait(v, lambda: "#/login" in v.current_url, "redirect to login")
    shot(v, "01-login")
    login(v, vhttp, "wangfang", "not-the-password")
    wait(v, lambda: "错误" in text(v, "#err-password"), "login error at field")
    login(v, vhttp, "wangfang", "clerk-pass-1")
    wait(v, lambda: el(v, "#risk-cards"), "dashboard after login")
    check("费桥村" in text(v, "#office"), "office name in header")
    shot(v, "02-dashboard")

    # Add a dispute through the form; a missing title shows at the field
    v.get(vhttp + "/#/new/dispute")
    wait(v, lambda: el(v, "#f-title"), "dispute form")
    fill(v, {"category": "家庭纠纷", "source": "来访", "parties": "张建国、李秀英", "risk": "中",
             "lead": "三所联合", "opened": "2026-11-02", "summary": "两户因宅基地边界发生争执"})
    el(v, "#save").click()
    wait(v, lambda: "required" in text(v, "#err-title"), "validation error at the title field")
    check("bad" in el(v, "#row-title").get_attribute("class"), "the title row is marked")
    shot(v, "03-form-error")
    check(cli("dispute", "list", vdir, "--json").stdout.count('"title": "宅基地边界争议"') == 0,
          "nothing written by the refused form")
    fill(v, {"title": "宅基地边界争议"})
    el(v, "#save").click()
    wait(v, lambda: el(v, "#v-no") and text(v, "#v-no"), "record page after save")
    dno = text(v, "#v-no")
    check(dno.startswith("费桥2026-"), f"number {dno}")
    check(text(v, "#v-category") == "家庭纠纷" and text(v, "#v-status") == "已登记", "record shows labels")
    shot(v, "04-record")

    # Workflow: start mediation, record a session, close with an outcome
    el(v, "#start-mediation").click()
    wait(v, lambda: text(v, "#v-status") == "调解中", "status mediating")
    el(v, "#add-session").click()
    wait(v, lambda: el(v, "#f-participants"), "mediation form")
    fill(v, {"date": "2026-11-05", "participants": "王芳（司法所）、李强（派出所）", "result": "达成协议",
             "agreement": "重新确定界址"})
    shot(v, "05-mediation-form")
    el(v, "#save").click()
    wait(v, lambda: el(v, "#v-no") and "调2026" in text(v, "#v-no"), "mediation saved")
    v.get(vhttp + "/#/k/dispute")
    wait(v, lambda: el(v, "#list a"), "dispute list")
    shot(v, "06-list")
    el(v, "#list a").click()
    wait(v, lambda: el(v, "#close"), "close button")
    check("1" in text(v, "h2"), "the session is listed")
    el(v, "#close").click()
    wait(v, lambda: el(v, "#f-outcome"), "close form")
    fill(v, {"status": "调解成功", "closed": "2026-11-06", "outcome": "调解成功，签订协议"})
    shot(v, "07-close-form")
    el(v, "#save").click()
    wait(v, lambda: text(v, "#v-status") == "调解成功", "resolved")
    shot(v, "08-resolved")

    # The record reaches the street and its report
    s = browser(height=1000)
    login(s, shttp, "zhoulei", "street-pass-1")
    wait(s, lambda: el(s, "#risk-cards"), "street dashboard")
    ok = False
    for i in range(100):
        s.get(shttp + "/#/k/dispute?status=resolved&n=" + str(i))
        wait(s, lambda: el(s, "#total"), "street list")
        if dno in s.find_element(By.ID, "list").text:
            ok = True
            break
        time.sleep(0.2)
    check(ok, "the dispute reached the street")
    shot(s, "09-street-list")
    s.get(shttp + "/#/report?scope=gangzha/qinzao&from=2026-01-01&to=2026-12-31")
    wait(s, lambda: el(s, "#rt-disputes"), "street report")
    check(int(text(s, "#rt-disputes") or 0) >= 1 and text(s, "#rt-resolved") == "1", "street report counts it")
    check("费桥村" in text(s, "#report-children"), "a row for the village")
    shot(s, "10-street-report")

    # A conflict made by two nodes, settled on the conflict screen
    vpid = int(open(vpidfile).read())
    os.kill(vpid, signal.SIGTERM)
    time.sleep(0.5)
    r = cli("dispute", "update", vdir, dno, "--risk", "high", "--by", "王芳")
    check(r.returncode == 0, "village edit offline: " + r.stderr)
    s.get(shttp + "/#/k/dispute")
    wait(s, lambda: el(s, "#list a"), "street list")
    el(s, "#list a").click()
    wait(s, lambda: el(s, "#edit"), "edit button")
    el(s, "#edit").click()
    wait(s, lambda: el(s, "#f-risk"), "edit form")
    fill(s, {"risk": "低"})
    el(s, "#save").click()
    wait(s, lambda: text(s, "#v-risk") == "低", "street edit saved")
    vp = subprocess.Popen([T, "serve", vdir, "--http", vhttp.split("//")[1], "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(vpidfile, "w").write(str(vp.pid))
    ok = False
    for i in range(100):
        s.get(shttp + "/#/conflicts?n=" + str(i))
        wait(s, lambda: el(s, "h1"), "conflict page")
        if el(s, ".conflict"):
            ok = True
            break
        time.sleep(0.2)
    check(ok, "the conflict shows on the street's conflict screen")
    check("风险等级" in text(s, ".conflict h2") and dno in text(s, ".conflict h2"), "the conflict names record and field")
    vals = {el(s, ".mine").get_attribute("data-value"), el(s, ".theirs").get_attribute("data-value")}
    check(vals == {"low", "high"} and {text(s, ".mine"), text(s, ".theirs")} == {"低（low）", "高（high）"},
          "both values side by side, with their labels")
    shot(s, "11-conflict")
    # Settled by typing the label a clerk reads (高), after a value the
    # field does not have was refused with the allowed labels
    box = el(s, "[id^=value-]")
    box.send_keys("高风险")
    el(s, "[id^=keep-value-]").click()
    wait(s, lambda: "取值无效" in text(s, "#err-msg"), "a value the field lacks refused")
    check("风险等级可填：低、中、高、重大" in text(s, "#err-msg"), "the refusal lists the labels: " + text(s, "#err-msg"))
    check(el(s, ".conflict") is not None, "the conflict stays open after the refusal")
    shot(s, "11b-conflict-bad-value")
    box = el(s, "[id^=value-]")
    box.clear()
    box.send_keys("高")
    el(s, "[id^=keep-value-]").click()
    wait(s, lambda: el(s, "#no-conflicts"), "conflict settled")
    shot(s, "12-conflict-settled")
    ok = False
    for _ in range(100):
        r = cli("dispute", "show", vdir, dno, "--json")
        if '"risk": "high"' in r.stdout and cli("conflicts", vdir, "list").stdout.startswith("0 open"):
            ok = True
            break
        time.sleep(0.2)
    check(ok, "the settlement reached the village")
    # Two more conflicts, on a coded field (牵头单位) and a text field
    # (纠纷简要), made the same way: the village edits them offline, the
    # street in its form.  Settled with the buttons: 采用另一方 (keep
    # theirs) on one, 保留当前 (keep mine) on the other.
    vp.terminate()
    vp.wait(timeout=30)
    vsum, ssum = "村里补记：双方同意现场测量", "街道补记：请国土所到场"
    r = cli("dispute", "update", vdir, dno, "--lead", "judicial", "--summary", vsum, "--by", "王芳")
    check(r.returncode == 0, "village edits lead and summary offline: " + r.stderr)
    s.get(shttp + "/#/k/dispute?n=e2")
    wait(s, lambda: el(s, "#list a"), "street list for the second edit")
    el(s, "#list a").click()
    wait(s, lambda: el(s, "#edit"), "edit button")
    check(text(s, "#v-no") == dno, "the street edits the same record: " + text(s, "#v-no"))
    el(s, "#edit").click()
    wait(s, lambda: el(s, "#f-lead"), "edit form")
    fill(s, {"lead": "派出所", "summary": ssum})
    el(s, "#save").click()
    wait(s, lambda: text(s, "#v-lead") == "派出所" and text(s, "#v-summary") == ssum, "street edit saved")
    vp = subprocess.Popen([T, "serve", vdir, "--http", vhttp.split("//")[1], "--quiet"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(vpidfile, "w").write(str(vp.pid))

    def open_ids(node):
        r = cli("conflicts", node, "list", "--json")
        return {c["id"] for c in json.loads(r.stdout)} if r.returncode == 0 else None

    wait(s, lambda: len(open_ids(sdir) or ()) == 2, "two conflicts at the street")
    ids = open_ids(sdir)
    wait(s, lambda: open_ids(vdir) == ids, "the same two conflicts at the village")
    s.get(shttp + "/#/conflicts?n=two")
    wait(s, lambda: len(s.find_elements(By.CSS_SELECTOR, ".conflict")) == 2, "two conflicts on the screen")
    check(text(s, "h1") == "冲突（2）", "the heading counts two: " + text(s, "h1"))
    byfield = {}
    for c in s.find_elements(By.CSS_SELECTOR, ".conflict"):
        h2 = c.find_element(By.TAG_NAME, "h2").text
        f = "lead" if "牵头单位" in h2 else "summary" if "纠纷简要" in h2 else h2
        byfield[f] = {"id": c.get_attribute("id")[len("conflict-"):], "h2": h2,
                      "mine": c.find_element(By.CSS_SELECTOR, ".mine").get_attribute("data-value"),
                      "theirs": c.find_element(By.CSS_SELECTOR, ".theirs").get_attribute("data-value")}
    check(set(byfield) == {"lead", "summary"} and all(dno in x["h2"] for x in byfield.values()),
          "one conflict on 牵头单位, one on 纠纷简要, both of the record: " + str(byfield))
    check({x["id"] for x in byfield.values()} == ids, "the screen lists the node's conflicts")
    lead, summ = byfield["lead"], byfield["summary"]
    check({lead["mine"], lead["theirs"]} == {"judicial", "police"}, "lead: both values " + str(lead))
    check({summ["mine"], summ["theirs"]} == {vsum, ssum}, "summary: both values " + str(summ))
    check(text(s, "#keep-theirs-" + lead["id"]) == "采用另一方" and text(s, "#keep-mine-" + summ["id"]) == "保留当前",
          "the buttons' labels")
    shot(s, "12b-two-conflicts")
    el(s, "#keep-theirs-" + lead["id"]).click()
    wait(s, lambda: el(s, "#conflict-" + lead["id"]) is None and el(s, "#conflict-" + summ["id"])
         and text(s, "h1") == "冲突（1）", "keep theirs: the lead conflict gone, the summary one left")
    shot(s, "12c-conflict-kept-theirs")
    el(s, "#keep-mine-" + summ["id"]).click()
    wait(s, lambda: el(s, "#no-conflicts") and text(s, "h1") == "冲突（0）", "keep mine: no conflict left")
    shot(s, "12d-conflicts-kept-mine")
    leads = {"judicial": "司法所", "police": "派出所"}
    s.get(shttp + "/#/k/dispute?n=kept")
    wait(s, lambda: el(s, "#list a"), "street list after settling")
    el(s, "#list a").click()
    wait(s, lambda: text(s, "#v-no") == dno, "the record after settling")
    check(text(s, "#v-lead") == leads.get(lead["theirs"]), "the record shows the kept 'theirs' lead: "
          + text(s, "#v-lead"))
    check(text(s, "#v-summary") == summ["mine"], "the record shows the kept 'mine' summary: " + text(s, "#v-summary"))
    shot(s, "12e-record-kept-values")

    def village_has_choice():
        d = json.loads(cli("dispute", "show", vdir, dno, "--json").stdout or "{}")
        return (d.get("lead") == lead["theirs"] and d.get("summary") == summ["mine"]
                and open_ids(vdir) == set())
    check(wait(s, village_has_choice, "both choices reached the village") is True,
          "the village has the lead kept as theirs, the summary kept as mine, no conflict open")
    check(open_ids(sdir) == set(), "no conflict open at the street")
    # Provenance at the street: the village wrote the title, in its stream
    s.get(shttp + "/#/k/dispute?n=p")
    wait(s, lambda: el(s, "#list a"), "street list for provenance")
    el(s, "#list a").click()
    wait(s, lambda: el(s, "#show-provenance"), "provenance button")
    el(s, "#show-provenance").click()
    wait(s, lambda: el(s, "#provenance-table"), "provenance table")
    ptxt = text(s, "#provenance-table")
    check("gangzha/qinzao/feiqiao #" in ptxt and "事由" in ptxt, "provenance names the village's stream")
    shot(s, "13-provenance")
    s.get(shttp + "/#/audit")
    wait(s, lambda: el(s, "#ok-msg") or el(s, "#err-msg"), "audit page")
    check(el(s, "#ok-msg") is not None, "verify clean at the street")
    shot(s, "14-audit")
    s.quit()

    # A viewer cannot write
    g = browser(height=1000)
    login(g, vhttp, "guest", "viewer-pass-1")
    wait(g, lambda: el(g, "#risk-cards"), "viewer dashboard")
    check(el(g, "#new-dispute") is None, "no add button for a viewer")
    g.get(vhttp + "/#/k/dispute")
    wait(g, lambda: el(g, "#list"), "viewer list")
    check(el(g, "#new") is None, "no new button in the viewer's list")
    st = g.execute_async_script("""
      const done = arguments[arguments.length - 1];
      fetch('/api/session').then(r => r.json()).then(s =>
        fetch('/api/records/dispute', {method: 'POST', headers: {'Content-Type': 'application/json',
          'X-CSRF-Token': s.csrf}, body: '{"title":"x"}'}).then(r => done(r.status)));""")
    check(st == 403, f"viewer's write refused: {st}")
    shot(g, "15-viewer")
    g.quit()

    # A browser without login is refused on a non-loopback address
    p = browser(height=1000)
    p.get(pubhttp + "/#/")
    wait(p, lambda: "#/login" in p.current_url and el(p, "#f-user"), "login required off loopback")
    st = api_status(p)
    check(st == 401, f"API refused without login: {st}")
    shot(p, "16-public-login")
    p.quit()
finally:
    v.quit()

finish()
