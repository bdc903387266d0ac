"""Isolated components: the cost per step of running FMUs in worker processes.

    python benchmarks/isolation.py [--sizes 1 10] [--steps N] [--reps R] [--spin US] [--json FILE]

A chain of N FMI 2.0 gains (twin ``gain``, each output to the next input,
step 1 ms) is run with ``Simulation.run()``:

- **in process**: the FMUs loaded into this process (cosim's usual way);
- **isolated**: the same system with ``isolate=True``, each gain in a worker
  process of its own behind cosim's proxy library;
- **floor**: ``isolation_pingpong.c``, N bare worker processes answering one
  request per step each over the same shared-memory channel
  (``cosim/isolation/channel.h``, same spin-then-futex waits), with a gain's
  payload and no FMU, no master: the least one round trip per component and
  step can cost here;
- **gRPC** (N = 1 only): the gain served by ``cosim serve-twin`` over
  loopback gRPC (streaming), the isolation cosim had before.

It prints µs per step (best of R runs) and **overhead / floor**: (isolated -
in process) / floor, the share of the isolated cost that is not the channel's
own.  ``--spin`` sets COSIM_ISOLATION_SPIN_US (how long each side spins before
sleeping) for the isolated runs and the floor alike.  The results of the
in-process and isolated runs are checked to be equal bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STEP = 0.001


def chain(n: int, isolate: bool, source=None):
    from cosim import System, twins

    system = System("chain")
    for i in range(n):
        if source is not None and i == 0:       # a remote twin: its server sets it up
            system.add(f"g{i}", source)
        else:
            system.add(f"g{i}", twins.path("gain"), isolate=isolate,
                       parameters={"k": 1.0, "b": 0.001})
        if i:
            system.connect(f"g{i - 1}.y", f"g{i}.u")
    return system


def run(n: int, steps: int, isolate: bool, source=None) -> tuple[float, object]:
    """(seconds per step, result) of one run of ``steps`` steps."""
    sim = chain(n, isolate, source).start(step_size=STEP, stop_time=steps * STEP,
                                          record=[f"g{n - 1}.y"])
    started = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - started
    result = sim.stop()
    return elapsed / steps, result


def floor_binary() -> Path:
    """The ping-pong floor, compiled once into the temp folder."""
    source = HERE / "isolation_pingpong.c"
    header = HERE.parent / "cosim" / "isolation" / "channel.h"
    out = Path(tempfile.gettempdir()) / f"cosim-pingpong-{int(source.stat().st_mtime)}"
    if not out.exists() or out.stat().st_mtime < header.stat().st_mtime:
        subprocess.run(["gcc", "-std=gnu11", "-O2", f"-I{header.parent}", str(source), "-o",
                        str(out)], check=True)
    return out


def floor(n: int, steps: int, spin: float) -> float:
    done = subprocess.run([str(floor_binary()), str(n), str(steps), str(spin)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout) * 1e-6


def grpc_run(steps: int) -> float | None:
    """Seconds per step of one gain served over loopback gRPC (streaming)."""
    from cosim import twins
    from cosim.rpc import RemoteTwin

    proc = subprocess.Popen([sys.executable, "-m", "cosim", "serve-twin", str(twins.path("gain")),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if " on grpc://" not in line:
            return None
        url = line.split(" on ", 1)[1].split()[0].rstrip(",")
        return run(1, steps, False, RemoteTwin(url, mode="stream"))[0]
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10], help="chain lengths")
    parser.add_argument("--steps", type=int, default=20000, help="steps per run (default 20000)")
    parser.add_argument("--reps", type=int, default=5, help="runs per figure, best kept (default 5)")
    parser.add_argument("--spin", type=float, default=5.0,
                        help="µs each side spins before sleeping (default 5, as cosim's default)")
    parser.add_argument("--no-grpc", action="store_true", help="skip the gRPC twin")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    os.environ["COSIM_ISOLATION_SPIN_US"] = str(args.spin)

    rows = []
    for n in args.sizes:
        best = {"in process": np.inf, "isolated": np.inf, "floor": np.inf}
        for _ in range(args.reps):          # interleaved, so that load changes hit all alike
            local, plain = run(n, args.steps, False)
            isolated, alone = run(n, args.steps, True)
            if plain[f"g{n - 1}.y"].tobytes() != alone[f"g{n - 1}.y"].tobytes():
                raise SystemExit(f"chain of {n}: isolated results differ from in-process ones")
            best["in process"] = min(best["in process"], local)
            best["isolated"] = min(best["isolated"], isolated)
            best["floor"] = min(best["floor"], floor(n, args.steps, args.spin))
        row = {"n": n, **{k: v * 1e6 for k, v in best.items()}}
        if n == 1 and not args.no_grpc:
            grpc = grpc_run(min(args.steps, 5000))
            row["grpc"] = grpc * 1e6 if grpc is not None else None
        row["overhead / floor"] = (row["isolated"] - row["in process"]) / row["floor"]
        rows.append(row)

    print(f"gain chains, {args.steps} steps of {STEP * 1e3:g} ms, best of {args.reps}, "
          f"spin {args.spin:g} µs, {os.cpu_count()} CPUs; µs per step")
    print(f"{'N':>5} {'in process':>11} {'isolated':>10} {'floor':>9} {'gRPC':>9} "
          f"{'overhead/floor':>15}")
    for r in rows:
        grpc = f"{r['grpc']:.1f}" if r.get("grpc") else "-"
        print(f"{r['n']:>5} {r['in process']:>11.2f} {r['isolated']:>10.2f} {r['floor']:>9.2f} "
              f"{grpc:>9} {r['overhead / floor']:>14.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
