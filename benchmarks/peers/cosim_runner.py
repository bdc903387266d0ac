"""cosim's master on a benchmark plan."""

import time

from common import arguments, report

from cosim import System


def build(plan) -> System:
    system = System(plan["name"])
    for c in plan["components"]:
        system.add(c["name"], c["fmu"],
                   parameters={sv["name"]: sv["value"] for sv in c["start_values"]})
    for k in plan["connections"]:
        system.connect(k["from"], k["to"])
    return system


def main():
    args = arguments(__doc__)
    plan = args.plan
    system = build(plan)
    h = plan["step_size"]
    record = [r["name"] for r in plan["report"]]
    interval = args.steps * h if args.record == "final" else h
    started = time.perf_counter()
    sim = system.start(step_size=h, stop_time=args.steps * h, algorithm=args.algorithm,
                       record=None if args.record == "all" else record, output_interval=interval,
                       threads=args.threads)
    ready = time.perf_counter()
    sim.run()
    done = time.perf_counter()
    threads = sim.threads               # read before stop(), which releases the loop
    result = sim.stop()
    report(f"cosim-{args.algorithm}", plan, setup_s=ready - started, run_s=done - ready,
           steps=args.steps, final=[float(result[n][-1]) for n in record], threads=threads,
           recorded_columns=len(result.names), recorded_rows=len(result))


if __name__ == "__main__":
    main()
