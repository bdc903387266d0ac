"""The HIL bench example with ``--http-port``: a twin served by an Orchestrator
in real time, its live inputs fed over gRPC by a controller process, watched
in the browser while it runs."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from web_browser import Browser

ROOT = Path(__file__).resolve().parents[2]


def test_the_hil_bench_twin_is_watched_while_the_controller_drives_it():
    example = subprocess.Popen(
        [sys.executable, str(ROOT / "examples/hil_bench/hil_bench.py"), "--seconds", "6",
         "--http-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    browser = Browser()
    try:
        line = example.stdout.readline()
        match = re.search(r"live view on (http://\S+)", line)
        assert match, f"no live view address: {line!r}"
        browser.open(match.group(1))
        browser.wait(lambda: "hil_bench" in (browser.text("systems") or ""), "the bench listed")
        browser.open(match.group(1))          # a page shows the first system there was
        browser.wait(lambda: "initialized" in (browser.text("status") or ""), "the twin started")
        browser.wait(lambda: browser.points("series") > 20, "the twin plotted while it runs")
        first = browser.column("series", "t")[-1]
        browser.wait(lambda: browser.column("series", "t")[-1] > first + 1, "time moving on")
        # Real time: the list shows lateness figures from the server's pacer.
        browser.wait(lambda: re.search(r"\d+\.\d+ / \d+\.\d+", browser.text("systems")),
                     "lateness p50 / p99 listed")
        out, err = example.communicate(timeout=120)
        assert example.returncode == 0, err[-2000:]
        assert "controller: " in out
    finally:
        browser.close()
        if example.poll() is None:
            example.kill()
            example.wait(10)
