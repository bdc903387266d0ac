"""Cost of cosim's master per FMU-step on a chain of gain FMUs.

    python benchmarks/chain.py [--sizes 1 10 100 1000] [--steps 20000] [--repeat 5]

Each gain's output feeds the next gain's input; only the last output is
recorded.  Prints, per algorithm and chain length, the best of ``repeat``
runs in microseconds per FMU-step (step loop only) and the set-up time
(instantiate and initialize).
"""

from __future__ import annotations

import argparse
import time

from cosim import System, twins


def chain(n: int, fmi_version: str) -> System:
    system = System(f"chain{n}")
    path = twins.path("gain", fmi_version)
    for i in range(n):
        system.add(f"g{i}", path, parameters={"k": 1.0, "b": 1e-6})
        if i:
            system.connect(f"g{i - 1}.y", f"g{i}.u")
    return system


def measure(system: System, n: int, steps: int, algorithm: str, repeat: int):
    best_run, best_setup = float("inf"), float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        sim = system.start(step_size=1e-3, stop_time=steps * 1e-3, algorithm=algorithm,
                           record=[f"g{n - 1}.y"], output_interval=steps * 1e-3)
        ready = time.perf_counter()
        sim.run()
        done = time.perf_counter()
        sim.stop()
        best_setup = min(best_setup, ready - started)
        best_run = min(best_run, done - ready)
    return best_run / steps / n * 1e6, best_setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fmi-version", default="2.0", choices=["2.0", "3.0"])
    args = parser.parse_args()
    print(f"chain of gain FMUs (FMI {args.fmi_version}), {args.steps} steps, best of {args.repeat}")
    print(f"{'algorithm':<14}{'N':>6}{'us/FMU-step':>14}{'setup (s)':>12}")
    for algorithm in ("jacobi", "gauss-seidel"):
        for n in args.sizes:
            steps = max(200, args.steps * min(args.sizes) // n)
            per_step, setup = measure(chain(n, args.fmi_version), n, steps, algorithm, args.repeat)
            print(f"{algorithm:<14}{n:>6}{per_step:>14.4f}{setup:>12.3f}")


if __name__ == "__main__":
    main()
