"""One remote twin over loopback gRPC, unary and streaming, next to the same twin local.

    python benchmarks/remote.py [--steps N] [--reps R] [--json FILE]

The twin is the bundled spindle FMU (FMI 2.0), served by ``cosim serve-twin``
in its own process on 127.0.0.1; the master runs a system of that one
component with its speed setpoint set every step.  For each way of running
it, the benchmark reports:

- **steps/s**: ``Simulation.run()`` over N steps (best of R runs);
- **p50/p99/max µs**: the latency of single steps, each timed around
  ``Simulation.step(1)`` (one round trip per step for the remote twin);
- **x local**: time per step over the local FMU's.

For scale, it also times the transport alone: a unary call of the standard
health service on the same server (no model, an empty message each way),
the least any one-call-per-step scheme over gRPC Python could cost here.

The final spindle speed of every run is checked against the local run's.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cosim import Simulation, System, twins
from cosim.rpc import RemoteTwin

STEP = 0.001
MODES = ("local", "unary", "stream")


def start_twin_server() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cosim", "serve-twin", str(twins.path("spindle")),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if " on grpc://" not in line:
        proc.kill()
        raise SystemExit(f"the twin server did not start: {line!r}")
    return proc, line.split(" on ", 1)[1].split()[0].rstrip(",")


def build(mode: str, url: str) -> System:
    system = System("bench")
    source = twins.path("spindle") if mode == "local" else RemoteTwin(url, mode=mode)
    system.add("spindle", source)
    return system


def throughput(mode: str, url: str, steps: int, reps: int) -> tuple[float, float]:
    """(best seconds per step, final speed) of ``run()`` over ``steps`` steps."""
    best, final = float("inf"), None
    for _ in range(reps):
        sim = Simulation(build(mode, url), step_size=STEP, stop_time=steps * STEP,
                         record=["spindle.speed"])
        sim.set("spindle.speed_setpoint", 6000.0)
        started = time.perf_counter()
        sim.run()
        best = min(best, (time.perf_counter() - started) / steps)
        final = sim.get("spindle.speed")
        sim.stop()
    return best, final


def latencies(mode: str, url: str, steps: int) -> np.ndarray:
    """Seconds taken by each of ``steps`` single steps (after 50 warm-up steps)."""
    sim = Simulation(build(mode, url), step_size=STEP, record=["spindle.speed"])
    sim.set("spindle.speed_setpoint", 6000.0)
    sim.step(50)
    out = np.empty(steps)
    clock = time.perf_counter
    for i in range(steps):
        started = clock()
        sim.step(1)
        out[i] = clock() - started
    sim.stop()
    return out


def transport_floor(url: str, calls: int) -> np.ndarray:
    """Seconds taken by each of ``calls`` health-check calls on the twin's server."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(url.removeprefix("grpc://")) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        for _ in range(50):
            stub.Check(request)
        out = np.empty(calls)
        clock = time.perf_counter
        for i in range(calls):
            started = clock()
            stub.Check(request)
            out[i] = clock() - started
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000, help="steps per run (default 5000)")
    parser.add_argument("--reps", type=int, default=3, help="runs per mode, best kept (default 3)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    proc, url = start_twin_server()
    try:
        rows = {}
        for mode in MODES:
            per_step, final = throughput(mode, url, args.steps, args.reps)
            lat = latencies(mode, url, args.steps)
            rows[mode] = {"us_per_step": per_step * 1e6, "steps_per_s": 1 / per_step,
                          "p50_us": float(np.percentile(lat, 50) * 1e6),
                          "p99_us": float(np.percentile(lat, 99) * 1e6),
                          "max_us": float(lat.max() * 1e6), "final_speed": final}
        floor = transport_floor(url, args.steps)
    finally:
        proc.terminate()
        proc.wait(10)

    local = rows["local"]
    print(f"one spindle twin, {args.steps} steps of {STEP * 1e3:g} ms, best of {args.reps}; "
          f"remote = cosim serve-twin on {url} (separate process)")
    print(f"{'mode':<8} {'steps/s':>10} {'µs/step':>9} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8} "
          f"{'x local':>8}")
    for mode, r in rows.items():
        print(f"{mode:<8} {r['steps_per_s']:>10.0f} {r['us_per_step']:>9.1f} {r['p50_us']:>8.1f} "
              f"{r['p99_us']:>8.1f} {r['max_us']:>8.0f} {r['us_per_step'] / local['us_per_step']:>7.0f}x")
    print(f"transport floor (health Check, unary): p50 {np.percentile(floor, 50) * 1e6:.1f} µs, "
          f"p99 {np.percentile(floor, 99) * 1e6:.1f} µs per call")
    print(f"stream vs unary: {rows['unary']['us_per_step'] / rows['stream']['us_per_step']:.2f}x "
          "faster per step" if rows['stream']['us_per_step'] < rows['unary']['us_per_step'] else
          f"stream vs unary: {rows['stream']['us_per_step'] / rows['unary']['us_per_step']:.2f}x "
          "slower per step")
    mismatched = [m for m, r in rows.items() if abs(r["final_speed"] - local["final_speed"]) > 1e-9]
    for mode in mismatched:
        print(f"MISMATCH: {mode} final speed {rows[mode]['final_speed']!r} != local "
              f"{local['final_speed']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.platform(), "steps": args.steps,
                                               "url": url, "modes": rows,
                                               "floor_p50_us": float(np.percentile(floor, 50) * 1e6)},
                                              indent=2))
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
