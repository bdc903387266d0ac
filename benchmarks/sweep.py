"""Ensembles of the line twin: members per second on Dask against a serial loop.

    python benchmarks/sweep.py [--members N] [--hours H] [--json FILE]

N members of ``examples/line_twin`` (a grid over the spindle speed
setpoint, H simulated hours each, step 1 s) run three ways in this one
process's timeline:

- **serial**: ``run_ensemble(..., serial=True)``, one after the other here;
- **dask, 1 worker** and **dask, 2 workers**: a LocalCluster already
  started (its start-up is reported apart), members as Dask tasks.

Figures: members/s, and the overhead per member of Dask, i.e. the time per
member times the workers, minus the serial time per member.  Metrics are
checked to be identical between the three.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "line_twin"))

from line_twin import build_line  # noqa: E402

from cosim.sweep import final, grid, run_ensemble  # noqa: E402

METRICS = {"wear": final("spindle.wear"), "parts": final("transfer.parts_delivered")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=40, help="members (default 40)")
    parser.add_argument("--hours", type=float, default=0.5, help="simulated hours each (default 0.5)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    members = grid({"spindle.speed_setpoint": list(np.linspace(5000.0, 10000.0, args.members))})
    options = {"stop_time": args.hours * 3600.0, "step_size": 1.0, "metrics": METRICS,
               "record": ["spindle.wear", "transfer.parts_delivered"]}
    run_ensemble(build_line(), members[:2], serial=True, **options)      # warm caches
    serial = run_ensemble(build_line(), members, serial=True, **options)
    figures = {"serial": {"seconds": serial.seconds, "workers": 1}}
    reference = [r["metrics"] for r in serial.rows]
    mismatch = False
    for workers in (1, 2):
        started = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)
        startup = time.perf_counter() - started
        try:
            run_ensemble(build_line(), members[:workers], client=client, **options)   # warm up workers
            ensemble = run_ensemble(build_line(), members, client=client, **options)
        finally:
            client.close()
            cluster.close()
        figures[f"dask-{workers}"] = {"seconds": ensemble.seconds, "workers": workers,
                                      "cluster_start_s": startup}
        for row in ensemble.failures[:3]:
            print(f"FAILED on {workers} worker(s): {row['label']}: {row['error']}")
        if [r["metrics"] for r in ensemble.rows] != reference:
            print(f"MISMATCH: metrics on {workers} worker(s) differ from the serial run: "
                  f"{next(r for r in ensemble.rows if r['metrics'] != reference[r['member']])}")
            mismatch = True

    per_member_serial = serial.seconds / args.members
    print(f"line twin ensemble: {args.members} members x {args.hours:g} h "
          f"({int(args.hours * 3600)} steps each)")
    print(f"{'mode':<16} {'members/s':>10} {'ms/member':>10} {'overhead ms/member':>19} "
          f"{'cluster start s':>16}")
    for mode, f in figures.items():
        per_member = f["seconds"] / args.members
        overhead = per_member * f["workers"] - per_member_serial
        f.update(members_per_s=args.members / f["seconds"], overhead_ms=overhead * 1e3)
        start = f"{f['cluster_start_s']:.2f}" if "cluster_start_s" in f else "-"
        print(f"{mode:<16} {args.members / f['seconds']:>10.1f} {per_member * 1e3:>10.1f} "
              f"{'-' if mode == 'serial' else f'{overhead * 1e3:.1f}':>19} {start:>16}")
    print(f"2 workers vs serial: {figures['serial']['seconds'] / figures['dask-2']['seconds']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
