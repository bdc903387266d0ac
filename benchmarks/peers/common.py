"""What every benchmark runner shares: reading a plan, reporting one JSON line.

A runner is started as ``python RUNNER PLAN.json --steps N --algorithm A``
and prints one line of JSON: runner, setup_s (load, instantiate, initialize),
run_s (the step loop only), steps, components, and the final values of the
plan's reported variables.
"""

from __future__ import annotations

import argparse
import json
import sys


def arguments(description: str):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("plan")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--algorithm", choices=["jacobi", "gauss-seidel"], default="gauss-seidel")
    parser.add_argument("--threads", type=_threads, default=1,
                        help="cosim only: Jacobi threads, or 'auto' (cosim decides)")
    parser.add_argument("--record", choices=["final", "one", "all"], default="final",
                        help="cosim only: record the reported values at the end only (final), "
                             "at every step (one), or every output at every step (all)")
    parser.add_argument("--exchange", choices=["batch", "sequential"], default="batch",
                        help="fmpy loop only, Jacobi: batch = set inputs from the outputs all got "
                             "after the previous step (cosim, floor, libcosim); sequential = after "
                             "stepping all, copy each connection in plan order, getting its source "
                             "then setting its target (what fmpy's container FMU does)")
    args = parser.parse_args()
    with open(args.plan) as f:
        args.plan = json.load(f)
    return args


def _threads(text: str):
    return None if text == "auto" else int(text)


def report(runner: str, plan: dict, *, setup_s: float, run_s: float, steps: int,
           final: list[float], **extra) -> None:
    line = {"runner": runner, "setup_s": setup_s, "run_s": run_s, "steps": steps,
            "components": len(plan["components"]), "final": final, **extra}
    print(json.dumps(line))
    sys.stdout.flush()
