"""A synthetic furnace plant that publishes its sensors to MQTT.

The "plant" is the furnace twin with other parameters: its heat-up zone's
heat-transfer conductance fouls from 2000 W/K to 1300 W/K over the run, its
part flow and setpoints change as production does, and its sensors add
Gaussian noise.  It runs ``--factor`` times faster than real time and
publishes one message per plant step, ``--rate`` messages per wall second,
each with every sensor at that plant time (JSON ``{"t": ..., "values": {...}}``
on topic ``plant/furnace``).  Times are plant seconds since the plant started.

    python plant.py --port 1883 [--factor 600] [--rate 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import cosim
from cosim import twins
from cosim.live.mqtt import MqttPublisher
from cosim.execution.pacing import Pacer

ZONES = ("heat", "soak", "cool")
NOMINAL_TRANSFER = 2000.0       # W/K, clean
FOULED_TRANSFER = 1300.0        # W/K at the end of the run
NOISE = 0.5                     # K, temperature sensors


def part_flow(t: float) -> float:
    """Production: the part flow swings over a two-hour cycle (kg/s)."""
    return 0.5 + 0.3 * math.sin(2 * math.pi * t / 7200.0)


def heat_setpoint(t: float) -> float:
    """A recipe change every three hours (degC)."""
    return 900.0 if int(t // 10800) % 2 else 870.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--factor", type=float, default=600.0, help="plant seconds per wall second")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per wall second")
    parser.add_argument("--seconds", type=float, default=30.0, help="wall seconds to run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    step = args.factor / args.rate                 # plant seconds per message
    steps = int(args.seconds * args.rate)
    span = steps * step
    plant = cosim.System("plant")
    plant.add("furnace", twins.path("furnace"))
    sim = plant.start(step_size=step, stop_time=span + step, record=[])
    read = sim.reader([f"furnace.{z}_zone_{q}" for z in ZONES for q in ("temperature", "power")])
    rng = np.random.default_rng(args.seed)
    publisher = MqttPublisher(host=args.host, port=args.port, qos=0, prefix="plant/")
    pacer = Pacer(step_size=step, factor=args.factor, overrun="skip")
    print("plant ready", flush=True)
    pacer.start(0.0)
    for _ in range(steps):
        t = sim.time
        transfer = NOMINAL_TRANSFER + (FOULED_TRANSFER - NOMINAL_TRANSFER) * t / span
        sim.set("furnace.heat_zone_transfer", transfer)
        sim.set("furnace.part_mass_flow", part_flow(t))
        sim.set("furnace.heat_zone_setpoint", heat_setpoint(t))
        values = read()
        temperatures = values[0::2] + rng.normal(0.0, NOISE, len(ZONES))
        sensors = {f"{z}_temperature": float(v) for z, v in zip(ZONES, temperatures)}
        sensors.update({f"{z}_power": float(p) for z, p in zip(ZONES, values[1::2])})
        sensors["part_flow"] = part_flow(t)
        sensors["true_heat_transfer"] = transfer     # for the demo's comparison only
        publisher.publish_values("furnace", sensors, time=t)
        sim.step(1)
        pacer.wait(sim.time)        # the next reading is due then
    publisher.flush(5.0)
    publisher.close()
    stats = pacer.stats()
    print(f"plant done: {steps} messages, {steps * len(sensors)} samples in "
          f"{stats.wall_duration:.2f} s; pacing lateness p99 {stats.lateness_p99 * 1e6:.0f} us",
          flush=True)
    sim.stop()


if __name__ == "__main__":
    main()
