"""Memory of a long run with a bounded result window, against keeping every row.

    python benchmarks/bounded_memory.py [--steps 10000000] [--keep 10000]

One spindle twin (FMI 2.0, five recorded outputs), step 1 ms, stepped in one
process: after 10 % of the steps and after all of them, it prints the
process's resident memory (VmRSS) with ``keep_rows`` (every row also goes to a
Parquet file as the run goes) and, in a second process, without a window (every
row kept in memory).  A bounded run holds the same memory after 10x the steps.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def member(steps: int, keep: int | None) -> dict:
    """Run in this process; memory after a tenth of the steps and after all."""
    from cosim import System, twins

    system = System("one")
    system.add("s", twins.path("spindle", "2.0"), parameters={"speed_setpoint": 1200.0})
    with tempfile.TemporaryDirectory() as tmp:
        options = {"keep_rows": keep, "output_file": Path(tmp) / "run.parquet"} if keep else {}
        with system.start(step_size=0.001, stop_time=steps * 0.001, **options) as sim:
            sim.step(steps // 10)
            first = rss_mb()
            sim.step(steps - steps // 10)
            last = rss_mb()
            rows = sim.result.total
    return {"after_tenth_mb": first, "after_all_mb": last, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000_000)
    parser.add_argument("--keep", type=int, default=10_000)
    parser.add_argument("--member", choices=("bounded", "unbounded"))
    args = parser.parse_args()
    if args.member:
        print(json.dumps(member(args.steps, args.keep if args.member == "bounded" else None)))
        return
    print(f"{args.steps:,} steps of one spindle twin (5 outputs recorded), step 1 ms")
    print(f"{'result':>28} {'RSS at 10 %':>12} {'RSS at 100 %':>13} {'growth':>8}")
    for kind, label in (("bounded", f"keep_rows={args.keep:,} + Parquet"),
                        ("unbounded", "every row in memory")):
        out = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--keep",
                              str(args.keep), "--member", kind],
                             capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.splitlines()[-1])
        print(f"{label:>28} {figures['after_tenth_mb']:>9.0f} MB {figures['after_all_mb']:>10.0f} MB"
              f" {figures['after_all_mb'] / figures['after_tenth_mb']:>7.2f}x")


if __name__ == "__main__":
    main()
