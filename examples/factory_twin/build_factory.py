"""A factory twin: three production lines of different configurations and a factory
energy meter, composed from nested systems and written as an SSP file.

Each line is the line twin of examples/line_twin with an energy meter summing
its spindle, conveyor drives and furnace burners; it shows its power (kW)
and the parts it delivered through ports.  The factory nests the same line
three times with different spindle wear, conveyor length, arrival rate and
furnace setpoint, and sums the lines' power in its own meter (the kW ports
convert to the meter's W on the way).

    python examples/factory_twin/build_factory.py          # writes factory.ssp here
    cosim run examples/factory_twin/factory.ssp -o factory.csv
    python examples/factory_twin/build_factory.py --run     # writes, loads, runs, summarizes
"""

from __future__ import annotations

import argparse
import runpy
import time
from pathlib import Path

import numpy as np

import cosim
from cosim import System, twins

HERE = Path(__file__).resolve().parent
build_line = runpy.run_path(str(HERE.parent / "line_twin" / "line_twin.py"),
                            run_name="factory")["build_line"]

# Each line as the base line with these values changed (paths inside the line).
LINES = {
    "line1": {},
    "line2": {"spindle.initial_wear": 0.45, "infeed.length": 16.0, "arrivals.offset": 0.35,
              "furnace.soak_zone_setpoint": 860.0},
    "line3": {"spindle.initial_wear": 0.05, "infeed.length": 9.0, "transfer.length": 6.0,
              "arrivals.offset": 0.45, "furnace.soak_zone_setpoint": 840.0},
}
CONSUMERS = (("spindle", "motor_power"), ("infeed", "motor_power"),
             ("transfer", "motor_power"), ("furnace", "burner_power"))


def metered_line() -> System:
    """The line twin with an energy meter and ports for its power and output."""
    line = build_line("line")
    line.add("meter", twins.path("energy_meter"))
    for i, (component, variable) in enumerate(CONSUMERS, start=1):
        line.connect(f"{component}.{variable}", f"meter.power_{i}")
    line.add_port("power", "output", unit="kW", description="Power drawn by the line")
    line.add_port("parts_delivered", "output", description="Parts delivered to the furnace")
    line.connect("meter.total_power", "power")
    line.connect("transfer.parts_delivered", "parts_delivered")
    return line


def build_factory() -> System:
    line = metered_line()
    factory = System("factory")
    factory.add("meter", twins.path("energy_meter"))
    for i, (name, values) in enumerate(LINES.items(), start=1):
        factory.add(name, line, parameters=values)
        factory.connect(f"{name}.power", f"meter.power_{i}")
    factory.add_port("total_power", "output", unit="kW", description="Power drawn by the factory")
    factory.add_port("energy", "output", unit="kWh", description="Energy used since the start")
    factory.connect("meter.total_power", "total_power")
    factory.connect("meter.energy", "energy")
    factory.default_experiment.update(start_time=0.0, stop_time=4 * 3600.0, step_size=1.0,
                                      algorithm="gauss-seidel", output_interval=60.0)
    return factory


def summarize(result) -> None:
    hours = result.time[-1] / 3600.0
    print(f"Factory twin, {hours:.1f} h: {result['total_power'][-1]:.0f} kW now, "
          f"{result['energy'][-1]:.0f} kWh used")
    for name in LINES:
        parts = result[f"{name}.parts_delivered"][-1]
        energy = np.trapezoid(result[f"{name}.power"], result.time) / 3600.0
        print(f"  {name}: {parts:6.0f} parts, {energy:7.1f} kWh, {energy / max(parts, 1e-9):.3f} kWh/part, "
              f"spindle wear {result[f'{name}.spindle.wear'][-1]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=str(HERE / "factory.ssp"), help="SSP file to write")
    parser.add_argument("--run", action="store_true", help="load the written file, run and summarize")
    args = parser.parse_args()
    factory = build_factory()
    path = factory.save(args.output)
    flat = cosim.flatten(factory)
    print(f"wrote {path}: {len(factory.subsystems)} lines, {len(flat.components)} FMU instances, "
          f"{len(flat.connections)} connections")
    if args.run:
        loaded = cosim.load(path)
        started = time.perf_counter()
        result = loaded.simulate(**{k: v for k, v in loaded.default_experiment.items()})
        print(f"ran in {time.perf_counter() - started:.2f} s")
        summarize(result)


if __name__ == "__main__":
    main()
