"""What the web tests share: the tally of checks, an HTTP client of the
API (its own cookie jar and CSRF token, as one browser), and headless
Chromium through python3-selenium (Debian's chromium and chromium-driver)
with its waits, login and screenshots.  Each test imports it from its own
directory (Python puts the script's directory first on sys.path), so it
works wherever the build and the test run from.  selenium is imported
only when there, so that the HTTP tests run without it."""
import http.cookiejar, json, os, sys, urllib.error, urllib.request

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the HTTP tests need none of it
    webdriver = None

_tally = {"passes": 0, "fails": 0}
_out = {"dir": None}


def check(cond, what):
    """Counts a check; a failed one is said at once."""
    if cond:
        _tally["passes"] += 1
    else:
        _tally["fails"] += 1
        print("FAIL:", what, flush=True)


def finish():
    """Says the tally and exits 1 if a check failed."""
    print(f"{_tally['passes']} passed, {_tally['fails']} failed")
    sys.exit(1 if _tally["fails"] else 0)


class Client:
    """One browser on the API: its own cookie jar and CSRF token."""
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = None

    def call(self, method, path, body=None, raw=None, csrf=True, headers=None):
        """(status, JSON, headers); a body that is not JSON comes back as
        {"raw": bytes}.  The CSRF token goes with every write unless
        csrf=False; raw sends those bytes instead of body as JSON."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if csrf and self.csrf and method != "GET":
            req.add_header("X-CSRF-Token", self.csrf)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            r = self.op.open(req, timeout=30)
            status, text, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read(), e.headers
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, {"raw": text}, hdrs

    def get(self, path):
        """(status, JSON) of GET path."""
        s, j, _ = self.call("GET", path)
        return s, j

    def login(self, user, pw):
        s, j, _ = self.call("POST", "/api/login", {"user": user, "password": pw})
        if s == 200:
            self.csrf = j["csrf"]
        return s, j

    def tsid(self):
        """The session cookie this browser holds now, or None."""
        return next((k.value for k in self.jar if k.name == "tsid"), None)


def screenshots(path):
    """Screenshots (shot, and a wait that timed out) go to path."""
    os.makedirs(path, exist_ok=True)
    _out["dir"] = path


def browser(height=800):
    """Headless Chromium, 1280 wide."""
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--window-size=1280,{height}"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(30)
    return d


def el(d, css):
    found = d.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found else None


def text(d, css):
    e = el(d, css)
    return e.text if e else ""


def shot(d, name):
    d.save_screenshot(os.path.join(_out["dir"], name + ".png"))


def wait(d, fn, what, t=30):
    """fn() once it is true, polled; on a timeout a failed check, a
    screenshot timeout-WHAT and the page's text, and None."""
    try:
        # A page re-renders after each action: an element found a moment
        # ago may be gone (stale); that is "not yet", not a failure.
        return WebDriverWait(d, t, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,
                                                 NoSuchElementException)).until(lambda x: fn())
    except Exception:
        check(False, "timed out: " + what)
        shot(d, "timeout-" + "".join(c if c.isalnum() else "-" for c in what))
        print("    page:", d.find_element(By.TAG_NAME, "main").text[:400].replace("\n", " | "), flush=True)
        return None


def login(d, base, user, pw):
    """Fills in and sends the login form; the caller waits for what
    should follow."""
    d.get(base + "/#/login")
    wait(d, lambda: el(d, "#f-user"), "login form")
    for f, v in (("#f-user", user), ("#f-password", pw)):
        el(d, f).clear()
        el(d, f).send_keys(v)
    el(d, "#login").click()


def api_status(d):
    """The HTTP status of /api/status fetched by the page, with its
    cookie."""
    return d.execute_async_script("""
      const done = arguments[arguments.length - 1];
      fetch('/api/status').then(r => done(r.status));""")
