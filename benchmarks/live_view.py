"""What the live view costs a real-time twin: lateness with and without browsers.

    python benchmarks/live_view.py [--seconds 10] [--views 3] [--rounds 2] [--json FILE]

One `cosim serve --http-port` process on 127.0.0.1 hosts a spindle twin
stepped at 1 kHz in real time (step 1 ms, real-time factor 1).  Each round
runs it twice for ``--seconds``, on a fresh system each time: once with no
browser open, once with ``--views`` headless Chromium windows showing the
system's page (live plots at screen rate, the systems list, the topology).
Printed: the lateness and jitter p50/p99 of each run, the overruns, the points
the pages received, and the ratio of the lateness p99 with the views to
without.  The view reads the system a few times a second between points and
gets its rows through a decimating observer, so the ratio should stay near 1;
on a machine with few cores the browsers' own CPU use is part of what is
measured.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import cosim  # noqa: E402
from cosim import twins  # noqa: E402
from cosim.rpc import Client  # noqa: E402

TOKEN = "bench-token"
STEP = 0.001


def start_server(root: Path) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cosim", "serve", "--root", str(root),
                             "--port", "0", "--http-port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    grpc_url = web_url = None
    deadline = time.monotonic() + 30
    while (grpc_url is None or web_url is None) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"cosim serve did not start: {proc.stderr.read()}")
        if m := re.search(r"on (grpc://\S+?)(?:,|$)", line):
            grpc_url = m.group(1)
        if m := re.search(r"live view on (http://\S+)", line):
            web_url = m.group(1)
    if grpc_url is None or web_url is None:
        raise SystemExit("cosim serve did not print its addresses in time")
    return proc, grpc_url, web_url


def run_once(client: Client, web_url: str, seconds: float, views: int) -> dict:
    from web_browser import Browser

    system = client.create_system(path="spindle.ssp", name=f"spindle-{views}-views")
    browsers = []
    try:
        system.initialize(step_size=STEP, realtime=1.0)
        for _ in range(views):
            browser = Browser()
            browser.open(f"{web_url}&system={system.id}")
            browser.wait(lambda b=browser: system.id in (b.text("systems") or ""), "the page")
            browsers.append(browser)
        began = time.perf_counter()
        system.run_until(seconds)
        wall = time.perf_counter() - began
        report = system.live_report()
        points = [b.points("series") for b in browsers]
    finally:
        for browser in browsers:
            browser.close()
        system.terminate()
    return {"views": views, "wall_s": wall, "steps": report.points,
            "lateness_p50_us": 1e6 * report.lateness_p50, "lateness_p99_us": 1e6 * report.lateness_p99,
            "jitter_p50_us": 1e6 * report.jitter_p50, "jitter_p99_us": 1e6 * report.jitter_p99,
            "overruns": report.overruns, "points_on_pages": points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cosim-bench-"))
    system = cosim.System("spindle")
    system.add("spindle", twins.path("spindle"))
    system.save(root / "spindle.ssp")
    proc, grpc_url, web_url = start_server(root)
    runs = []
    try:
        with Client(grpc_url, token=TOKEN) as client:
            for _ in range(args.rounds):
                for views in (0, args.views):
                    run = run_once(client, web_url, args.seconds, views)
                    runs.append(run)
                    print(f"{run['views']} views: {run['steps']} points in {run['wall_s']:.2f} s, "
                          f"lateness us p50 {run['lateness_p50_us']:.1f} p99 "
                          f"{run['lateness_p99_us']:.1f}, jitter us p50 {run['jitter_p50_us']:.1f}"
                          f" p99 {run['jitter_p99_us']:.1f}, overruns {run['overruns']}, "
                          f"points on the pages {run['points_on_pages']}", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    without = np.median([r["lateness_p99_us"] for r in runs if r["views"] == 0])
    with_views = np.median([r["lateness_p99_us"] for r in runs if r["views"] == args.views])
    ratio = with_views / without
    print(f"lateness p99 (median of {args.rounds} rounds): {without:.1f} us without views, "
          f"{with_views:.1f} us with {args.views} views: ratio {ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "ratio_p99": ratio}, indent=1))


if __name__ == "__main__":
    main()
