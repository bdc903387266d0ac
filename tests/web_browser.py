"""Headless Chromium driven by Selenium, for the live view's tests.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``;
scripts/setup-tests.sh installs them).  When they are missing the tests
fail and say so: a browser test that skips would hide a broken view.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")

# The text of a Bokeh model's view (Bokeh draws into shadow roots), found by the model's name.
_TEXT_OF = """
const doc = window.Bokeh && Bokeh.documents[0];
if (!doc) return null;
const model = doc.get_model_by_name(arguments[0]);
if (!model) return null;
return model.text !== undefined ? model.text : JSON.stringify(model.value);
"""
# The element a widget was drawn in, searched through every shadow root.
_DEEP_FIND = """
function find(root, selector) {
  const here = root.querySelector(selector);
  if (here) return here;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) {
      const found = find(el.shadowRoot, selector);
      if (found) return found;
    }
  }
  return null;
}
const host = find(document, arguments[0]);
return host && (host.shadowRoot || host).querySelector(arguments[1]);
"""
_POINTS_OF = """
const doc = window.Bokeh && Bokeh.documents[0];
const source = doc && doc.get_model_by_name(arguments[0]);
if (!source) return -1;
const column = source.data.get ? source.data.get(arguments[1]) : source.data[arguments[1]];
return column ? column.length : -1;
"""
_COLUMN_OF = """
const doc = Bokeh.documents[0];
const source = doc.get_model_by_name(arguments[0]);
const column = source.data.get ? source.data.get(arguments[1]) : source.data[arguments[1]];
return Array.from(column);
"""


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return (f"{path} is missing: install Debian's {package} (scripts/setup-tests.sh "
                    "does, as root: apt-get install -y chromium chromium-driver)")
    return None


class Browser:
    """One headless Chromium window with a fresh profile."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        problem = missing()
        if problem:
            raise AssertionError(problem)
        self.profile = tempfile.mkdtemp(prefix="cosim-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.set_page_load_timeout(60)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def source(self) -> str:
        return self.driver.page_source

    def body_text(self) -> str:
        return self.driver.find_element("tag name", "body").text

    def text(self, name: str) -> str | None:
        """The text (or value) of the Bokeh model named ``name``."""
        return self.driver.execute_script(_TEXT_OF, name)

    def points(self, source: str, column: str = "t") -> int:
        return self.driver.execute_script(_POINTS_OF, source, column)

    def column(self, source: str, column: str) -> list:
        return self.driver.execute_script(_COLUMN_OF, source, column)

    def wait(self, predicate, what: str, timeout: float = 30.0):
        """Poll ``predicate()`` until it is truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except Exception as exc:     # noqa: BLE001 - the page may still be loading
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")

    def _element(self, name: str, inner: str):
        """The ``inner`` element of the widget named ``name`` (drawn in an element
        of class ``cosim-<name>``, inside Bokeh's shadow roots)."""
        element = self.driver.execute_script(_DEEP_FIND, f".cosim-{name}", inner)
        if element is None:
            raise AssertionError(f"the page has no {inner} of the widget {name!r}")
        return element

    def click(self, name: str) -> None:
        self._element(name, "button").click()

    def type(self, name: str, text: str) -> None:
        from selenium.webdriver.common.keys import Keys
        field = self._element(name, "input")
        field.clear()
        field.send_keys(text, Keys.TAB)

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))
