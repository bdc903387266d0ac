"""The live furnace example shown in the browser (``--http-port``): its twin's
outputs against the plant, the residuals with the alert's threshold, the
estimator's estimates, while the example follows its plant over MQTT."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mqtt_brokers import new_broker
from web_browser import Browser

ROOT = Path(__file__).resolve().parents[2]
# The README shows this test's screenshot; it is written there when asked
# (COSIM_UPDATE_SCREENSHOTS=1), so that a test run leaves the tree as it was.
SCREENSHOT = ROOT / "docs" / "live-view.png"


@pytest.fixture
def broker(tmp_path):
    broker = new_broker(tmp_path)
    broker.start()
    yield broker
    broker.kill()


def test_the_live_furnace_twin_is_shown_against_its_plant(broker, tmp_path):
    example = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/live_furnace/live_furnace.py"), "--seconds", "12",
         "--broker", f"127.0.0.1:{broker.port}", "--http-port", "0", "--linger", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    browser = None
    try:
        line = example.stdout.readline()
        match = re.search(r"live view on (http://\S+)", line)
        ended = example.stderr.read() if example.poll() is not None else ""
        assert match, f"the example printed no live view address: {line!r} {ended}"
        browser = Browser()
        browser.open(match.group(1))
        browser.wait(lambda: "live furnace twin" in (browser.text("systems") or ""),
                     "the twin listed")
        browser.wait(lambda: browser.points("twin") > 20, "the twin against its plant", 60)
        browser.wait(lambda: browser.points("estimates") >= 2, "estimates over time", 60)
        assert browser.points("series") > 0
        residuals = browser.column("twin", "r0")
        measured = browser.column("twin", "m0")
        assert any(abs(r) < abs(m) for r, m in zip(residuals, measured) if r == r and m == m)
        limit = browser.column("estimates", "l0")
        assert limit and set(limit) == {1600.0}        # the cleaning alert's threshold, drawn
        status = browser.text("systems")
        assert re.search(r"\d+\.\d+ / \d+\.\d+", status), status     # lateness p50 / p99 shown
        # Watched, not driven: the view offers no controls for the example's twin.
        assert "run by its own program" in browser.body_text()
        browser.driver.set_window_size(1400, 1700)
        browser.wait(lambda: browser.points("estimates") >= 3, "a few estimates", 30)
        shot = SCREENSHOT if os.environ.get("COSIM_UPDATE_SCREENSHOTS") == "1" else \
            tmp_path / "live-view.png"
        browser.screenshot(shot)
        assert shot.stat().st_size > 20_000
    finally:
        if browser is not None:
            browser.close()
        example.kill()
        example.wait(10)
