"""How many plant samples per second the live binding takes into a running twin.

    python benchmarks/live.py [--seconds 3]

A furnace twin steps as fast as it can (h = 1 s) with four inputs bound to
plant signals and three outputs compared with measurements, while a producer
thread pushes samples of those seven signals, stamped at the twin's current
time, into its store: one sample per call (as an MQTT message per reading
arrives) or in batches of 100 (as a gateway forwards them).  The producer
waits while 20,000 samples are queued, so the figure is what the twin sustains:
samples drained, sorted into their series and read by the bindings, per wall
second.

The same twin is then fed end to end: over MQTT from a publisher process
through a private mosquitto broker (batches of 500 samples per message), and
over gRPC through the Orchestrator's input stream into a hosted live system
(one message per time with the four bound inputs, or batches of 1,000
samples per input).

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
            if store.pending * batch > 20_000:
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


PUBLISHER = """
import sys, time
import numpy as np
from cosim.live.mqtt import MqttPublisher
port, seconds, names = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
pub = MqttPublisher(host="127.0.0.1", port=port, qos=0, prefix="plant/", max_batch=500)
values = np.linspace(0.2, 0.8, 500).tolist()
t0, k, end = 0.0, 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    times = (t0 + np.arange(500) * 1e-4).tolist()
    for name in names:
        pub.publish_batch(name, times, values)
    t0 += 0.05
    k += 1
    time.sleep(0.004)      # about 250 batches of 500 per signal and second at most
pub.flush(10.0)
pub.close()
print(k * 500 * len(names))
"""


def run_mqtt(seconds: float) -> dict | None:
    """Plant samples from a publisher process through mosquitto into the twin."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from cosim.live.mqtt import MqttSource
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                          if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = Path(tempfile.mkdtemp())
    user = "user root\n" if os.geteuid() == 0 else ""
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{user}")
    broker = subprocess.Popen([binary, "-c", str(folder / "m.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        sim, twin = furnace_twin()
        source = MqttSource(host="127.0.0.1", port=port, topics=["plant/#"], prefix="plant/",
                            qos=0)
        twin.sources.append(source)
        twin.open()
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port), str(seconds),
                                      ",".join(SIGNALS)], stdout=subprocess.PIPE, text=True)
        began = time.perf_counter()
        while publisher.poll() is None:
            twin.step()
        sent = int(publisher.stdout.read().strip() or 0)
        deadline = time.perf_counter() + 5
        while source.samples < sent and time.perf_counter() < deadline:
            twin.step()
        wall = time.perf_counter() - began
        twin.step()
        kept = sum(s.received for s in twin.store.stats().values())
        twin.close()
        sim.stop()
        return {"kept": kept, "sent": sent, "wall": wall}
    finally:
        broker.terminate()
        broker.wait(5)


def run_grpc(seconds: float, batch: int) -> dict:
    """Timestamped samples on the Orchestrator's input stream into a hosted live
    system, then one step that sorts them into its store: one message per time
    (batch 1), or ``batch`` samples of each input per message."""
    import tempfile
    from pathlib import Path

    from cosim.rpc import Client, orchestrator_server
    folder = Path(tempfile.mkdtemp())
    system = cosim.System("furnace_twin")
    system.add("furnace", twins.path("furnace"), parameters={"closed_loop": False})
    system.save(folder / "furnace.ssp")
    server = orchestrator_server(root=folder).start()
    client = Client(server.url, timeout=60)
    try:
        hosted = client.create_system(path="furnace.ssp")
        hosted.initialize(step_size=1.0, live_inputs=[t for t, _ in BOUND.values()])
        names = [t for t, _ in BOUND.values()]
        end = time.perf_counter() + seconds

        def samples():
            k = 0
            while time.perf_counter() < end:
                yield (k * 1e-3, {name: 0.5 for name in names})
                k += 1

        def batches():
            values, k = [0.5] * batch, 0
            while time.perf_counter() < end:
                times = ((k + np.arange(batch)) * 1e-3).tolist()
                yield {name: (times, values) for name in names}
                k += batch

        began = time.perf_counter()
        if batch == 1:
            _, values = hosted.stream_inputs(samples())
        else:
            _, values = hosted.stream_batches(batches())
        hosted.step(1)                  # the step drains what arrived: part of the cost
        wall = time.perf_counter() - began
        kept = hosted.live_report().samples
        return {"kept": kept, "sent": values, "wall": wall}
    finally:
        client.close()
        server.stop()


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
    r = run_mqtt(args.seconds)
    if r is None:
        print("  MQTT: mosquitto is not installed; skipped")
    else:
        print(f"  {'MQTT via mosquitto, batches of 500':<34} {r['kept'] / r['wall']:>12,.0f} "
              f"samples/s   ({r['kept']:,} of {r['sent']:,} published)")
    for label, batch in (("gRPC input stream, 4 per message", 1),
                         ("gRPC input stream, batches of 1000", 1000)):
        r = run_grpc(args.seconds, batch)
        print(f"  {label:<34} {r['kept'] / r['wall']:>12,.0f} "
              f"samples/s   ({r['kept']:,} of {r['sent']:,} sent)")
    r = run_fmpy(args.seconds)
    peer = r["kept"] / r["wall"]
    print(f"  {'fmpy loop, setReal per sample':<34} {peer:>12,.0f} samples/s")
    for label, rate in rows:
        print(f"  ratio {label} / fmpy: {rate / peer:.1f}x")


if __name__ == "__main__":
    main()
