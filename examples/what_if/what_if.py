"""What-if study of the line twin: infeed belt speed x soak setpoint x spindle wear.

27 configurations of ``examples/line_twin`` run as a Dask ensemble (a local
cluster on this machine, or ``--scheduler tcp://host:port``).  Each member
reports the parts it delivered, the energy it used (furnace plus drives),
its bearing wear and its worst soak-zone deviation; the study ranks the
members by energy per part, writes the table (Parquet and CSV) and plots
energy per part against belt speed.

Run it with ``python examples/what_if/what_if.py [--hours H] [--plot FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "line_twin"))

from line_twin import build_line  # noqa: E402

from cosim.sweep import Metric, final, grid, run_ensemble  # noqa: E402

AXES = {
    "infeed.belt_speed_command": [0.3, 0.4, 0.5],          # m/s
    "furnace.soak_zone_setpoint": [820.0, 850.0, 880.0],   # degC
    "spindle.initial_wear": [0.2, 0.5, 0.8],               # bearing wear at the start
}
METRICS = {
    "parts": final("transfer.parts_delivered"),
    "furnace_j": final("furnace.energy"),
    "spindle_j": Metric("integral", "spindle.motor_power"),
    "infeed_j": Metric("integral", "infeed.motor_power"),
    "transfer_j": Metric("integral", "transfer.motor_power"),
    "wear": final("spindle.wear"),
    "soak_dev_k": Metric("maxabs", "furnace.soak_deviation"),
}


def energy_per_part_kwh(row: dict) -> float:
    m = row["metrics"]
    joules = m["furnace_j"] + m["spindle_j"] + m["infeed_j"] + m["transfer_j"]
    return joules / 3.6e6 / max(m["parts"], 1e-9)


def plot(rows, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    speeds = AXES["infeed.belt_speed_command"]
    for setpoint in AXES["furnace.soak_zone_setpoint"]:
        chosen = [r for r in rows if r["values"]["furnace.soak_zone_setpoint"] == setpoint
                  and r["values"]["spindle.initial_wear"] == AXES["spindle.initial_wear"][0]]
        chosen.sort(key=lambda r: r["values"]["infeed.belt_speed_command"])
        axes[0].plot(speeds, [r["energy_per_part_kwh"] for r in chosen], "o-",
                     label=f"soak {setpoint:g} °C")
    axes[0].set_xlabel("infeed belt speed (m/s)")
    axes[0].set_ylabel("energy per part (kWh)")
    axes[0].legend()
    for wear in AXES["spindle.initial_wear"]:
        chosen = [r for r in rows if r["values"]["spindle.initial_wear"] == wear
                  and r["values"]["furnace.soak_zone_setpoint"] == 850.0]
        chosen.sort(key=lambda r: r["values"]["infeed.belt_speed_command"])
        axes[1].plot(speeds, [r["metrics"]["wear"] for r in chosen], "o-", label=f"start wear {wear:g}")
    axes[1].set_xlabel("infeed belt speed (m/s)")
    axes[1].set_ylabel("bearing wear at the end (-)")
    axes[1].legend()
    fig.suptitle("Line twin what-if: 27 configurations")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours per member (default 2)")
    parser.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    parser.add_argument("--workers", type=int, help="local cluster workers (default: one per CPU)")
    parser.add_argument("--output", default="what_if.parquet", help="table (default what_if.parquet; "
                                                                    "a .csv is written beside it)")
    parser.add_argument("--plot", metavar="FILE", help="save a plot (needs matplotlib)")
    args = parser.parse_args()

    members = grid(AXES)
    ensemble = run_ensemble(build_line(), members, stop_time=args.hours * 3600.0, step_size=1.0,
                            metrics=METRICS, client=args.scheduler, workers=args.workers,
                            record=sorted({m.variable for m in METRICS.values()}))
    rows = [r for r in ensemble.rows if r["error"] is None]
    for row in rows:
        row["energy_per_part_kwh"] = energy_per_part_kwh(row)

    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet
    table = ensemble.table()
    per_part = {r["member"]: r["energy_per_part_kwh"] for r in rows}
    table = table.append_column("energy_per_part_kwh",
                                pa.array([per_part.get(m) for m in table.column("member").to_pylist()]))
    pyarrow.parquet.write_table(table, args.output)
    pyarrow.csv.write_csv(table, str(Path(args.output).with_suffix(".csv")))

    print(f"{len(ensemble)} members, {args.hours:g} h each, in {ensemble.seconds:.1f} s "
          f"({len(ensemble.failures)} failed); table in {args.output}")
    print(f"{'belt m/s':>9} {'soak °C':>8} {'wear0':>6} {'parts':>7} {'kWh/part':>9} "
          f"{'wear':>7} {'soak dev K':>10}")
    for row in sorted(rows, key=lambda r: r["energy_per_part_kwh"])[:8]:
        v, m = row["values"], row["metrics"]
        print(f"{v['infeed.belt_speed_command']:>9.2f} {v['furnace.soak_zone_setpoint']:>8.0f} "
              f"{v['spindle.initial_wear']:>6.1f} {m['parts']:>7.0f} {row['energy_per_part_kwh']:>9.3f} "
              f"{m['wear']:>7.4f} {m['soak_dev_k']:>10.3f}")
    for row in ensemble.failures:
        print(f"failed: {row['label']}: {row['error']}")
    if args.plot:
        plot(rows, args.plot)
        print(f"plot in {args.plot}")
    return 1 if ensemble.failures else 0


if __name__ == "__main__":
    sys.exit(main())
