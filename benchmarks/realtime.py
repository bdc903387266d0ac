"""Real-time pacing of an FMU system at 1 kHz: cosim's Pacer next to a plain
``time.sleep`` loop, in one run.

    python benchmarks/realtime.py [--seconds S] [--rate HZ] [--json FILE]

The system is the bundled spindle FMU (FMI 2.0).  Each way of pacing runs it
for S seconds of simulation in real time (default 10 s at 1000 Hz):

- **cosim**: ``Simulation(..., realtime=True).run()``, the Pacer with its
  defaults (spin before each due time, overrun policy "skip");
- **Pacer, spin 0**: ``sim.step(1)`` then ``Pacer.wait`` in a loop, as a live
  twin drives it, with a Pacer that only sleeps (no spin);
- **sleep loop**: the naive peer, ``sim.step(1)`` then
  ``time.sleep(due - now)`` against the same drift-free schedule.

For each it prints lateness (wake-up minus due time) and jitter (|interval
between consecutive points - nominal interval|) at p50/p99/max in
microseconds, the overruns (points more than one interval late), the points
the Pacer batched, and the CPU the process used (percent of one core).  The
last lines give the sleep loop's figures over cosim's, and how much a plain
busy loop on this machine is interrupted (the floor under any pacer's tail).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from cosim import System, twins
from cosim.execution.pacing import DEFAULT_SPIN, Pacer


def spindle() -> System:
    system = System("bench")
    system.add("spindle", twins.path("spindle"), parameters={})
    return system


def figures(lateness_ns: np.ndarray, jitter_ns: np.ndarray, interval_ns: float) -> dict:
    out = {}
    for name, values in (("lateness", lateness_ns), ("jitter", jitter_ns)):
        p50, p99 = np.percentile(values, [50, 99]) / 1e3
        out[name] = (float(p50), float(p99), float(values.max()) / 1e3)
    out["overruns"] = int(np.count_nonzero(lateness_ns > interval_ns))
    return out


def realtime_run(seconds: float, step: float) -> dict:
    """``Simulation(realtime=True).run()``: the Pacer with its defaults."""
    with spindle().start(stop_time=seconds, step_size=step, realtime=True) as sim:
        cpu = time.process_time()
        sim.run()
        cpu = time.process_time() - cpu
        return summarise(sim.pacer, step, cpu)


def pacer_loop(seconds: float, step: float, spin: float) -> dict:
    """A Pacer driven by hand, as a live twin does: ``step(1)``, then ``wait``."""
    n = round(seconds / step)
    pacer = Pacer(step_size=step, spin=spin, overrun="skip")
    with spindle().start(stop_time=seconds, step_size=step) as sim:
        cpu = time.process_time()
        pacer.start(sim.time)
        while sim.step_index < n:
            sim.step(min(1 + pacer.overdue(), n - sim.step_index))
            pacer.wait(sim.time)
        cpu = time.process_time() - cpu
    return summarise(pacer, step, cpu)


def summarise(pacer: Pacer, step: float, cpu: float) -> dict:
    _, lateness, jitter = pacer.records()
    stats = pacer.stats()
    out = figures(lateness * 1e9, jitter * 1e9, step * 1e9)
    out.update(points=stats.steps, skipped=stats.skipped, wall=stats.wall_duration,
               cpu=100 * cpu / stats.wall_duration)
    return out


def sleep_loop(seconds: float, step: float) -> dict:
    n = round(seconds / step)
    step_ns = step * 1e9
    lateness = np.empty(n, dtype=np.int64)
    woke = np.empty(n + 1, dtype=np.int64)
    clock = time.perf_counter_ns
    with spindle().start(stop_time=seconds, step_size=step) as sim:
        cpu = time.process_time()
        woke[0] = start = clock()
        for k in range(1, n + 1):
            sim.step(1)
            due = start + round(k * step_ns)
            rest = due - clock()
            if rest > 0:
                time.sleep(rest / 1e9)
            woke[k] = clock()
            lateness[k - 1] = woke[k] - due
        cpu = time.process_time() - cpu
    wall = (woke[n] - woke[0]) / 1e9
    out = figures(lateness, np.abs(np.diff(woke) - step_ns), step_ns)
    out.update(points=n, skipped=0, wall=wall, cpu=100 * cpu / wall)
    return out


def busy_loop_gaps(seconds: float = 1.0, threshold_ns: int = 50_000) -> tuple[int, float]:
    """(count, largest in us) of clock gaps over ``threshold_ns`` in a busy loop."""
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    prev, count, largest = clock(), 0, 0
    while prev < end:
        now = clock()
        if now - prev > threshold_ns:
            count += 1
            largest = max(largest, now - prev)
        prev = now
    return count, largest / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="run length (default 10 s)")
    parser.add_argument("--rate", type=float, default=1000.0, help="communication points per s")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    step = 1.0 / args.rate

    runs = {
        f"cosim (spin {DEFAULT_SPIN * 1e6:.0f} us)": realtime_run(args.seconds, step),
        "Pacer, spin 0": pacer_loop(args.seconds, step, 0.0),
        "sleep loop": sleep_loop(args.seconds, step),
    }
    gaps = busy_loop_gaps()

    print(f"spindle FMU paced at {args.rate:g} Hz for {args.seconds:g} s of real time; "
          f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    print(f"{'':<22} {'lateness us p50/p99/max':>26} {'jitter us p50/p99/max':>26} "
          f"{'overruns':>9} {'batched':>8} {'wall s':>7} {'CPU %':>6}")
    for name, r in runs.items():
        late = "/".join(f"{v:.1f}" for v in r["lateness"])
        jit = "/".join(f"{v:.1f}" for v in r["jitter"])
        print(f"{name:<22} {late:>26} {jit:>26} {r['overruns']:>9} {r['skipped']:>8} "
              f"{r['wall']:>7.3f} {r['cpu']:>6.1f}")
    ours, naive = next(iter(runs.values())), runs["sleep loop"]
    ratio = lambda a, b: f"{a / b:.3g}x" if b > 0 else "inf (cosim 0)"
    for name in ("lateness", "jitter"):
        print(f"sleep loop / cosim, {name}: p50 {ratio(naive[name][0], ours[name][0])}, "
              f"p99 {ratio(naive[name][1], ours[name][1])}")
    print(f"machine: a busy loop over 1 s was interrupted {gaps[0]} times for more than 50 us, "
          f"the longest {gaps[1]:.0f} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rate": args.rate, "seconds": args.seconds, "runs": runs,
                       "busy_loop_gaps": {"count": gaps[0], "longest_us": gaps[1]}}, f, indent=2)


if __name__ == "__main__":
    main()
