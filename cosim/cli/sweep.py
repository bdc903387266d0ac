"""``cosim sweep``: an ensemble of variations on Dask, with its summary."""

from __future__ import annotations

import logging
import sys

from cosim import paths
from cosim.errors import ConfigurationError, did_you_mean
from cosim.cli.common import parameter_values, parse_value, progress_shown
from cosim.cli.run import load_target

log = logging.getLogger("cosim")

SUMMARY_COLUMNS = 5    # metrics per member in the sweep summary; its table has them all


def _sweep_axes(items: list[str]) -> dict:
    """``NAME=LOW:HIGH:N`` (N values evenly spaced) or ``NAME=A,B,...`` per item."""
    axes = {}
    for item in items:
        name, sep, spec = paths.partition(item, "=")
        if not sep or not name or not spec:
            raise ConfigurationError(f"--vary {item!r}: write NAME=LOW:HIGH:N or NAME=A,B,...")
        if ":" in spec:
            parts = spec.split(":")
            try:
                low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
                if len(parts) != 3 or count < 1:
                    raise ValueError
            except (ValueError, IndexError):
                raise ConfigurationError(f"--vary {item!r}: LOW:HIGH:N needs two numbers and a "
                                         "count >= 1") from None
            import numpy as np
            axes[name] = [float(v) for v in np.linspace(low, high, count)]
        else:
            axes[name] = [parse_value(v) for v in spec.split(",")]
    return axes


def _sweep_progress(shown: bool):
    def show(done: int, total: int, failed: int) -> None:
        if shown:
            bar = "#" * int(30 * done / total)
            sys.stderr.write(f"\r[{bar:<30}] {done}/{total} members, {failed} failed")
            sys.stderr.flush()
    return show


def _sweep_design(args, system) -> tuple[list, dict]:
    """(members, metrics) of the command line, every name checked against ``system``."""
    from cosim.sweep import Metric, check_names, default_metrics, grid, latin_hypercube

    axes = _sweep_axes(args.vary)
    if not axes:
        raise ConfigurationError("give at least one --vary NAME=SPEC")
    if args.lhs:
        ranges = {name: (min(values), max(values)) for name, values in axes.items()}
        members = latin_hypercube(args.lhs, ranges, seed=args.seed)
    else:
        members = grid(axes)
    metrics = {}
    for text in args.metric:
        label, sep, spec = text.partition("=")
        metric = Metric.parse(spec if sep else text)
        metrics[label if sep else str(metric)] = metric
    metrics = metrics or default_metrics(system)
    check_names(system, members, metrics)
    if args.best is not None and args.best not in metrics:
        raise ConfigurationError(f"--best {args.best!r} is not a metric"
                                 f"{did_you_mean(args.best, metrics)}; metrics: "
                                 f"{', '.join(metrics)}")
    return members, metrics


def cmd_sweep(args) -> int:
    from cosim.sweep import run_ensemble

    system, defaults, _ = load_target(args.target, parameter_values(args.parameter), args.parameter_set)
    stop_time = args.stop_time if args.stop_time is not None else defaults.get("stop_time")
    step_size = args.step_size if args.step_size is not None else defaults.get("step_size")
    try:
        if stop_time is None or step_size is None:
            raise ConfigurationError(f"{args.target} has no default stop time or step size; "
                                     "pass --stop-time and --step-size")
        members, metrics = _sweep_design(args, system)
    except ConfigurationError as exc:
        # A mistake on the command line, found before any member starts: a usage error.
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 2
    shown = progress_shown(args)
    progress = _sweep_progress(shown)
    ensemble = run_ensemble(system, members, stop_time=stop_time, step_size=step_size,
                            metrics=metrics,
                            algorithm=args.algorithm or defaults.get("algorithm") or "jacobi",
                            client=args.scheduler, workers=args.workers, serial=args.serial,
                            isolate=not args.no_isolate, output_dir=args.results_dir,
                            progress=progress)
    if shown:
        sys.stderr.write("\n")
    if args.output:
        ensemble.to_parquet(args.output)
    _print_summary(ensemble, args)
    failed = len(ensemble.failures)
    if failed and not args.allow_failures:
        print(f"cosim: {failed} of {len(ensemble)} members failed (--allow-failures exits 0 "
              "all the same)", file=sys.stderr)
        return 1
    return 0


def _print_summary(ensemble, args) -> None:
    failed = ensemble.failures
    print(f"{len(ensemble)} members in {ensemble.seconds:.1f} s, {len(failed)} failed"
          + (f"; table written to {args.output}" if args.output else ""))
    by = args.best or ensemble.metric_names[0]
    best = ensemble.best(by, n=args.top, maximize=not args.minimize)
    if best:
        print(f"best by {by} ({'lowest' if args.minimize else 'highest'} first):")
        others = [n for n in ensemble.metric_names if n != by]
        names = [by] + others[:SUMMARY_COLUMNS - 1]
        if len(others) >= SUMMARY_COLUMNS:
            print(f"  ({len(others) - SUMMARY_COLUMNS + 1} more metrics in the table of "
                  "--output)")
        print("  " + "  ".join(f"{n:>16}" for n in names) + "  member")
        for row in best:
            print("  " + "  ".join(f"{row['metrics'][n]:>16.6g}" for n in names) + f"  {row['label']}")
    for row in failed[:10]:
        print(f"failed: {row['label']}: {row['error']}")
    if len(failed) > 10:
        print(f"... and {len(failed) - 10} more failures (see the table's error column)")
