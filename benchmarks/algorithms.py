"""Accuracy figures of the master algorithms on a two-mass oscillator split
over two FMUs (the test model tests/fmus/mass), against its exact solution.

    python benchmarks/algorithms.py

Prints the measured convergence order of the zero- and first-order holds
(the first-order hold's slope from the masses' output derivatives, and from
the last two communication points: the same model built without the
output-derivative functions, tests/fmus/mass_hidden_derivatives), and the
steps the variable step control needs to match fixed-step runs.
"""

from __future__ import annotations

import logging
import runpy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import cosim  # noqa: E402
from master.test_algorithms import OSCILLATOR, SLOW_DRIFT, exact, oscillator  # noqa: E402


def point_error(result, parameters) -> float:
    """Largest deviation from the exact positions at the recorded points (no
    resampling: interpolating 0.1 s rows of a 20 rad/s oscillation would
    measure the interpolation, not the coupling)."""
    reference = exact(parameters, result.time)
    return max(np.abs(result["a.x"] - reference[:, 0]).max(),
               np.abs(result["b.x"] - reference[:, 1]).max())


def build_mass(folder: Path) -> dict[str, dict[str, Path]]:
    """{"derivative": {version: path}, "secant": {version: path}}: the mass with
    and without the output-derivative functions in its binary."""
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    models = {"derivative": "mass", "secant": "mass_hidden_derivatives"}
    builder["build_all"](folder, [ROOT / "tests" / "fmus" / m for m in models.values()])
    return {slope: {"2.0": folder / "fmi2" / f"{m}.fmu", "3.0": folder / "fmi3" / f"{m}.fmu"}
            for slope, m in models.items()}


def convergence(paths: dict[str, dict[str, Path]]) -> None:
    steps = (0.04, 0.02, 0.01, 0.005)
    print("Convergence of the coupling error (|a.x(5 s) - exact|), orders between halved steps")
    print("(foh slope: 'derivative' = the source FMU's output derivative, 'secant' = the last "
          "two points)")
    print(f"{'FMI':<4} {'algorithm':<13} {'hold':<5} {'slope':<10} "
          + " ".join(f"{'h=' + str(h):>10}" for h in steps) + "   orders")
    runs = [("zoh", "secant"), ("foh", "secant"), ("foh", "derivative")]
    for version in ("2.0", "3.0"):
        for algorithm in ("jacobi", "gauss-seidel"):
            for hold, slope in runs:
                path = paths[slope][version]
                errors = []
                for h in steps:
                    result = cosim.simulate(oscillator(path), stop_time=5.0, step_size=h,
                                            algorithm=algorithm, extrapolation=hold)
                    errors.append(abs(result["a.x"][-1] - exact(OSCILLATOR, 5.0)[0, 0]))
                orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
                print(f"{version:<4} {algorithm:<13} {hold:<5} {slope if hold == 'foh' else '-':<10} "
                      + " ".join(f"{e:>10.2e}" for e in errors)
                      + "   " + " ".join(f"{o:.2f}" for o in orders))


def step_control(paths: dict[str, Path]) -> None:
    print("\nVariable step on a fast transient followed by a slow drift (60 s, Jacobi, FMI 2.0)")
    print(f"{'hold':<15} {'run':<22} {'steps':>8} {'rejected':>9} {'max error':>10} {'wall s':>7}")
    for hold, slope in (("zoh", "secant"), ("foh", "secant"), ("foh", "derivative")):
        path = paths[slope]
        label_hold = hold if hold == "zoh" else f"foh/{slope}"
        runs = [("fixed h=" + str(h), {"step_size": h}) for h in (0.01, 0.002, 0.001)]
        runs += [(f"variable rtol={rtol:g}", {"step_size": 0.001, "variable_step": True,
                                               "rtol": rtol, "atol": rtol * 1e-3, "max_step": 1.0})
                 for rtol in (1e-1, 1e-2, 1e-3)]
        for label, options in runs:
            started = time.perf_counter()
            result = cosim.simulate(oscillator(path, SLOW_DRIFT), stop_time=60.0,
                                    output_interval=0.1, extrapolation=hold, **options)
            wall = time.perf_counter() - started
            stats = result.stats["a"]
            print(f"{label_hold:<15} {label:<22} {stats.steps:>8} {stats.rejected:>9} "
                  f"{point_error(result, SLOW_DRIFT):>10.2e} {wall:>7.2f}")


def main() -> None:
    # the secant build warns that its binary lacks the output-derivative functions
    logging.getLogger("cosim.fmu").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="cosim-bench-") as folder:
        paths = build_mass(Path(folder))
        convergence(paths)
        step_control({slope: by_version["2.0"] for slope, by_version in paths.items()})


if __name__ == "__main__":
    main()
