"""The controller under test on the HIL bench: a separate process that talks
to the running spindle twin over gRPC at a fixed rate.

Every period it reads the spindle's speed and vibration (GetValues), runs an
adaptive feed control (the load torque, i.e. the cut, is raised while the
vibration stays below its limit and cut back when it exceeds it, while the
speed setpoint follows a machining programme), and sends its commands as
timestamped samples on the input stream.  It measures the round-trip latency
of every read and the period it actually kept, and prints both.

    python controller.py URL SYSTEM_ID --rate 100 --seconds 8
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time

import numpy as np

from cosim.rpc import Client

VIBRATION_LIMIT = 2.2      # mm/s
PROGRAMME = [(0.0, 6000.0), (2.5, 9000.0), (5.0, 7500.0)]   # (wall s, rpm setpoint)


def setpoint_at(elapsed: float) -> float:
    return [rpm for start, rpm in PROGRAMME if elapsed >= start][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("system_id")
    parser.add_argument("--rate", type=float, default=100.0, help="control rate (Hz)")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    client = Client(args.url, timeout=5)
    system = client.system(args.system_id)
    commands: queue.Queue = queue.Queue()

    def stream():
        while (item := commands.get()) is not None:
            yield item

    sender = threading.Thread(target=lambda: system.stream_inputs(stream()), daemon=True)
    sender.start()

    period = 1.0 / args.rate
    n = int(args.seconds * args.rate)
    latency = np.empty(n)
    wakeups = np.empty(n)
    load = 5.0
    missed = 0
    began = time.perf_counter()
    tick = 0
    for k in range(n):
        due = began + tick * period
        while (now := time.perf_counter()) < due:
            time.sleep(due - now - 0.0003 if due - now > 0.0006 else 0)
        wakeups[k] = now - due
        # A cycle that overran its period drops the periods it missed, as a
        # real-time task does, instead of running late ones back to back.
        late = int((now - due) // period)
        missed += late
        tick += 1 + late
        sent = time.perf_counter()
        twin_time, values = system.sample(["spindle.speed", "spindle.vibration"])
        latency[k] = time.perf_counter() - sent
        if values["spindle.vibration"] > VIBRATION_LIMIT:
            load = max(load * 0.95, 1.0)
        else:
            load = min(load + 0.05, 30.0)
        # The command holds from the twin time it answers; the twin applies it
        # at its first communication point after it arrives.
        commands.put((twin_time, {"spindle.speed_setpoint": setpoint_at(now - began),
                              "spindle.load_torque": load}))
    commands.put(None)
    sender.join(timeout=10)
    ms = latency * 1e3
    report = {"cycles": n, "rate_hz": args.rate,
              "read_latency_ms": {"p50": float(np.percentile(ms, 50)),
                                  "p99": float(np.percentile(ms, 99)), "max": float(ms.max())},
              "wakeup_lateness_ms": {"p50": float(np.percentile(wakeups * 1e3, 50)),
                                     "p99": float(np.percentile(wakeups * 1e3, 99)),
                                     "max": float(wakeups.max() * 1e3)},
              "missed_periods": missed, "final_load_torque": load}
    print(json.dumps(report))
    client.close()


if __name__ == "__main__":
    main()
