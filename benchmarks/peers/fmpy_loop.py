"""A plain-Python master loop over fmpy's FMU2Slave on a benchmark plan.

The same semantics as the floor (floor.c): start values, initialization
passes in plan order, then Gauss-Seidel (set inputs, step, get outputs per
component in plan order) or Jacobi (set and step all, then get all), with
one fmpy set/get call per component and type.  One extraction per distinct
FMU; run_s times the step loop only.

``--exchange sequential`` (Jacobi) reproduces fmpy's container FMU instead:
step all, then copy each connection in plan order (get its source, set its
target), so a direct-feedthrough FMU passes a value set earlier in the same
copy pass on within one communication step.
"""

import shutil
import tempfile
import time

from common import arguments, report
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave

TYPES = ("float64", "int32", "bool")


def main():
    args = arguments(__doc__)
    plan = args.plan
    if any(c["fmi_version"] != "2.0" for c in plan["components"]):
        report(f"fmpy-loop-{args.algorithm}", plan, setup_s=0.0, run_s=0.0, steps=args.steps, final=[],
               error="this loop drives FMI 2.0 FMUs only")
        return
    work = tempfile.mkdtemp(prefix="cosim-fmpy-loop-")
    try:
        run(args, plan, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, plan, work):
    started = time.perf_counter()
    extracted, slaves, var_types = {}, [], []
    for c in plan["components"]:
        if c["fmu"] not in extracted:
            unzipped = extract(c["fmu"], unzipdir=f"{work}/fmu{len(extracted)}")
            md = read_model_description(unzipped)
            extracted[c["fmu"]] = (unzipped, md, {v.name: v.type for v in md.modelVariables})
        unzipped, md, types = extracted[c["fmu"]]
        slave = FMU2Slave(guid=md.guid, unzipDirectory=unzipped,
                          modelIdentifier=md.coSimulation.modelIdentifier, instanceName=c["name"])
        slave.instantiate()
        slave.setupExperiment(startTime=0.0)
        for type_ in TYPES:
            starts = [sv for sv in c["start_values"] if sv["type"] == type_]
            if starts:
                setter(slave, type_)([sv["vr"] for sv in starts], [sv["value"] for sv in starts])
        slaves.append(slave)
        var_types.append(types)

    # Value slots: one per distinct connected output; ports: (setter/getter, vrs, slots) per type.
    buffers = {t: [] for t in TYPES}
    slot_of = {}
    inputs = [[] for _ in slaves]
    outputs = [[] for _ in slaves]
    for k in plan["connections"]:
        key = (k["source"], k["source_vr"], k["type"])
        if key not in slot_of:
            slot_of[key] = len(buffers[k["type"]])
            buffers[k["type"]].append(0)
    for type_ in TYPES:
        buffer = buffers[type_]
        for i, slave in enumerate(slaves):
            ins = [(k["target_vr"], slot_of[(k["source"], k["source_vr"], type_)])
                   for k in plan["connections"] if k["target"] == i and k["type"] == type_]
            outs = sorted({(vr, slot) for (src, vr, t), slot in slot_of.items() if src == i and t == type_},
                          key=lambda p: p[1])
            if ins:
                inputs[i].append((setter(slave, type_), [vr for vr, _ in ins], [s for _, s in ins], buffer))
            if outs:
                outputs[i].append((getter(slave, type_), [vr for vr, _ in outs], [s for _, s in outs], buffer))

    def push(i):
        for set_, vrs, slots, buffer in inputs[i]:
            set_(vrs, [buffer[s] for s in slots])

    def pull(i):
        for get_, vrs, slots, buffer in outputs[i]:
            for s, value in zip(slots, get_(vrs)):
                buffer[s] = value

    order = plan["order"]
    for slave in slaves:
        slave.enterInitializationMode()
    for i in order:
        pull(i)
    for _ in range(2):
        for i in order:
            push(i)
            pull(i)
    for slave in slaves:
        slave.exitInitializationMode()
    for i in order:
        pull(i)
    ready = time.perf_counter()

    # Sequential exchange (Jacobi only): the inputs stay as initialization left them for the
    # first step; after each step every connection is copied in plan order.
    copies = [(getter(slaves[k["source"]], k["type"]), [k["source_vr"]],
               setter(slaves[k["target"]], k["type"]), [k["target_vr"]])
              for k in plan["connections"]]

    step = plan["step_size"]
    everything = range(len(slaves))
    gauss_seidel = args.algorithm == "gauss-seidel"
    steppers = [slave.doStep for slave in slaves]
    for n in range(args.steps):
        t = n * step
        h = (n + 1) * step - t
        if gauss_seidel:
            for i in order:
                push(i)
                steppers[i](t, h)
                pull(i)
        elif args.exchange == "sequential":
            for i in everything:
                steppers[i](t, h)
            for get_, source, set_, target in copies:
                set_(target, get_(source))
        else:
            for i in everything:
                push(i)
                steppers[i](t, h)
            for i in everything:
                pull(i)
    done = time.perf_counter()

    final = []
    for r in plan["report"]:
        i, name = r["component"], r["name"].split(".", 1)[1]
        kind = {"Real": "float64", "Integer": "int32", "Enumeration": "int32",
                "Boolean": "bool"}[var_types[i][name]]
        final.append(float(getter(slaves[i], kind)([r["vr"]])[0]))
    for slave in slaves:
        slave.terminate()
        slave.freeInstance()
    name = f"fmpy-loop-{args.algorithm}" + ("-sequential" if args.exchange == "sequential" else "")
    report(name, plan, setup_s=ready - started, run_s=done - ready, steps=args.steps, final=final)


def setter(slave, type_):
    return {"float64": slave.setReal, "int32": slave.setInteger, "bool": slave.setBoolean}[type_]


def getter(slave, type_):
    return {"float64": slave.getReal, "int32": slave.getInteger, "bool": slave.getBoolean}[type_]


if __name__ == "__main__":
    main()
