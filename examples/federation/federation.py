"""A federated line twin: two vendors host their twins, the plant composes them.

- Vendor A serves its spindle twin with ``cosim serve-twin spindle.fmu``,
  exposing only the three parameters the plant needs, behind its own token.
- Vendor B serves its furnace twin the same way (no parameters exposed).
- This process is the plant's orchestrator: it builds the line twin of
  ``examples/line_twin`` with the spindle and the furnace replaced by
  ``grpc://`` remote twins, and the conveyors, the part source and the gains
  as local FMUs, runs it, and checks it against the all-local line.

Neither model leaves its vendor's process: the plant sees the variables
each vendor exposes, and nothing else.

Run it with ``python examples/federation/federation.py [--minutes M]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "line_twin"))

from line_twin import build_line, step_size, summarize  # noqa: E402

from cosim import twins  # noqa: E402
from cosim.rpc import RemoteTwin  # noqa: E402

VENDORS = {
    # component: (FMU, exposed parameters, the vendor's token)
    "spindle": ("spindle", ("initial_wear", "wear_rate", "solver_step"), "vendor-a-token"),
    "furnace": ("furnace", (), "vendor-b-token"),
}


def start_vendor(fmu: str, parameters, token: str) -> tuple[subprocess.Popen, str]:
    """``cosim serve-twin`` in its own process on a free loopback port; returns (process, url)."""
    command = [sys.executable, "-m", "cosim", "serve-twin", str(twins.path(fmu)), "--port", "0",
               "--token", token]
    for name in parameters:
        command += ["--expose", name]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r" on (grpc://\S+?)[,\s]", line)
    if match is None:
        proc.kill()
        raise SystemExit(f"the {fmu} vendor did not start: {line!r}")
    return proc, match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes (default 30)")
    parser.add_argument("--algorithm", default="gauss-seidel", choices=["jacobi", "gauss-seidel"])
    args = parser.parse_args()
    stop_time = args.minutes * 60.0

    vendors = {}
    try:
        for component, (fmu, parameters, token) in VENDORS.items():
            vendors[component] = start_vendor(fmu, parameters, token)
            exposed = ", ".join(parameters) or "no parameters"
            print(f"vendor twin {component:<8} {vendors[component][1]}  (exposes inputs, outputs, "
                  f"{exposed})")
        remote = {c: RemoteTwin(url, token=VENDORS[c][2]) for c, (_, url) in vendors.items()}

        line = build_line(spindle_source=remote["spindle"], furnace_source=remote["furnace"])
        started = time.perf_counter()
        federated = line.simulate(stop_time=stop_time, step_size=step_size, algorithm=args.algorithm)
        elapsed = time.perf_counter() - started
        local = build_line().simulate(stop_time=stop_time, step_size=step_size,
                                      algorithm=args.algorithm)
    finally:
        for proc, _ in vendors.values():
            proc.terminate()
            proc.wait(10)

    steps = len(federated.time) - 1
    # columns come in their variables' types (booleans too): compare as floats
    difference = max(float(np.max(np.abs(federated[n].astype(float) - local[n].astype(float))))
                     for n in local.names)
    s = summarize(federated, after=min(3600.0, stop_time / 2))
    print(f"federated line twin: {len(line.components)} components (2 remote), {steps} steps "
          f"({args.algorithm}) in {elapsed:.2f} s, {elapsed / steps * 1e6:.0f} µs per step")
    print(f"  parts delivered to the furnace   {s['parts_delivered']:10.1f}")
    print(f"  energy (furnace + drives)        {s['energy_kwh']:10.1f} kWh")
    print(f"  spindle bearing wear             {s['spindle_wear']:10.5f}")
    print(f"  largest difference from the all-local line: {difference:.3g}")
    return 0 if difference <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
