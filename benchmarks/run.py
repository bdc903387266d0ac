"""cosim's performance benchmark: cosim against a bare C floor and its peers, in one run.

    python benchmarks/run.py [--quick] [--json FILE] [--reps R]

Every measurement is a fresh process (benchmarks/peers/*), best of R runs
(R = 5, --quick 2; 2 and 1 where one run takes more than a few seconds),
repetitions interleaved across runners.  Run time is the step loop only;
set-up (load, instantiate, initialize) is reported separately.  Every
runner's final values are checked against cosim's with the same algorithm
family at the same step count (relative 1e-9); a difference is printed as a
MISMATCH line.  See benchmarks/README.md for how to read the tables.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
sys.path.insert(0, str(HERE))

import plan as plans

from cosim import System, twins

RTOL = 1e-9

# Runners: label, script, algorithm, reference family ("J" or "GS"), step class, prefix.
RUNNERS = {
    "cosim-J": ("cosim", "cosim_runner.py", "jacobi", "J", "fast", []),
    "cosim-GS": ("cosim", "cosim_runner.py", "gauss-seidel", "GS", "fast", []),
    "floor-J": ("floor (C)", "floor_runner.py", "jacobi", "J", "fast", []),
    "floor-GS": ("floor (C)", "floor_runner.py", "gauss-seidel", "GS", "fast", []),
    "libcosim": ("libcosim", "libcosim_runner.py", "jacobi", "J", "libcosim", []),
    "libcosim-1cpu": ("libcosim, 1 CPU", "libcosim_runner.py", "jacobi", "J", "libcosim",
                      ["taskset", "-c", "0"]),
    "fmpy-loop": ("fmpy loop", "fmpy_loop.py", "gauss-seidel", "GS", "fmpy", []),
    "fmpy-container": ("fmpy container", "fmpy_container.py", "jacobi", "J", "fast", []),
}
ALGORITHM_LABELS = {"cosim-J": "jacobi", "cosim-GS": "gauss-seidel", "floor-J": "jacobi",
                    "floor-GS": "gauss-seidel", "libcosim": "fixed-step (Jacobi)",
                    "libcosim-1cpu": "fixed-step (Jacobi)", "fmpy-loop": "gauss-seidel",
                    "fmpy-container": "container (Jacobi)"}
COSIM_OF = {"J": "cosim-J", "GS": "cosim-GS"}

# Rough cost per step (µs) per step class, to size step counts: a + b * N for
# gain chains, and per step of the line twin.  Only used to aim at the target
# run time; the measurements do not depend on them.
CHAIN_COST = {"fast": (0.0, 0.03), "libcosim": (5.0, 3.0), "fmpy": (1.0, 6.0)}
LINE_COST = {"fast": 18.0, "libcosim": 55.0, "fmpy": 50.0}
LINE_REPORT = ["furnace.energy", "spindle.wear", "transfer.parts_delivered", "infeed.jam"]


def nice(n: float, minimum: int = 20) -> int:
    """n rounded to two significant digits, at least ``minimum``."""
    n = max(int(n), minimum)
    scale = 10 ** max(len(str(n)) - 2, 0)
    return max(round(n / scale) * scale, minimum)


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    if x >= 0.1:
        return f"{x:.3f}"
    return f"{x:.4f}"


def ratio(x: float | None) -> str:
    return "-" if x is None else f"{fmt(x)}x"


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= RTOL * max(abs(x), abs(y)) for x, y in zip(a, b))


class Bench:
    def __init__(self, args):
        self.quick = args.quick
        self.reps = args.reps or (2 if args.quick else 5)
        self.heavy_reps = 1 if args.quick else 2
        self.heavy_s = 2.0 if args.quick else 2.5     # runs longer than this (wall) get heavy_reps
        self.target = 0.1 if args.quick else 0.4      # seconds of step loop per measurement
        self.work = Path(tempfile.mkdtemp(prefix="cosim-bench-"))
        self.refs: dict[tuple, list[float]] = {}      # (system, family, steps) -> cosim's final values
        self.mismatches: list[str] = []
        self.notes: list[str] = []
        self.unavailable: dict[str, str] = {}
        if importlib.util.find_spec("libcosimpy") is None:
            reason = "libcosimpy is not installed (pip install -e '.[bench]')"
            self.unavailable["libcosim"] = self.unavailable["libcosim-1cpu"] = reason
        elif shutil.which("taskset") is None:
            self.unavailable["libcosim-1cpu"] = "taskset not found"
        if shutil.which("gcc") is None:
            self.unavailable["floor-J"] = self.unavailable["floor-GS"] = "gcc not found"

    # -- running -----------------------------------------------------------------------

    def command(self, key: str, plan_path: Path, steps: int, extra=()) -> list[str]:
        _, script, algorithm, _, _, prefix = RUNNERS[key]
        return [*prefix, sys.executable, str(PEERS / script), str(plan_path), "--steps", str(steps),
                "--algorithm", algorithm, *extra]

    @staticmethod
    def once(cmd: list[str]) -> tuple[dict, float]:
        started = time.perf_counter()
        out = subprocess.run(cmd, check=False, capture_output=True, text=True)
        wall = time.perf_counter() - started
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or not lines:
            tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": f"exit {out.returncode}: {tail[:200]}"}, wall
        return json.loads(lines[-1]), wall

    def measure(self, jobs: dict[str, list[str]]) -> dict[str, dict]:
        """Best of R runs of every job, repetitions interleaved; fewer for slow runs."""
        best: dict[str, dict] = {}
        setup: dict[str, float] = {}
        limit = {key: self.reps for key in jobs}
        done = {key: 0 for key in jobs}
        for _ in range(self.reps):
            for key, cmd in jobs.items():
                if done[key] >= limit[key]:
                    continue
                record, wall = self.once(cmd)
                done[key] += 1
                if "error" in record:
                    best[key] = record
                    limit[key] = 0
                    continue
                if wall > self.heavy_s:
                    limit[key] = min(limit[key], self.heavy_reps)
                record["wall_s"] = wall
                setup[key] = min(setup.get(key, float("inf")), record["setup_s"])
                if key not in best or record["run_s"] < best[key]["run_s"]:
                    best[key] = record
        for key, record in best.items():
            record["reps"] = done[key]
            if "error" not in record:
                record["setup_s"] = setup[key]      # best set-up, best run: each the least disturbed
                timed = record.get("timed_steps", record["steps"])
                record["us_per_step"] = record["run_s"] / timed * 1e6
                record["us_per_fmu_step"] = record["us_per_step"] / record["components"]
        return best

    # -- plans -------------------------------------------------------------------------

    def write_plan(self, name: str, plan: dict) -> Path:
        return plans.write(plan, self.work / f"{name}.json")

    def steps(self, cls: str, system: str, n: int) -> int:
        if system == "line":
            cost = LINE_COST[cls]
        else:
            a, b = CHAIN_COST[cls]
            cost = a + b * n
        return nice(self.target / (cost * 1e-6))

    # -- the comparison ----------------------------------------------------------------

    def compare(self) -> list[dict]:
        systems = [(f"chain{n}", f"gain chain, N = {n} (FMI 2.0, step 1 ms)", n,
                    plans.export(plans.gain_chain(n), [f"g{n - 1}.y"], step_size=1e-3))
                   for n in (1, 10, 100, 1000)]
        systems.append(("line", "line twin, 7 FMUs (FMI 2.0, step 1 s)", 7,
                        plans.export(plans.line_twin(), LINE_REPORT, step_size=1.0)))
        tables = []
        for name, title, n, plan in systems:
            path = self.write_plan(name, plan)
            system_kind = "line" if name == "line" else "chain"
            steps = {cls: self.steps(cls, system_kind, n) for cls in CHAIN_COST}
            skipped = {}
            if self.quick and n >= 1000:
                skipped["libcosim-1cpu"] = "skipped in --quick (about 10 s of set-up per run)"
            jobs = {key: self.command(key, path, steps[RUNNERS[key][4]])
                    for key in RUNNERS if key not in self.unavailable and key not in skipped}
            print(f"  measuring {title} ...", file=sys.stderr, flush=True)
            results = self.measure(jobs)
            for key, reason in {**self.unavailable, **skipped}.items():
                results[key] = {"error": reason}
            # cosim's values at every step count a peer used (references for the checks)
            for key in ("cosim-J", "cosim-GS"):
                record = results[key]
                if "error" not in record:
                    self.refs[(name, RUNNERS[key][3], record["steps"])] = record["final"]
            for key, record in results.items():
                if "error" in record or key.startswith("cosim"):
                    continue
                family = RUNNERS[key][3]
                ref_key = (name, family, record["steps"])
                if ref_key not in self.refs:
                    ref, _ = self.once(self.command(COSIM_OF[family], path, record["steps"]))
                    if "error" not in ref:
                        self.refs[ref_key] = ref["final"]
            for key, record in results.items():
                record["key"] = key
                record["system"] = name
                record["check"] = self.check(name, key, record, plan, path)
            table = {"system": name, "title": title, "n": n, "results": results,
                     "report": [r["name"] for r in plan["report"]]}
            tables.append(table)
            self.print_table(table)
        return tables

    def check(self, system: str, key: str, record: dict, plan: dict, path: Path) -> str:
        if "error" in record:
            return "n/a"
        family = RUNNERS[key][3]
        ref = self.refs.get((system, family, record["steps"]))
        if ref is None:
            return "no ref"
        if close(record["final"], ref):
            return "ok" if not key.startswith("cosim") else "ref"
        names = [r["name"] for r in plan["report"]]
        detail = ", ".join(f"{n}: {v!r} vs cosim {r!r}" for n, v, r in zip(names, record["final"], ref))
        if key == "fmpy-container":
            # The container copies connections one by one after stepping (see fmpy_container.py):
            # a Jacobi variant.  Check it against a plain loop with exactly that exchange.
            cmd = self.command("fmpy-loop", path, record["steps"])
            cmd[cmd.index("--algorithm") + 1] = "jacobi"
            seq, _ = self.once(cmd + ["--exchange", "sequential"])
            if "error" not in seq and close(record["final"], seq["final"]):
                line = (f"DIFFERS BY ALGORITHM {system}: fmpy container vs cosim jacobi at "
                        f"{record['steps']} steps ({detail}). The container copies each connection "
                        f"(get source, set target) in turn after stepping, so a feedthrough FMU "
                        f"(the gains here) passes a new value on within the same step; an fmpy "
                        f"loop with that exchange gives the container's values to 1e-9.")
                self.notes.append(line)
                print(line)
                return "algo*"
        line = (f"MISMATCH {system}: {RUNNERS[key][0]} ({ALGORITHM_LABELS[key]}) differs from "
                f"{COSIM_OF[family]} at {record['steps']} steps: {detail}")
        self.mismatches.append(line)
        print(line)
        return "MISMATCH"

    def print_table(self, table: dict) -> None:
        results = table["results"]
        print()
        print(f"{table['title']}; reported: {', '.join(table['report'])}")
        head = (f"  {'runner':<17}{'algorithm':<21}{'steps':>10}{'µs/step':>11}{'µs/FMU-step':>13}"
                f"{'setup s':>9}{'reps':>6}  {'ratio':<22}{'check':<8}")
        print(head)
        print("  " + "-" * (len(head) - 2))
        for key in RUNNERS:
            r = results[key]
            label = RUNNERS[key][0]
            if "error" in r:
                print(f"  {label:<17}{ALGORITHM_LABELS[key]:<21}{'n/a':>10}   {r['error']}")
                continue
            cosim = results[COSIM_OF[RUNNERS[key][3]]]
            rel = ""
            if "error" not in cosim and not key.startswith("cosim"):
                if key.startswith("floor"):
                    rel = f"cosim/floor {ratio(cosim['us_per_step'] / r['us_per_step'])}"
                else:
                    rel = f"peer/cosim {ratio(r['us_per_step'] / cosim['us_per_step'])}"
            print(f"  {label:<17}{ALGORITHM_LABELS[key]:<21}{r['steps']:>10,}{fmt(r['us_per_step']):>11}"
                  f"{fmt(r['us_per_fmu_step']):>13}{r['setup_s']:>9.3f}{r['reps']:>6}  {rel:<22}"
                  f"{r['check']:<8}")
        sys.stdout.flush()

    def summary(self, tables: list[dict]) -> dict:
        print()
        print("Summary: µs per FMU-step (step loop only; lower is better)")
        columns = [t["system"].replace("chain", "N=") if t["system"] != "line" else "line twin"
                   for t in tables]
        print(f"  {'runner':<38}" + "".join(f"{c:>11}" for c in columns))
        for key in RUNNERS:
            cells = []
            for t in tables:
                r = t["results"][key]
                cells.append("n/a" if "error" in r else fmt(r["us_per_fmu_step"]))
            print(f"  {RUNNERS[key][0] + ' ' + ALGORITHM_LABELS[key]:<38}" + "".join(f"{c:>11}" for c in cells))
        derived = {}
        for label, a, b in (("cosim/floor, jacobi", "cosim-J", "floor-J"),
                            ("cosim/floor, gauss-seidel", "cosim-GS", "floor-GS"),
                            ("libcosim/cosim jacobi", "libcosim", "cosim-J"),
                            ("libcosim 1 CPU/cosim jacobi", "libcosim-1cpu", "cosim-J"),
                            ("fmpy loop/cosim gauss-seidel", "fmpy-loop", "cosim-GS"),
                            ("fmpy container/cosim jacobi", "fmpy-container", "cosim-J")):
            cells, values = [], []
            for t in tables:
                ra, rb = t["results"][a], t["results"][b]
                v = None if "error" in ra or "error" in rb else ra["us_per_step"] / rb["us_per_step"]
                values.append(v)
                cells.append("n/a" if v is None else ratio(v))
            derived[label] = values
            print(f"  {label:<38}" + "".join(f"{c:>11}" for c in cells))
        chain1 = tables[0]["results"]
        fixed = {}
        for algo, a, b in (("jacobi", "cosim-J", "floor-J"), ("gauss-seidel", "cosim-GS", "floor-GS")):
            if "error" not in chain1[a] and "error" not in chain1[b]:
                fixed[algo] = chain1[a]["us_per_step"] - chain1[b]["us_per_step"]
        if fixed:
            print("  cosim's fixed cost per step (N=1 cosim µs/step minus floor µs/step): "
                  + ", ".join(f"{algo} {v * 1000:.0f} ns" for algo, v in fixed.items()))
        derived["fixed_cost_us"] = fixed
        return derived

    # -- cosim-only figures ------------------------------------------------------------

    def extras(self, tables: list[dict]) -> dict:
        out = {}
        print()
        print("cosim only")
        # (a) linear in N up to 10,000 components
        print("  (a) cost per FMU-step from 1,000 to 10,000 components (gain chains, measured together;")
        print("      the floor shows what the FMUs' own memory traffic adds at 10,000)")
        plan = plans.export(plans.gain_chain(10000), ["g9999.y"], step_size=1e-3)
        paths = {1000: self.work / "chain1000.json", 10000: self.write_plan("chain10000", plan)}
        steps = {n: self.steps("fast", "chain", n) for n in paths}
        keys = [k for k in ("cosim-J", "cosim-GS", "floor-GS") if k not in self.unavailable]
        res = self.measure({(k, n): self.command(k, paths[n], steps[n]) for k in keys for n in paths})
        out["scaling"] = {f"{k} N={n}": r for (k, n), r in res.items()}
        print(f"      {'runner':<24}{'N=1000':>10}{'N=10000':>10}{'10000/1000':>12}{'setup s (10000)':>17}")
        for k in keys:
            a, b = res[(k, 1000)], res[(k, 10000)]
            if "error" in a or "error" in b:
                print(f"      {RUNNERS[k][0] + ' ' + ALGORITHM_LABELS[k]:<24}n/a {a.get('error', b.get('error'))}")
                continue
            if k.startswith("floor"):
                for n in paths:
                    ref = res.get((COSIM_OF[RUNNERS[k][3]], n), {})
                    if "final" in ref and not close(res[(k, n)]["final"], ref["final"]):
                        self.mismatches.append(f"MISMATCH chain{n}: {k} {res[(k, n)]['final']} vs "
                                               f"cosim {ref['final']}")
                        print(self.mismatches[-1])
            print(f"      {RUNNERS[k][0] + ' ' + ALGORITHM_LABELS[k]:<24}{fmt(a['us_per_fmu_step']):>10}"
                  f"{fmt(b['us_per_fmu_step']):>10}{ratio(b['us_per_fmu_step'] / a['us_per_fmu_step']):>12}"
                  f"{b['setup_s']:>17.2f}")
        print("      (µs per FMU-step; 1x = cost linear in N)")

        # (b) memory per component instance
        print("  (b) memory per component (VmRSS growth from 1,000 to 10,000 gains, fresh process)")
        mem = {}
        for n in (1000, 10000):
            r, _ = self.once([sys.executable, str(PEERS / "cosim_memory.py"), str(n)])
            mem[n] = r
        out["memory"] = mem
        if all("error" not in r for r in mem.values()):
            per = lambda field: (mem[10000][field] - mem[1000][field]) / 9000
            model = per("built_kb")
            total = per("started_kb")
            print(f"      System (model, parameters, connections)  {model:6.2f} kB per component")
            print(f"      running simulation (instance, buffers)   {total - model:6.2f} kB per component")
            print(f"      total                                    {total:6.2f} kB per component "
                  f"(RSS at 10,000 started: {mem[10000]['started_kb'] / 1024:.0f} MB)")
            out["memory"]["per_component_kb"] = {"system": model, "running": total - model, "total": total}
        else:
            print(f"      n/a: {[r.get('error') for r in mem.values()]}")

        # (c) recording cost
        print("  (c) recording cost, 1000 gains, jacobi: every output at every step vs one output")
        path = self.work / "chain1000.json"
        steps = nice(self.steps("fast", "chain", 1000) / 2)
        jobs = {mode: self.command("cosim-J", path, steps, ["--record", mode]) for mode in ("final", "one", "all")}
        res = self.measure(jobs)
        out["recording"] = res
        labels = {"final": "reported output at the end only", "one": "one output every step",
                  "all": "all 1000 outputs every step"}
        for mode in ("final", "one", "all"):
            r = res[mode]
            if "error" in r:
                print(f"      {labels[mode]:<34} n/a: {r['error']}")
                continue
            same = close(r["final"], res["final"].get("final", []))
            if not same:
                self.mismatches.append(f"MISMATCH recording {mode}: final values differ")
                print(self.mismatches[-1])
            versus = ("" if mode == "final" else
                      f"  {ratio(r['us_per_step'] / res['final']['us_per_step'])} of end-only")
            print(f"      {labels[mode]:<34}{fmt(r['us_per_step']):>9} µs/step{versus}")
        if "error" not in res["one"] and "error" not in res["all"]:
            print(f"      all outputs / one output: {ratio(res['all']['us_per_step'] / res['one']['us_per_step'])}; "
                  f"{(res['all']['us_per_step'] - res['one']['us_per_step']) / 999 * 1000:.1f} ns per extra "
                  f"recorded value per step ({steps:,} steps)")

        # (d) parallel Jacobi, with a plain C OpenMP loop of the same shape measured alongside
        print("  (d) parallel Jacobi: threads=2 and automatic choice vs threads=1 "
              f"({os.cpu_count()} vCPUs); C OpenMP = a plain C loop of the same shape, same runs")
        omp = self.omp_binary()
        seconds_per_iteration = None
        if omp is not None:
            calib, _ = self.once([str(omp), "8", "2000", "200", "1"])
            if "error" not in calib:
                seconds_per_iteration = calib["run_s"] / (8 * 2000 * 200)
        cases = []
        for kind, h, report, grain in (("spindle", 0.1, "spindle0.wear", 8.0),
                                       ("furnace", 60.0, "furnace0.energy", 5.0)):
            system = System(f"{kind}s8")
            for i in range(8):
                system.add(f"{kind}{i}", twins.path(kind))
            path = self.write_plan(f"{kind}s8", plans.export(system, [report], step_size=h))
            cases.append((f"8 {kind}s, step {h:g} s", path, 8, grain, nice(self.target / (grain * 8e-6))))
        cases.append(("100 gains (chain), step 1 ms", self.work / "chain100.json", 100, 0.03,
                      self.steps("fast", "chain", 100)))
        print(f"      {'system':<28}{'threads=1':>10}{'threads=2':>10}{'auto':>9}{'speedup 2':>10}"
              f"{'speedup auto':>13}{'auto chose':>11}  {'C OpenMP 1 / 2 threads, grain':<34}{'speedup':>8}  check")
        out["parallel"] = {}
        for title, path, n, grain, steps in cases:
            jobs = {t: self.command("cosim-J", path, steps, ["--threads", t]) for t in ("1", "2", "auto")}
            if seconds_per_iteration:
                work = max(1, round(grain * 1e-6 / seconds_per_iteration))
                for t in ("1", "2"):
                    jobs[f"omp{t}"] = [str(omp), str(n), str(work), str(steps), t]
            res = self.measure(jobs)
            out["parallel"][title] = res
            if any("error" in res[t] for t in ("1", "2", "auto")):
                print(f"      {title:<28}n/a: {[r.get('error') for r in res.values() if 'error' in r]}")
                continue
            ok = all(close(res[t]["final"], res["1"]["final"]) for t in ("2", "auto"))
            if not ok:
                self.mismatches.append(f"MISMATCH parallel {title}: threads change the results")
                print(self.mismatches[-1])
            t1 = res["1"]["us_per_step"]
            c = "n/a"
            c_speedup = "-"
            if "omp1" in res and "error" not in res["omp1"] and "error" not in res["omp2"]:
                c = (f"{fmt(res['omp1']['us_per_step'])} / {fmt(res['omp2']['us_per_step'])} µs, "
                     f"{fmt(grain)} µs")
                c_speedup = ratio(res["omp1"]["us_per_step"] / res["omp2"]["us_per_step"])
            print(f"      {title:<28}{fmt(t1):>10}{fmt(res['2']['us_per_step']):>10}"
                  f"{fmt(res['auto']['us_per_step']):>9}{ratio(t1 / res['2']['us_per_step']):>10}"
                  f"{ratio(t1 / res['auto']['us_per_step']):>13}{res['auto']['threads']:>11}  {c:<34}"
                  f"{c_speedup:>8}  {'ok' if ok else 'MISMATCH'}")
        print("      (µs per step, best of the runs; 'auto' includes cosim's own trial of serial vs")
        print("      parallel at the start of the run; grain = C work per item and step, about cosim's")
        print("      serial µs per FMU-step for that system)")
        return out

    def omp_binary(self) -> Path | None:
        source = PEERS / "omp_context.c"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        binary = Path(tempfile.gettempdir()) / "cosim-bench" / f"omp-{digest}"
        binary.parent.mkdir(parents=True, exist_ok=True)
        if not binary.exists():
            out = subprocess.run(["gcc", "-O2", "-fopenmp", "-o", str(binary), str(source)],
                                 check=False, capture_output=True, text=True)
            if out.returncode:
                print(f"      C OpenMP context: n/a (could not compile: {out.stderr.strip()[:100]})")
                return None
        return binary


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip()
                           for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    for package in ("cosim", "fmpy", "libcosimpy", "numpy"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    try:
        from libcosimpy._internal import libcosimc

        class Version(ctypes.Structure):
            _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int)]

        fn = libcosimc().cosim_libcosim_version
        fn.restype, fn.argtypes = Version, []
        v = fn()
        info["libcosim"] = f"{v.major}.{v.minor}.{v.patch}"
    except Exception:  # noqa: BLE001 (libcosim missing: reported as unavailable elsewhere)
        info["libcosim"] = None
    gcc = shutil.which("gcc")
    if gcc:
        info["gcc"] = subprocess.run([gcc, "-dumpfullversion"], check=False, capture_output=True,
                                     text=True).stdout.strip()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 repetitions, shorter runs, fewer extras (1-2 min instead of ~5)")
    parser.add_argument("--reps", type=int, help="repetitions per measurement (default 5, --quick 2)")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    args = parser.parse_args()
    bench = Bench(args)
    started = time.perf_counter()
    info = machine()
    print(f"cosim benchmark{' (quick)' if args.quick else ''}: {info.get('cpus')} vCPUs "
          f"({info.get('cpu', '?')}), Python {info['python']}, cosim {info['cosim']}, "
          f"fmpy {info['fmpy']}, libcosim {info['libcosim']} (libcosimpy {info['libcosimpy']}), "
          f"gcc {info.get('gcc')}")
    print(f"Best of {bench.reps} runs each ({bench.heavy_reps} for runs over {bench.heavy_s:.0f} s), fresh "
          f"process per run; µs/step = step loop only; setup = load + instantiate + initialize.")
    print("ratio: cosim/floor = how many times the bare C loop's time cosim takes; "
          "peer/cosim = peer's time over cosim's (same algorithm family).")
    try:
        tables = bench.compare()
        derived = bench.summary(tables)
        extras = bench.extras(tables)
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    print()
    for line in bench.notes:
        print(line)
    if bench.mismatches:
        print(f"{len(bench.mismatches)} MISMATCH(ES):")
        for line in bench.mismatches:
            print(f"  {line}")
    else:
        print("Values: every runner agrees to 1e-9 (relative) with cosim of the same algorithm family"
              + (", except where marked algo* above (a different algorithm, not an error)."
                 if bench.notes else "."))
    elapsed = time.perf_counter() - started
    print(f"Total benchmark time {elapsed:.0f} s.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "quick": args.quick, "reps": bench.reps, "rtol": RTOL,
                       "systems": tables, "derived": derived, "extras": extras,
                       "mismatches": bench.mismatches, "notes": bench.notes, "elapsed_s": elapsed},
                      f, indent=1)
        print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
