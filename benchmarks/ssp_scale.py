"""Time to load and validate a large SSP: 1,000 components, ~3,000 connections.

    python benchmarks/ssp_scale.py [--components 1000] [--fan 3]

Energy meters in a chain where each meter's total feeds the next ``fan``
meters (an acyclic graph with direct feedthrough, so the loop check works
on every connection).  The system is written once as .ssd and as .ssp;
then reading with full validation (schema, connectors, types, units,
algebraic loops) and building the System are timed, best of 3.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cosim
from cosim import System, twins


def build(n: int, fan: int) -> System:
    system = System(f"meters{n}")
    path = twins.path("energy_meter")
    for i in range(n):
        system.add(f"m{i}", path)
    for i in range(n):
        for k in range(1, fan + 1):
            if i + k < n:
                system.connect(f"m{i}.total_power", f"m{i + k}.power_{k}")
    return system


def best(action, repeat=3):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        value = action()
        times.append(time.perf_counter() - started)
    return min(times), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--fan", type=int, default=3)
    args = parser.parse_args()
    build_s, system = best(lambda: build(args.components, args.fan), 1)
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".ssd", ".ssp"):
            path = Path(tmp) / f"system{suffix}"
            save_s, _ = best(lambda p=path: system.save(p), 1)
            read_s, report = best(lambda p=path: cosim.ssp.read(p))
            assert not report.errors, report.errors[:3]
            print(f"{suffix}: {args.components} components, {len(system.connections)} connections: "
                  f"write {save_s:.2f} s, read + validate {read_s:.2f} s "
                  f"({path.stat().st_size / 1e6:.1f} MB)")
    print(f"composing the same system in Python: {build_s:.2f} s")


if __name__ == "__main__":
    main()
