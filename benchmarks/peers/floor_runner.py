"""The floor: a bare C loop over the FMUs' FMI 2.0 functions (floor.c) on a benchmark plan.

Compiles floor.c once (gcc -O2, cached by source hash), extracts each
distinct FMU with fmpy, writes floor.c's text plan and runs it.  setup_s is
extraction plus the C program's load, instantiate and initialize time;
run_s is the C step loop alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import arguments, report
from fmpy import extract, read_model_description

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "floor.c"
TYPES = {"float64": 0, "int32": 1, "bool": 2}
FMD_TYPES = {"Real": 0, "Integer": 1, "Boolean": 2, "Enumeration": 1}


def executable() -> Path:
    """floor.c compiled with gcc -O2, cached in the temp folder under its source hash."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("COSIM_BENCH_CACHE", Path(tempfile.gettempdir()) / "cosim-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / f"floor-{digest}"
    if not binary.exists():
        partial = cache / f"floor-{digest}.{os.getpid()}.tmp"
        subprocess.run(["gcc", "-O2", "-std=c11", "-Wall", "-o", str(partial), str(SOURCE), "-ldl"],
                       check=True)
        os.replace(partial, binary)
    return binary


def literal(type_: int, value) -> str:
    if type_ == 0:
        return repr(float(value))
    return str(int(value))


def text_plan(plan: dict, fmus: list[tuple[str, str, str]], fmu_index: list[int], var_types: list[dict],
              algorithm: str, steps: int) -> str:
    components = plan["components"]
    slots: dict[tuple[int, int, int], int] = {}
    counts = [0, 0, 0]
    inputs = [[[], [], []] for _ in components]
    outputs = [[[], [], []] for _ in components]
    for k in plan["connections"]:
        t = TYPES[k["type"]]
        key = (k["source"], k["source_vr"], t)
        if key not in slots:
            slots[key] = counts[t]
            counts[t] += 1
            outputs[k["source"]][t].append((k["source_vr"], slots[key]))
        inputs[k["target"]][t].append((k["target_vr"], slots[key]))
    lines = [f"fmus {len(fmus)}"]
    for binary, guid, uri in fmus:
        lines += [binary, guid, uri]
    lines.append(f"slots {counts[0]} {counts[1]} {counts[2]}")
    lines.append(f"components {len(components)}")
    for i, c in enumerate(components):
        lines.append(f"component {fmu_index[i]} {c['name']}")
        starts = [(TYPES[s["type"]], s["vr"], s["value"]) for s in c["start_values"]]
        lines.append(f"starts {len(starts)}")
        lines += [f"{t} {vr} {literal(t, v)}" for t, vr, v in starts]
        for word, ports in (("in", inputs[i]), ("out", outputs[i])):
            for t in range(3):
                pairs = " ".join(f"{vr} {slot}" for vr, slot in ports[t])
                lines.append(f"{word} {t} {len(ports[t])} {pairs}".rstrip())
    lines.append(f"order {len(plan['order'])} " + " ".join(map(str, plan["order"])))
    lines.append(f"report {len(plan['report'])}")
    for r in plan["report"]:
        variable = r["name"].split(".", 1)[1]
        lines.append(f"{r['component']} {var_types[r['component']][variable]} {r['vr']}")
    lines.append(f"run {1 if algorithm == 'gauss-seidel' else 0} {steps} {plan['step_size']!r}")
    return "\n".join(lines) + "\n"


def main():
    args = arguments(__doc__)
    plan = args.plan
    if any(c["fmi_version"] != "2.0" for c in plan["components"]):
        report(f"floor-{args.algorithm}", plan, setup_s=0.0, run_s=0.0, steps=args.steps, final=[],
               error="the floor supports FMI 2.0 only")
        return
    binary = executable()
    work = Path(tempfile.mkdtemp(prefix="cosim-floor-"))
    try:
        started = time.perf_counter()
        fmus, fmu_index, by_path, var_types, models = [], [], {}, [], {}
        for c in plan["components"]:
            if c["fmu"] not in by_path:
                unzipped = Path(extract(c["fmu"], unzipdir=str(work / f"fmu{len(fmus)}")))
                md = read_model_description(str(unzipped))
                so = unzipped / "binaries" / "linux64" / f"{c['model_identifier']}.so"
                fmus.append((str(so), md.guid, (unzipped / "resources").as_uri() + "/"))
                by_path[c["fmu"]] = len(fmus) - 1
                models[c["fmu"]] = {v.name: FMD_TYPES[v.type] for v in md.modelVariables
                                    if v.type in FMD_TYPES}
            fmu_index.append(by_path[c["fmu"]])
            var_types.append(models[c["fmu"]])
        plan_file = work / "plan.txt"
        plan_file.write_text(text_plan(plan, fmus, fmu_index, var_types, args.algorithm, args.steps))
        extracted = time.perf_counter() - started
        out = subprocess.run([str(binary), str(plan_file)], check=False, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"floor failed ({out.returncode}): {out.stderr.strip()}")
        fields = [line.split() for line in out.stdout.splitlines() if line.strip()]
        values = {key: float(value) for key, value in fields if key != "final"}
        final = [float(value) for key, value in fields if key == "final"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(f"floor-{args.algorithm}", plan, setup_s=extracted + values["setup_s"],
           run_s=values["run_s"], steps=args.steps, final=final)


if __name__ == "__main__":
    main()
