"""How many plant samples per second the live binding takes into a running twin.

    python benchmarks/live.py [--seconds 3]

A furnace twin steps as fast as it can (h = 1 s) with four inputs bound to
plant signals and three outputs compared with measurements, while a producer
thread pushes samples of those seven signals, stamped at the twin's current
time, into its store: one sample per call (as an MQTT message per reading
arrives) or in batches of 100 (as a gateway forwards them).  The producer
waits while 20,000 items are queued, so the figure is what the twin sustains:
samples drained, sorted into their series and read by the bindings, per wall
second.

The peer is what a Python loop over fmpy does with the same stream: one
setReal per sample into the FMU, then the step.  Figures and the ratio come
from the same run.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave

import cosim
from cosim import twins
from cosim.live import Binding, Comparison, LiveTwin

BOUND = {"heat_power": ("furnace.heat_zone_command", 1 / 250e3),
         "soak_power": ("furnace.soak_zone_command", 1 / 100e3),
         "cool_power": ("furnace.cool_zone_command", 1 / 100e3),
         "flow": ("furnace.part_mass_flow", 1.0)}
COMPARED = {"heat_T": "furnace.heat_zone_temperature",
            "soak_T": "furnace.soak_zone_temperature",
            "cool_T": "furnace.cool_zone_temperature"}
SIGNALS = list(BOUND) + list(COMPARED)


def furnace_twin():
    system = cosim.System("furnace_twin")
    system.add("furnace", twins.path("furnace"), parameters={"closed_loop": False})
    sim = system.start(step_size=1.0, record=[])
    twin = LiveTwin(sim,
                    bindings=[Binding(s, target, scale=k) for s, (target, k) in BOUND.items()],
                    comparisons=[Comparison(s, out) for s, out in COMPARED.items()],
                    max_lead=None, history=5.0)
    return sim, twin


def run_cosim(seconds: float, batch: int) -> dict:
    sim, twin = furnace_twin()
    store = twin.store
    stop = threading.Event()
    pushed = [0]

    def produce():
        # Samples are stamped just after the twin's current time, as readings
        # of a plant it follows in step; a full queue makes the producer wait,
        # as a socket's buffer would, so the figure is a sustained rate.
        last = -1.0
        values = np.linspace(0.2, 0.8, batch)
        while not stop.is_set():
            if store.pending > 20_000:
                time.sleep(0.0002)
                continue
            start = max(sim.time, last + 1e-9)
            if batch == 1:
                for name in SIGNALS:
                    store.push(name, start, 0.5)
                last = start
                pushed[0] += len(SIGNALS)
            else:
                times = start + np.arange(batch) * 1e-9
                for name in SIGNALS:
                    store.push_many(name, times, values)
                last = float(times[-1])
                pushed[0] += batch * len(SIGNALS)

    producer = threading.Thread(target=produce, daemon=True)
    began = time.perf_counter()
    producer.start()
    steps = 0
    while time.perf_counter() - began < seconds:
        twin.step()
        steps += 1
    stop.set()
    producer.join()
    wall = time.perf_counter() - began
    backlog = store.pending
    kept = sum(s.received for s in store.stats().values())
    twin.close()
    sim.stop()
    return {"kept": kept, "pushed": pushed[0], "backlog": backlog, "wall": wall, "steps": steps}


def run_fmpy(seconds: float) -> dict:
    """One setReal per sample, then a doStep per communication point."""
    path = str(twins.path("furnace"))
    md = read_model_description(path)
    vr = {v.name: v.valueReference for v in md.modelVariables}
    slave = FMU2Slave(guid=md.guid, unzipDirectory=extract(path),
                      modelIdentifier=md.coSimulation.modelIdentifier, instanceName="furnace")
    slave.instantiate()
    slave.setBoolean([vr["closed_loop"]], [False])
    slave.setupExperiment(startTime=0.0)
    slave.enterInitializationMode()
    slave.exitInitializationMode()
    inputs = [vr[target.split(".")[1]] for target, _ in BOUND.values()]
    outputs = [vr[out.split(".")[1]] for out in COMPARED.values()]
    t, samples, began = 0.0, 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for _ in range(100):                     # 100 readings of each signal per step
            for ref in inputs:
                slave.setReal([ref], [0.5])
            slave.getReal(outputs)               # the measured ones are compared
            samples += len(SIGNALS)
        slave.doStep(t, 1.0)
        t += 1.0
    wall = time.perf_counter() - began
    slave.terminate()
    slave.freeInstance()
    return {"kept": samples, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"Live binding into a running furnace twin ({len(BOUND)} bound inputs, "
          f"{len(COMPARED)} compared outputs), {args.seconds:g} s per case")
    rows = []
    for label, batch in (("cosim, one push per sample", 1), ("cosim, batches of 100", 100)):
        r = run_cosim(args.seconds, batch)
        rate = r["kept"] / r["wall"]
        rows.append((label, rate))
        print(f"  {label:<34} {rate:>12,.0f} samples/s   (twin {r['steps'] / r['wall']:,.0f} "
              f"steps/s, {r['backlog']} queued items left)")
    r = run_fmpy(args.seconds)
    peer = r["kept"] / r["wall"]
    print(f"  {'fmpy loop, setReal per sample':<34} {peer:>12,.0f} samples/s")
    for label, rate in rows:
        print(f"  ratio {label} / fmpy: {rate / peer:.1f}x")


if __name__ == "__main__":
    main()
