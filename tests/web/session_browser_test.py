"""Browser tests: a clerk is logged in, an administrator changes the
account with `tiersync user` (the accounts are managed on the PC, not in
the app), and the clerk's next click lands on the login page with the
reason in Chinese.  Headless Chromium through python3-selenium; the
screenshots go to OUT.  Run by tests/web/sessions.sh: TIERSYNC NODE_DIR
URL OUT."""
import subprocess, sys
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from webtest import api_status, browser, check, el, finish, login, screenshots, shot, text, wait

T, vdir, base, out = sys.argv[1:5]
screenshots(out)


def admin(*args):
    r = subprocess.run([T, "user", args[0], vdir, *args[1:]], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"tiersync user {' '.join(args)}: {r.stderr}")


c = browser()
try:
    # A clerk at work: the dashboard, then the list of disputes
    login(c, base, "wangfang", "wangfang-pass-1")
    wait(c, lambda: el(c, "#risk-cards"), "clerk's dashboard")
    check("wangfang" in text(c, "#who") and "书记员" in text(c, "#who"), "the clerk is named in the header")
    el(c, "#nav-dispute").click()
    wait(c, lambda: el(c, "#list"), "dispute list")
    shot(c, "s01-clerk-at-work")

    # The administrator disables the account; the clerk's next click
    admin("disable", "wangfang")
    el(c, "#nav-conflicts").click()
    wait(c, lambda: el(c, "#f-user") and "停用" in text(c, "#login-notice"),
         "login page with the reason after the next click")
    check("#/login" in c.current_url, f"on the login page: {c.current_url}")
    check("已退出登录" in text(c, "#login-notice"), "the notice says the clerk was logged out")
    check(text(c, "#nav") == "" and text(c, "#who") == "", "no menu or user left in the header")
    check(el(c, "#no-conflicts") is None and el(c, ".conflict") is None, "the conflict page was not shown")
    shot(c, "s02-disabled-next-click")
    check(api_status(c) == 401, "the browser's cookie no longer opens the API")
    # A reload stays on the login page, and logging in is refused
    c.get(base + "/#/")
    c.refresh()
    wait(c, lambda: "#/login" in c.current_url and el(c, "#f-user"), "reload lands on login")
    login(c, base, "wangfang", "wangfang-pass-1")
    wait(c, lambda: "错误" in text(c, "#err-password"), "a disabled account's login refused")
    check(el(c, "#risk-cards") is None, "no dashboard for a disabled account")
    shot(c, "s03-disabled-login-refused")
    c.quit()

    # A clerk made a viewer: logged out at the next click, then back in
    # with the viewer's pages
    c = browser()
    login(c, base, "zhaomin", "zhaomin-pass-1")
    wait(c, lambda: el(c, "#new-dispute"), "clerk's dashboard with the add button")
    admin("role", "zhaomin", "--role", "viewer")
    el(c, "#nav-dispute").click()
    wait(c, lambda: el(c, "#f-user") and "角色" in text(c, "#login-notice"),
         "login page with the role change after the next click")
    shot(c, "s04-role-changed")
    login(c, base, "zhaomin", "zhaomin-pass-1")
    wait(c, lambda: el(c, "#risk-cards"), "viewer's dashboard")
    check("只读" in text(c, "#who"), "the header shows the new role")
    check(el(c, "#new-dispute") is None, "no add button for the viewer")
    check(el(c, "#login-notice") is None, "the notice is gone after login")
    shot(c, "s05-back-as-viewer")
finally:
    c.quit()

finish()
