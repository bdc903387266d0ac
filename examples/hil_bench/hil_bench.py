"""HIL bench: a spindle twin runs in real time on a cosim server while a
controller under test, in another process, drives it over gRPC.

The twin steps at 500 Hz (h = 2 ms) on the wall clock inside an Orchestrator
server; its speed setpoint and load torque are live inputs fed by the
controller's timestamped input stream.  The controller (controller.py) runs
at a fixed rate, reading the twin's speed and vibration and sending its
commands.  At the end the bench prints the controller's read latency and
period statistics and the twin's real-time statistics (lateness, jitter,
overruns) from the server.

    python examples/hil_bench/hil_bench.py [--seconds 8] [--rate 100] [--step 0.002]
                                           [--http-port 8050]

With ``--http-port`` the server also serves the live view (as ``cosim serve
--http-port`` does): open the address printed to watch the twin in a browser.

The twin's loop and the gRPC server share one Python interpreter, so a
faster twin (``--step 0.001``) makes every request wait longer for the GIL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import cosim
from cosim import twins
from cosim.rpc import Client, orchestrator_server

HERE = Path(__file__).resolve().parent


def build_bench() -> cosim.System:
    system = cosim.System("hil_bench")
    system.add("spindle", twins.path("spindle"))
    return system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="wall seconds of the run")
    parser.add_argument("--rate", type=float, default=100.0, help="controller rate (Hz)")
    parser.add_argument("--step", type=float, default=0.002, help="twin step (s)")
    parser.add_argument("--http-port", type=int, help="also serve the live view on this port "
                        "(0: any free one)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cosim-hil-"))
    build_bench().save(root / "bench.ssp")
    server = orchestrator_server(root=root).start()
    view = None
    if args.http_port is not None:
        from cosim.web import WebServer
        view = WebServer(server.service, port=args.http_port).start()
        print(f"live view on {view.url}", flush=True)
    client = Client(server.url, timeout=30)
    try:
        system = client.create_system(path="bench.ssp")
        span = args.seconds + 2.0        # the twin outlives the controller's run
        system.initialize(step_size=args.step, stop_time=span, realtime=1.0,
                          record=["spindle.speed", "spindle.vibration"],
                          live_inputs=["spindle.speed_setpoint", "spindle.load_torque"])
        runner = threading.Thread(target=system.run_until, args=(span,), daemon=True)
        runner.start()
        controller = subprocess.run(
            [sys.executable, str(HERE / "controller.py"), server.url, system.id,
             "--rate", str(args.rate), "--seconds", str(args.seconds)],
            capture_output=True, text=True, timeout=args.seconds + 60)
        if controller.returncode != 0:
            raise SystemExit(f"the controller failed:\n{controller.stderr}")
        runner.join()
        measured = json.loads(controller.stdout.strip().splitlines()[-1])
        report = system.live_report()
        final = system.get(["spindle.speed", "spindle.vibration", "spindle.load_torque"])
        print(f"controller: {measured['cycles']} cycles at {measured['rate_hz']:g} Hz over gRPC "
              f"({measured['missed_periods']} periods missed)")
        for key, label in (("read_latency_ms", "read latency (GetValues round trip)"),
                           ("wakeup_lateness_ms", "controller wake-up lateness")):
            s = measured[key]
            print(f"  {label}: p50 {s['p50']:.3f} ms, p99 {s['p99']:.3f} ms, max {s['max']:.3f} ms")
        print(f"twin: {report.points} points of {args.step * 1e3:g} ms in real time, "
              f"{report.samples} command samples applied")
        print(f"  lateness: p50 {report.lateness_p50 * 1e6:.0f} us, p99 "
              f"{report.lateness_p99 * 1e6:.0f} us, max {report.lateness_max * 1e6:.0f} us")
        print(f"  jitter:   p50 {report.jitter_p50 * 1e6:.0f} us, p99 "
              f"{report.jitter_p99 * 1e6:.0f} us, max {report.jitter_max * 1e6:.0f} us; "
              f"overruns {report.overruns}")
        if report.rejected:
            print(f"  rejected samples: {dict(report.rejected)}")
        print(f"final: speed {final['spindle.speed']:.0f} rpm, vibration "
              f"{final['spindle.vibration']:.2f} mm/s, load torque "
              f"{final['spindle.load_torque']:.1f} N.m")
        system.terminate()
    finally:
        client.close()
        if view is not None:
            view.stop()
        server.stop()


if __name__ == "__main__":
    main()
