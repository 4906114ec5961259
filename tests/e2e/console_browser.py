"""Debian's Chromium, headless, driven through chromedriver by Selenium, for
the console's black-box tests (tests/e2e/test_console.py).

Selenium Manager never runs: the driver and the browser are Debian's
(/usr/bin/chromedriver, /usr/bin/chromium), each browser gets a fresh
profile directory, and nothing is fetched from outside. Every wait has a
deadline (WebDriverWait); nothing sleeps to pass time.
"""

import base64
import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing():
    """Why the browser tests cannot run here, or "" when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "%s is not installed (scripts/setup.sh installs chromium " \
                   "and chromium-driver)" % path
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3 selenium is not installed (scripts/setup.sh)"
    return ""


class Browser:
    """One headless Chromium with its own profile; .d is the WebDriver."""

    def __init__(self, shots_dir, width=1280, height=900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="slipway-console-chromium-")
        self.shots = Path(shots_dir)
        self.shots.mkdir(parents=True, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-quic", "--no-first-run",
                     "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage",
                     "--user-data-dir=" + self.profile,
                     "--window-size=%d,%d" % (width, height)):
            opts.add_argument(flag)
        # The browser's console (CSP violations, script errors) is read back.
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.service = Service(CHROMEDRIVER, log_output=os.devnull)
        self.d = webdriver.Chrome(service=self.service, options=opts)
        self.d.set_window_size(width, height)
        self.d.set_page_load_timeout(60)
        self.d.set_script_timeout(30)
        self.logs = []

    # --- finding and waiting ----------------------------------------------

    def wait(self, cond, timeout=30, what="condition"):
        """Until cond(driver) is truthy; its value. Fails with what."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.d, timeout, poll_frequency=0.2).until(
            cond, message="waited %d s for %s" % (timeout, what))

    def find(self, css, timeout=30):
        """The first visible element matching css, waiting for it."""
        def visible(d):
            for e in d.find_elements("css selector", css):
                if e.is_displayed():
                    return e
            return None
        return self.wait(visible, timeout, "a visible " + css)

    def gone(self, css, timeout=30):
        self.wait(lambda d: not d.find_elements("css selector", css),
                  timeout, "no more " + css)

    def text_in(self, css, want, timeout=30):
        """Until an element matching css contains want; that element."""
        def has(d):
            for e in d.find_elements("css selector", css):
                if want in e.text:
                    return e
            return None
        return self.wait(has, timeout, "%r in %s" % (want, css))

    # --- acting -----------------------------------------------------------

    def type(self, css, text, clear=True):
        e = self.find(css)
        if clear:
            e.clear()
        e.send_keys(text)
        return e

    def click(self, css):
        e = self.find(css)
        self.d.execute_script("arguments[0].scrollIntoView({block:'center'})", e)
        e.click()
        return e

    def select(self, css, value=None, text_contains=None):
        """Chooses an option of a <select> as a user does (clicking it), by
        its value or by part of its text; waits for options that load late."""
        e = self.find(css)

        def option(d):
            for o in e.find_elements("css selector", "option"):
                if (value is not None and o.get_property("value") == value) or \
                        (text_contains is not None and text_contains in o.text):
                    return o
            return None
        opt = self.wait(option, 30, "option %r in %s" % (value or text_contains, css))
        want = opt.get_property("value")
        opt.click()
        self.wait(lambda d: e.get_property("value") == want, 10,
                  "%s to hold %r" % (css, want))
        return e

    def go(self, url):
        self.d.get(url)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def shot(self, name):
        """A screenshot artifact: <shots>/<name>.png."""
        path = self.shots / ("%s.png" % name)
        try:
            # The whole page, not only the window (DevTools protocol).
            w, h = self.js("const e = document.documentElement; return ["
                           "Math.max(e.scrollWidth, innerWidth), e.scrollHeight]")
            shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": w, "height": min(h, 6000),
                         "scale": 1}})
            path.write_bytes(base64.b64decode(shot["data"]))
        except Exception:  # noqa: BLE001 - the window alone, then
            self.d.save_screenshot(str(path))
        return path

    def console_messages(self):
        """The browser's console lines so far (kept across calls)."""
        try:
            self.logs.extend(self.d.get_log("browser"))
        except Exception:  # noqa: BLE001 - logs are a diagnostic only
            pass
        return [e.get("message", "") for e in self.logs]

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
