"""Browser tests: the street's dashboard as a clerk sees it, in headless
Chromium (python3-selenium).  `none`: the calm line "篡改证据：无" and no
panel.  `some` N: the red panel above everything else on the page, in
the first screen, with the count N, one row per record naming the
office, its seq, how it was seen and when, and the details folded until
clicked; the page #/evidence lists the same.  Screenshots go to OUT.
Run by tests/web/evidence.sh: none|some URL OUT N."""
import re, sys
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from selenium.webdriver.common.by import By
from webtest import browser, check, el, finish, login, screenshots, shot, text, wait

phase, base, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
screenshots(out)

d = browser()
try:
    login(d, base, "lihua", "lihua-pass-1")
    wait(d, lambda: el(d, "#risk-cards"), "the dashboard")
    if phase == "none":
        check(text(d, "#evidence") == "篡改证据：无", f"the calm line: '{text(d, '#evidence')}'")
        check(el(d, "#evidence-count") is None and el(d, "section.ev") is None, "no panel")
        shot(d, "evidence-none")
    else:
        wait(d, lambda: el(d, "#evidence-count"), "the evidence panel")
        panel = el(d, "#evidence")
        check(panel is not None and panel.tag_name == "section", "a panel, not the calm line")
        check(text(d, "#evidence-count") == str(n), f"the count: '{text(d, '#evidence-count')}' == {n}")
        check(f"发现篡改证据：{n} 条" in text(d, "#evidence h2"), f"the heading: '{text(d, '#evidence h2')}'")
        check("请勿删除" in panel.text and "tiersync verify --receipts" in panel.text,
              "what to do is said")
        # Where a clerk looks first: right under the page title, above the
        # figures, inside the first screen
        top = d.execute_script("return document.querySelector('#evidence').getBoundingClientRect().top")
        cards = d.execute_script("return document.querySelector('#risk-cards').getBoundingClientRect().top")
        h1 = d.execute_script("return document.querySelector('main h1').getBoundingClientRect().bottom")
        check(h1 <= top < cards, f"the panel between the title ({h1}) and the figures ({cards}): {top}")
        check(top < 200, f"the panel starts in the first screen: {top}")
        color = d.execute_script("return getComputedStyle(document.querySelector('#evidence')).borderTopColor")
        check(color == "rgb(197, 48, 48)", f"a red border: {color}")
        rows = d.find_elements(By.CSS_SELECTOR, "#evidence-list tr[data-seq]")
        check(len(rows) == min(n, 20), f"{min(n, 20)} rows: {len(rows)}")
        for r in rows:
            t = r.text
            check("费桥村" in t and "gangzha/qinzao/feiqiao" in t, f"the office named: {t}")
            check(f"第 {r.get_attribute('data-seq')} 条" in t, f"the seq: {t}")
            check(any(w in t for w in ("另一份签名记录", "另一份历史", "链头不同")), f"how, in Chinese: {t}")
            check(re.search(r"\d{4}/\d{1,2}/\d{1,2} \d{2}:\d{2}:\d{2}", t), f"when: {t}")
        det = el(d, "#evidence-details")
        check(det is not None and det.get_attribute("open") is None, "the details folded")
        check(not el(d, "#evidence-details dl").is_displayed(), "the hashes hidden until asked")
        shot(d, "evidence-panel")
        el(d, "#evidence-details summary").click()
        wait(d, lambda: el(d, "#evidence-details dl").is_displayed(), "details shown on click")
        dl = d.find_elements(By.CSS_SELECTOR, "#evidence-details dl")
        check(len(dl) == len(rows), f"one detail block per row: {len(dl)}")
        check(all(len(x.find_element(By.CSS_SELECTOR, "dd.hash").text) == 64 for x in dl), "the hashes shown")
        d.execute_script("document.querySelector('#evidence-details').scrollIntoView()")
        shot(d, "evidence-details")
        d.get(base + "/#/evidence")
        wait(d, lambda: "篡改证据（" in text(d, "main h1"), "the evidence page")
        check(text(d, "main h1") == f"篡改证据（{n} 条）", f"the page's title: {text(d, 'main h1')}")
        rows = d.find_elements(By.CSS_SELECTOR, "#evidence-list tr[data-seq]")
        check(len(rows) == n, f"all {n} rows on the page: {len(rows)}")
        shot(d, "evidence-page")
finally:
    d.quit()
finish()
