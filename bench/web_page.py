"""bench/web_page.py URL USER PASSWORD DIR: the page_load_* lines of bench
group "web" (bench/web.c runs it with /usr/bin/python3, Debian's
python3-selenium; chromium and chromium-driver from Debian).

In headless Chromium, after logging in once: the dashboard (URL/#/) loaded
RUNS times, each from navigation start until its risk cards and sync table
are on screen (they appear together, after /api/session, /api/kinds and
/api/status).  The moment is taken inside the page by a MutationObserver
installed before any script of the page runs, so chromedriver's round
trips are not counted.  The first load (empty cache) is page_load_cold_ms;
page_load_ms is the median of the warm ones (index.html, app.js and
app.css come from the cache, max-age=3600, as on a clerk's PC).  Baseline:
an empty local file, DIR/empty.html, loaded the same way, until its load
event; page_load_vs_empty_ratio = page_load_ms / that."""
import os, statistics, sys

RUNS = 15
url, user, password, scratch = sys.argv[1:5]
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("page_load_ms: skipped (no selenium for %s: apt-get install python3-selenium)" % sys.executable)
    sys.exit(0)
for f in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
    if not os.access(f, os.X_OK):
        print("page_load_ms: skipped (no %s: apt-get install chromium chromium-driver)" % f)
        sys.exit(0)

o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
          "--disable-dev-shm-usage", "--window-size=1280,1000"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.set_page_load_timeout(60)
READY = """
window.__ready = null;
new MutationObserver(function (m, obs) {
  if (document.getElementById('risk-cards') && document.getElementById('peers')) {
    window.__ready = performance.now();
    obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": READY})


def ready_ms():
    WebDriverWait(d, 60, poll_frequency=0.05).until(
        lambda x: x.execute_script("return window.__ready") is not None)
    return d.execute_script("return window.__ready")


def load_ms():
    return d.execute_script(
        "const e = performance.getEntriesByType('navigation')[0]; return e.loadEventEnd;")


try:
    # Log in through the API from a page of the app, as the login form does.
    d.get(url + "/nope.txt")
    st = d.execute_async_script("""
      const done = arguments[arguments.length - 1];
      fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
                           body: JSON.stringify({user: arguments[0], password: arguments[1]})})
        .then(r => done(r.status), e => done(String(e)));""", user, password)
    if st != 200:
        print("page_load_ms: skipped (login answered %s)" % st)
        sys.exit(1)
    times = []
    for i in range(RUNS + 1):
        d.get("about:blank")
        d.get(url + "/?run=%d#/" % i)
        times.append(ready_ms())
    empty = os.path.join(scratch, "empty.html")
    with open(empty, "w") as f:
        f.write("<!DOCTYPE html><html><head><meta charset='utf-8'><title>-</title></head><body></body></html>\n")
    base = []
    for i in range(RUNS + 1):
        d.get("about:blank")
        d.get("file://" + empty + "?run=%d" % i)
        base.append(load_ms())
finally:
    d.quit()
warm = statistics.median(times[1:])
b = statistics.median(base[1:])
print("page_load_runs: %d" % RUNS)
print("page_load_cold_ms: %.1f" % times[0])
print("page_load_ms: %.1f" % warm)
print("page_load_ms_max: %.1f" % max(times[1:]))
print("page_load_empty_ms: %.1f" % b)
print("page_load_vs_empty_ratio: %.1f" % (warm / b if b > 0 else float("nan")))
