"""libcosim (Open Simulation Platform) through libcosimpy on a benchmark plan.

libcosim's execution uses its fixed-step algorithm: every slave steps on the
inputs transferred at the end of the previous step (Jacobi-like), on a
worker thread pool.  libcosim initializes the system lazily, on the first
step, so set-up ends with one step (initialization included) and run_s
times simulate_until over the remaining steps (reported as timed_steps).
Final values come from a last-value observer, libcosim's way to read
values; it is attached before the run because it only sees values fetched
after it was added.
"""

import os
import time

from common import arguments, report
from libcosimpy._internal import get_last_error_message
from libcosimpy.CosimExecution import CosimExecution
from libcosimpy.CosimLogging import CosimLogLevel, log_output_level
from libcosimpy.CosimObserver import CosimObserver
from libcosimpy.CosimSlave import CosimLocalSlave


def fail(what: str):
    raise RuntimeError(f"libcosim: {what}: {get_last_error_message()}")


def main():
    args = arguments(__doc__)
    plan = args.plan
    log_output_level(CosimLogLevel.ERROR)
    step_ns = round(plan["step_size"] * 1e9)
    started = time.perf_counter()
    execution = CosimExecution.from_step_size(step_ns)
    slaves, index = [], []
    for c in plan["components"]:
        slave = CosimLocalSlave(fmu_path=c["fmu"], instance_name=c["name"])
        slaves.append(slave)            # keep the slaves alive as long as the execution
        i = execution.add_local_slave(slave)
        if i < 0:
            fail(f"adding {c['name']}")
        index.append(i)
    initial = {"float64": (execution.real_initial_value, float),
               "int32": (execution.integer_initial_value, int),
               "bool": (execution.boolean_initial_value, bool)}
    for k, c in enumerate(plan["components"]):
        for sv in c["start_values"]:
            setter, cast = initial[sv["type"]]
            if not setter(index[k], sv["vr"], cast(sv["value"])):
                fail(f"initial value {c['name']}.{sv['name']}")
    connect = {"float64": execution.connect_real_variables,
               "int32": execution.connect_integer_variables,
               "bool": execution.connect_boolean_variables}
    for k in plan["connections"]:
        if connect[k["type"]](index[k["source"]], k["source_vr"], index[k["target"]], k["target_vr"]):
            fail(f"connecting {k['from']} -> {k['to']}")
    observer = CosimObserver.create_last_value()
    execution.add_observer(observer)
    if not execution.step(1):
        fail("initialization and first step")
    ready = time.perf_counter()
    if args.steps > 1 and not execution.simulate_until(args.steps * step_ns):
        fail("simulate_until")
    done = time.perf_counter()
    if execution.status().current_time != args.steps * step_ns:
        raise RuntimeError(f"libcosim stopped at {execution.status().current_time} ns, "
                           f"not {args.steps * step_ns} ns")
    final = []
    for r in plan["report"]:
        i, vr = index[r["component"]], r["vr"]
        kinds = {v.type for v in execution.slave_variables(i)
                 if v.reference == vr and v.name.decode() == r["name"].split(".", 1)[1]}
        kind = kinds.pop() if kinds else 0
        if kind == 1:
            final.append(float(observer.last_integer_values(i, [vr])[0]))
        elif kind == 3:
            final.append(float(observer.last_boolean_values(i, [vr])[0]))
        else:
            final.append(float(observer.last_real_values(i, [vr])[0]))
    report("libcosim", plan, setup_s=ready - started, run_s=done - ready, steps=args.steps,
           final=final, timed_steps=args.steps - 1, algorithm="libcosim-fixed-step",
           cpus=len(os.sched_getaffinity(0)))


if __name__ == "__main__":
    main()
