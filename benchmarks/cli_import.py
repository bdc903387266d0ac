"""How long the command line takes to start.

Prints, as the median of several runs in fresh processes:

- ``import cosim.cli``: its cumulative import time from ``python -X importtime``;
- ``import cosim``;
- ``import cosim.execution``, what a ``cosim run`` pays on top, for comparison;
- the wall time of ``python -m cosim --help`` and of the ``cosim --help``
  console script next to this Python (when installed);
- the wall time of ``python -c pass``, the interpreter's own start (the floor).

    python benchmarks/cli_import.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def import_ms(module: str, runs: int) -> float:
    """Median cumulative import time of ``module`` in ms, from -X importtime."""
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                              capture_output=True, text=True, check=True)
        for line in done.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                times.append(int(parts[1]) / 1000)
    return statistics.median(times)


def wall_ms(command: list[str], runs: int) -> float:
    """Median wall time of ``command`` in ms."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    runs = parser.parse_args().runs
    rows = [("import cosim.cli", import_ms("cosim.cli", runs)),
            ("import cosim", import_ms("cosim", runs)),
            ("import cosim.execution (what a run adds)", import_ms("cosim.execution", runs)),
            ("python -m cosim --help (wall)", wall_ms([sys.executable, "-m", "cosim", "--help"],
                                                       runs))]
    script = shutil.which("cosim", path=str(Path(sys.executable).parent))
    if script:
        rows.append(("cosim --help (wall)", wall_ms([script, "--help"], runs)))
    rows.append(("python -c pass (wall, the floor)", wall_ms([sys.executable, "-c", "pass"], runs)))
    print(f"median of {runs} runs, {sys.version.split()[0]}")
    for label, ms in rows:
        print(f"  {label:<42} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
