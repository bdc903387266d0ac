"""What setting only changed inputs saves, on chains whose inputs stay constant.

    python benchmarks/input_sets.py [--steps 20000] [--repeat 5]

Two chains, each fed by a constant source, FMI 2.0, step 10 ms, Gauss-Seidel:

- N gains (fmus/gain): a set costs one cheap FMI call;
- N set_counter FMUs (tests/fmus/set_counter, built here): like FMUs with
  their own variable-step integrator, each restarts its solver on every set
  (its first substep 1 µs, doubling up to the step), so a needless set costs
  integration work and accuracy.

Runners, in one run on the same FMUs: cosim as it is (an input is set only
when its value changed: here once, at initialization), cosim with
``set_all_inputs`` (the previous behaviour: every connected input before
every step; the same loop otherwise), and a plain-Python loop over fmpy that
sets every input before every step.  It prints microseconds per FMU-step
(best of ``--repeat``), the ratios, and for the set_counter chain how much
the needless restarts move the result.
"""

from __future__ import annotations

import argparse
import math
import runpy
import tempfile
import time
from pathlib import Path

import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave

import cosim
from cosim import twins

ROOT = Path(__file__).resolve().parents[1]
STEP = 0.01
LEVEL = 4.0


def chain(kind: str, n: int, path: Path) -> cosim.System:
    """A constant source feeding n components of ``kind`` ("gain" or "set_counter") in parallel
    (set_counter) or in series (gain, each output to the next input)."""
    system = cosim.System(f"{kind}_chain")
    system.add("src", twins.path("source"), parameters={"waveform": 0, "amplitude": LEVEL,
                                                        "offset": 0.0})
    previous = "src.y"
    for i in range(n):
        # a solver restart starts at 1 µs and doubles its substep up to the step, as
        # variable-step integrators do after a discontinuity
        system.add(f"c{i}", path,
                   parameters={"first_substep": 1e-6} if kind == "set_counter" else None)
        system.connect(previous, f"c{i}.u")
        previous = f"c{i}.y"
    return system


def run_cosim(system: cosim.System, steps: int, *, set_all: bool, record) -> tuple[float, dict]:
    with system.start(step_size=STEP, stop_time=steps * STEP, algorithm="gauss-seidel",
                      record=record) as sim:
        sim._core.set_all_inputs = set_all      # the previous behaviour, for comparison
        started = time.perf_counter()
        result = sim.run()
        elapsed = time.perf_counter() - started
    return elapsed, {name: result[name] for name in record}


def run_fmpy(system: cosim.System, steps: int, work: Path) -> float:
    """Gauss-Seidel over fmpy: every input set before every step, as a Python loop does."""
    slaves, links = {}, []
    for name in system.components:
        path = str(system.source(name))
        unzipped = extract(path, unzipdir=str(work / name))
        md = read_model_description(unzipped)
        slave = FMU2Slave(guid=md.guid, unzipDirectory=unzipped, instanceName=name,
                          modelIdentifier=md.coSimulation.modelIdentifier)
        slave.instantiate()
        slave.setupExperiment(startTime=0.0)
        for var, value in system.parameters(name).items():
            slave.setReal([system.components[name].variables[var].value_reference], [value]) \
                if system.components[name].variables[var].type == "float64" else \
                slave.setInteger([system.components[name].variables[var].value_reference], [value])
        slave.enterInitializationMode()
        slave.exitInitializationMode()
        slaves[name] = slave
    for source, target in system.connections:
        (s, sv), (d, dv) = source.split(".", 1), target.split(".", 1)
        links.append((slaves[s], system.components[s].variables[sv].value_reference,
                      slaves[d], system.components[d].variables[dv].value_reference))
    by_target = {}
    for link in links:
        by_target.setdefault(id(link[2]), []).append(link)
    order = list(slaves.values())
    started = time.perf_counter()
    t = 0.0
    for n in range(steps):
        t = n * STEP
        for slave in order:
            for src, svr, _, dvr in by_target.get(id(slave), ()):
                slave.setReal([dvr], src.getReal([svr]))
            slave.doStep(currentCommunicationPoint=t, communicationStepSize=STEP)
    elapsed = time.perf_counter() - started
    for slave in order:
        slave.terminate()
        slave.freeInstance()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("-n", type=int, default=10, help="FMUs per chain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cosim-input-sets-") as tmp:
        work = Path(tmp)
        builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
        builder["build_all"](work / "fmus", [ROOT / "tests" / "fmus" / "set_counter"],
                             versions=("2.0",))
        paths = {"gain": twins.path("gain"), "set_counter": work / "fmus" / "fmi2" / "set_counter.fmu"}
        n, steps = args.n, args.steps
        print(f"{n} FMUs fed by a constant source, {steps} steps of {STEP} s, Gauss-Seidel, "
              f"best of {args.repeat}")
        print(f"{'chain':<12} {'cosim':>9} {'set all':>9} {'fmpy loop':>10}   "
              f"{'set all/cosim':>13} {'fmpy/cosim':>10}   (µs per FMU-step)")
        for kind, path in paths.items():
            system = chain(kind, n, path)
            record = [f"c{n - 1}.x"] if kind == "set_counter" else []
            best = {"cosim": math.inf, "set all": math.inf, "fmpy": math.inf}
            runs = {}
            for r in range(args.repeat):
                for label, set_all in (("cosim", False), ("set all", True)):
                    elapsed, runs[label] = run_cosim(system, steps, set_all=set_all, record=record)
                    best[label] = min(best[label], elapsed)
                best["fmpy"] = min(best["fmpy"], run_fmpy(system, steps, work / f"fmpy{kind}{r}"))
            per = {k: v / steps / (n + 1) * 1e6 for k, v in best.items()}
            print(f"{kind:<12} {per['cosim']:>9.3f} {per['set all']:>9.3f} {per['fmpy']:>10.2f}   "
                  f"{per['set all'] / per['cosim']:>12.2f}x {per['fmpy'] / per['cosim']:>9.1f}x")
            if record:
                a, b = runs["cosim"][record[0]], runs["set all"][record[0]]
                print(f"{'':<12} x differs by up to {np.abs(a - b).max() / np.abs(a).max():.1e} "
                      "(relative) between cosim and set all: the restarts change the result")


if __name__ == "__main__":
    main()
