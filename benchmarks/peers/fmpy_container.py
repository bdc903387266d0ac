"""fmpy's container FMU (fmpy.container_fmu) built from a benchmark plan, stepped with FMU3Slave.

The container is an FMI 3.0 co-simulation FMU whose native binary (shipped
with fmpy) loads the plan's FMUs, sets the start values mapped to its own
parameters, propagates the connections once during initialization (in
connection order), and at each of its fixed internal steps steps every
component and then copies every connection (Jacobi).  One doStep over the
whole run lets the container's own loop take all the steps, so run_s is
that loop without a Python call per step.

Building the container is a one-time, offline step: the built FMU is cached
(temp folder, keyed by the plan and fmpy's version) and its build time is
reported as build_s, apart from setup_s (extract, instantiate, initialize).

Two workarounds for fmpy 0.3.x (found here, see the benchmark README):
- container_fmu writes a connection's type as the component's FMI 2.0 type
  name ("Real"), which the container binary rejects; the connectors are
  passed with the FMI 3.0 type name ("Float64") instead;
- an FMI 2.0 container reads the variable before the requested one (its
  value references are shifted by the FMI 3.0 time variable), so the
  container is built as FMI 3.0, with ``time`` as value reference 0.

Anything the container cannot do is reported as {"error": ...} (exit 0).
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
import traceback
import uuid
from pathlib import Path

import attrs
import fmpy
from common import arguments, report
from fmpy import extract, read_model_description
from fmpy.container_fmu.cli import create_container_fmu
from fmpy.container_fmu.config import Component, Configuration, Connection
from fmpy.fmi3 import FMU3Slave
from fmpy.model_description import (
    CoSimulation,
    ModelDescription,
    ModelVariable,
    Unknown,
)

FMI3_TYPES = {"Real": "Float64", "Float64": "Float64", "Integer": "Int32", "Int32": "Int32",
              "Enumeration": "Int32", "Boolean": "Boolean"}


def literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def build(plan: dict, work: Path) -> tuple[Path, list[tuple[int, str]]]:
    """The container FMU of ``plan``; returns its path and (value reference, type) per report."""
    h = plan["step_size"]
    models, components = {}, []
    for c in plan["components"]:
        if c["fmu"] not in models:
            models[c["fmu"]] = read_model_description(c["fmu"])
        components.append(Component(name=c["name"], filename=Path(c["fmu"]),
                                    modelDescription=models[c["fmu"]]))

    def variable(k: int, name: str) -> ModelVariable:
        return next(v for v in components[k].modelDescription.modelVariables if v.name == name)

    # Value reference 0 is time; the container's variables follow from 1 on.
    container_vars = [ModelVariable(name="time", type="Float64", causality="independent",
                                    variability="continuous")]
    mappings = {}
    connected = {(k["target"], k["to"].split(".", 1)[1]) for k in plan["connections"]}
    for k, c in enumerate(plan["components"]):
        for sv in c["start_values"]:
            if (k, sv["name"]) in connected:
                continue            # set by the connection during initialization
            v = variable(k, sv["name"])
            cv = ModelVariable(name=f"{c['name']}.{sv['name']}", type=FMI3_TYPES[v.type],
                               causality="parameter", variability="tunable", initial="exact",
                               start=literal(sv["value"]))
            container_vars.append(cv)
            mappings[cv] = [(components[k], v)]
    reports, outputs = [], []
    for r in plan["report"]:
        v = variable(r["component"], r["name"].split(".", 1)[1])
        type_ = FMI3_TYPES[v.type]
        cv = ModelVariable(name=r["name"], type=type_, causality="output",
                           variability="continuous" if type_ == "Float64" else "discrete")
        container_vars.append(cv)
        mappings[cv] = [(components[r["component"]], v)]
        outputs.append(cv)
        reports.append((len(container_vars) - 1, type_))
    connections = []
    for k in plan["connections"]:
        source = variable(k["source"], k["from"].split(".", 1)[1])
        target = variable(k["target"], k["to"].split(".", 1)[1])
        connections.append(Connection(
            startElement=components[k["source"]],
            startConnectors=[attrs.evolve(source, type=FMI3_TYPES[source.type])],
            endElement=components[k["target"]], endConnectors=[target]))
    description = ModelDescription(
        fmiVersion="3.0", modelName=plan["name"], instantiationToken=f"{{{uuid.uuid4()}}}",
        coSimulation=CoSimulation(modelIdentifier="container_fmu", fixedInternalStepSize=h))
    description.modelVariables = container_vars
    description.outputs = [Unknown(variable=v) for v in outputs]
    config = Configuration(parallelDoStep=False, modelDescription=description, components=components,
                           connections=connections, variableMappings=mappings)
    unzipdir = work / "build"
    unzipdir.mkdir()
    fmu = work / "container.fmu"
    create_container_fmu(config, unzipdir, fmu)
    return fmu, reports


def cached_build(plan: dict, work: Path) -> tuple[Path, list[tuple[int, str]], float | None]:
    """The container of ``plan`` from the cache, or built now; build seconds (None if cached)."""
    key = hashlib.sha256((json.dumps(plan, sort_keys=True) + fmpy.__version__).encode()).hexdigest()[:20]
    cache = Path(os.environ.get("COSIM_BENCH_CACHE", Path(tempfile.gettempdir()) / "cosim-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    fmu, meta = cache / f"container-{key}.fmu", cache / f"container-{key}.json"
    if fmu.exists() and meta.exists():
        return fmu, [tuple(r) for r in json.loads(meta.read_text())], None
    started = time.perf_counter()
    built, reports = build(plan, work)
    elapsed = time.perf_counter() - started
    partial = cache / f"container-{key}.{os.getpid()}.tmp"
    shutil.copyfile(built, partial)
    os.replace(partial, fmu)
    meta.write_text(json.dumps(reports))
    return fmu, reports, elapsed


def main():
    args = arguments(__doc__)
    plan = args.plan
    work = Path(tempfile.mkdtemp(prefix="cosim-container-"))
    messages = []
    try:
        if args.algorithm != "jacobi":
            raise NotImplementedError("the container steps all components, then copies "
                                      "connections: Jacobi only")
        fmu, reports, build_s = cached_build(plan, work)
        started = time.perf_counter()
        unzipped = extract(str(fmu), unzipdir=str(work / "run"))
        md = read_model_description(unzipped)
        slave = FMU3Slave(guid=md.guid, unzipDirectory=unzipped, modelIdentifier="container_fmu",
                          instanceName="container")
        slave.instantiate(loggingOn=False,
                          logMessage=lambda _env, status, _cat, message: messages.append(message))
        slave.enterInitializationMode(startTime=0.0)
        slave.exitInitializationMode()
        ready = time.perf_counter()
        stop = args.steps * plan["step_size"]
        *_, last = slave.doStep(0.0, stop)
        done = time.perf_counter()
        if abs(last - stop) > 1e-9 * max(1.0, stop):
            raise RuntimeError(f"container stopped at t={last}, not {stop}")
        getters = {"Float64": slave.getFloat64, "Int32": slave.getInt32, "Boolean": slave.getBoolean}
        final = [float(getters[type_]([vr])[0]) for vr, type_ in reports]
        slave.terminate()
        slave.freeInstance()
    except Exception as exc:  # noqa: BLE001  (whatever the container cannot do is reported as n/a)
        detail = "; ".join(m.decode(errors="replace") if isinstance(m, bytes) else str(m)
                           for m in messages[-3:])
        reason = f"{type(exc).__name__}: {exc}" + (f" ({detail})" if detail else "")
        if not isinstance(exc, NotImplementedError):
            traceback.print_exc()
        report("fmpy-container", plan, setup_s=0.0, run_s=0.0, steps=args.steps, final=[],
               error=reason)
        return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("fmpy-container", plan, setup_s=ready - started, run_s=done - ready, steps=args.steps,
           final=final, algorithm="container-jacobi", build_s=build_s)


if __name__ == "__main__":
    main()
