"""``cosim run``: run one FMU, an SSP or OSP file, or a Python file defining ``system``."""

from __future__ import annotations

import logging
import runpy
import sys
import time
from pathlib import Path
from typing import Any

from cosim import paths
from cosim.errors import ConfigurationError, SimulationTerminated
from cosim.cli.common import byte_count, parameter_values, progress_shown
from cosim.cli.info import check_plot_file

log = logging.getLogger("cosim")

PROGRESS_AFTER = 1.5   # seconds before a progress bar appears on a terminal
NOT_WRITTEN = "note: the results were not written to a file; add -o FILE (.csv, .parquet or .mat)"


def load_target(target: str, parameters: dict, parameter_set: str | None = None):
    """(system, defaults, bare) for an FMU, an SSP file or a Python file defining ``system``."""
    from cosim.fmi.archive import read_model
    from cosim.ssp import load
    from cosim.system import System
    path = Path(target)
    if parameter_set is not None and path.suffix.lower() not in (".ssp", ".ssd"):
        raise ConfigurationError("--parameter-set applies to SSP files (.ssp, .ssd)")
    if path.suffix.lower() in (".ssp", ".ssd", ".xml"):
        system = load(path, parameter_set=parameter_set)
        for name, value in parameters.items():
            system.set_parameter(name, value)
        return system, dict(system.default_experiment), False
    if path.suffix == ".fmu":
        model = read_model(path)
        # Named after the model, whatever characters other exporters put in it.
        name = paths.safe_name(model.model_identifier, default=paths.safe_name(path.stem))
        system = System(name)
        system.add(name, path, parameters=parameters)
        exp = model.default_experiment
        # its tolerance, if it declares one, reaches it without being passed on here
        defaults = {"start_time": exp.start_time, "stop_time": exp.stop_time,
                    "step_size": exp.step_size}
        return system, defaults, True
    if path.suffix == ".py":
        if not path.is_file():
            raise ConfigurationError(f"{path} not found")
        namespace = runpy.run_path(str(path), run_name="cosim_run")
        found: Any = namespace.get("system")
        if not isinstance(found, System):
            raise ConfigurationError(f"{path} must define a variable 'system' holding a cosim.System")
        system = found
        for name, value in parameters.items():
            system.set_parameter(name, value)
        defaults = {k: namespace.get(k)
                    for k in ("start_time", "stop_time", "step_size", "algorithm", "tolerance")}
        return system, defaults, False
    raise ConfigurationError(f"{target}: expected an .fmu, .ssp or .ssd file, an OSP "
                             "OspSystemStructure.xml, or a .py file defining 'system'")


# How many variables fmpy records of an FMU without outputs.
FMPY_DEFAULT_COUNT = 5
# fmpy's columns go by type in this order (FMI 1 and 2 have three of them),
# in file order within each; it records no strings or binaries.
FMPY_TYPE_ORDER = ("float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                   "int64", "uint64", "bool")


def _recorded(names: list[str] | None, system, bare: bool) -> list | None:
    """The ``record`` list of ``cosim run --record NAMES``: the names given (of the
    FMU's variables for a single FMU), every variable for ``all``, and None (the
    outputs) by default; for a single FMU, what fmpy records (its outputs in
    fmpy's column order, or what fmpy takes of an FMU without outputs)."""
    if names == ["all"]:
        return _every_variable(system)
    if names and "all" in names:
        raise ConfigurationError("--record all records every variable; give it alone")
    if not bare:
        return names or None
    component, model = next(iter(system.components.items()))
    if names:      # variable names as the FMU spells them
        return [(component, name) for name in names]
    chosen = _fmpy_order(model.outputs) if model.outputs else _fmpy_default(model)
    return [(component, name) for name in chosen]


def _fmpy_order(variables) -> list[str]:
    """The names of the variables fmpy records among ``variables``, in its column order."""
    from cosim.execution import LOOP_TYPES
    kept = [v for v in variables if v.type in FMPY_TYPE_ORDER and v.type in LOOP_TYPES]
    return [v.name for v in sorted(kept, key=lambda v: FMPY_TYPE_ORDER.index(v.type))]


def _fmpy_default(model) -> list[str]:
    """What fmpy's simulate_fmu records of an FMU without outputs: its first
    continuous states, else its first variables (the independent time among
    them counts but is not recorded); only types the master records."""
    names = list(model.states[:FMPY_DEFAULT_COUNT]) or \
        list(model.variables)[:FMPY_DEFAULT_COUNT]
    kept = [model.variables[name] for name in names]
    return _fmpy_order(v for v in kept if v.causality != "independent")


def _every_variable(system) -> list[str]:
    """``--record all``: every variable of every component of a type the master
    records; the others are named in a warning."""
    from cosim.analysis import flatten
    from cosim.execution import LOOP_TYPES, LOOP_TYPES_TEXT
    names: list[str] = []
    skipped: list[str] = []
    flat = flatten(system)
    for component, model in flat.components.items():
        for var in model.variables.values():
            if var.causality == "independent":
                continue
            (names if var.type in LOOP_TYPES else skipped).append(flat.reference(component, var.name))
    if skipped:
        log.warning("--record all: %s not recorded (the master records %s values)",
                    ", ".join(skipped), LOOP_TYPES_TEXT)
    return names


class _Progress:
    """A text progress bar on stderr that appears once a run takes ``after`` seconds."""

    def __init__(self, after: float, start: float = 0.0):
        self.after = after
        self.start = start
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, now: float, stop: float) -> None:
        if time.perf_counter() - self.started < self.after:
            return
        span = stop - self.start
        fraction = min(1.0, max(0.0, (now - self.start) / span)) if span > 0 else 1.0
        bar = "#" * int(30 * fraction)
        sys.stderr.write(f"\r[{bar:<30}] {100 * fraction:5.1f}%  t={now:g} s")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False


def _realtime_options(args) -> dict:
    """Simulation options of ``--realtime [FACTOR] --overrun P --max-lateness S``."""
    if args.realtime is None:
        if args.overrun is not None or args.max_lateness is not None:
            raise ConfigurationError("--overrun and --max-lateness apply to real-time runs; "
                                     "add --realtime")
        return {}
    try:
        factor = float(args.realtime)
    except ValueError:
        raise ConfigurationError(f"--realtime FACTOR must be a number > 0 (1 = real time, "
                                 f"10 = ten times faster), got {args.realtime!r}") from None
    return {"realtime": factor, "overrun": args.overrun or "skip",
            "max_lateness": args.max_lateness}


def _recovery(args) -> dict:
    """The restart options given on the command line (the others keep their defaults)."""
    given = {"on_crash": args.on_crash, "checkpoint_interval": args.checkpoint_interval,
             "max_restarts": args.max_restarts,
             "memory_limit": byte_count(args.memory_limit, "--memory-limit")
             if args.memory_limit is not None else None}
    return {name: value for name, value in given.items() if value is not None}


def cmd_run(args) -> int:
    from cosim.execution import Simulation
    from cosim.isolation import interruptible
    from cosim.results import writer_for
    realtime = _realtime_options(args)
    system, defaults, bare = load_target(args.target, parameter_values(args.parameter), args.parameter_set)
    options = {
        "start_time": args.start_time if args.start_time is not None else defaults.get("start_time") or 0.0,
        "stop_time": args.stop_time if args.stop_time is not None else defaults.get("stop_time"),
        "step_size": args.step_size if args.step_size is not None else defaults.get("step_size"),
    }
    tolerance = args.tolerance if args.tolerance is not None else defaults.get("tolerance")
    for name in ("stop_time", "step_size"):
        if options[name] is None:
            raise ConfigurationError(f"no {name.replace('_', '-')} given and {args.target} has no "
                                     f"default; pass --{name.replace('_', '-')}")
    algorithm = args.algorithm or defaults.get("algorithm") or "jacobi"
    output = args.output
    record = _recorded(args.record, system, bare)
    component = next(iter(system.components)) if bare else None
    if args.plot is not None:       # a bad plot file name fails before the run, not after
        check_plot_file(args.plot)
    writer = writer_for(output, strip_component=component) if output is not None else None
    interval = args.output_interval if args.output_interval is not None else defaults.get("output_interval")
    sim = Simulation(system, algorithm=algorithm, output_interval=interval,
                     record=record, output_file=writer, logging_on=args.verbose > 1,
                     extrapolation=args.extrapolation, variable_step=args.variable_step,
                     rtol=args.rtol, profile=args.profile, tolerance=tolerance,
                     isolate=args.isolate, call_timeout=args.call_timeout, **_recovery(args),
                     **realtime, **options)
    # Asked for, the bar shows at once; on a terminal, only once a run takes a while.
    progress = _Progress(0.0 if args.progress else PROGRESS_AFTER, start=sim.start_time)
    started = time.perf_counter()
    try:
        with sim, interruptible():
            try:
                sim.run(progress=progress if progress_shown(args) else None)
                if progress.shown:                      # the bar ends full, not at its last update
                    progress(sim.time, sim.stop_time or 0.0)
            except SimulationTerminated as ended:       # a normal end, as in fmpy
                progress.close()                        # the notice goes on its own line
                print(f"note: {ended}", file=sys.stderr)
            finally:
                progress.close()
    finally:
        if sim.result.realtime is not None:     # also after an overrun or a failure
            print(sim.result.realtime.summary())
    elapsed = time.perf_counter() - started
    if not args.quiet:
        mode = "variable step" if sim.variable_step else algorithm
        if realtime:
            mode += f", paced at real time x{realtime['realtime']:g}"
        print(f"ran {len(sim.names)} component(s) to t={sim.time:g} s in {sim.step_index} steps "
              f"({elapsed:.2f} s wall clock, {mode})", file=sys.stderr)
        if output is not None:
            print(f"wrote {len(sim.result)} rows x {len(sim.result.names)} variables to {output}",
                  file=sys.stderr)
        else:
            print(NOT_WRITTEN, file=sys.stderr)
    if args.plot is not None:
        sim.result.plot(path=args.plot)
        if not args.quiet:
            count = len(sim.result.names)
            print(f"plotted {count} variable{'s' * (count != 1)} to {args.plot}", file=sys.stderr)
    if args.profile:
        print(_profile_table(sim.result.stats, elapsed))
    return 0


def _profile_table(stats: dict, elapsed: float) -> str:
    """Per component: steps, rejected steps, rollbacks, loop iterations, events,
    early returns, do-step time."""
    width = max([len("component")] + [len(name) for name in stats])
    lines = [f"{'component':<{width}}  {'steps':>9}  {'rejected':>8}  {'rollbacks':>9}  "
             f"{'loop iter':>9}  {'events':>7}  {'early ret':>9}  {'doStep s':>9}  "
             f"{'us/step':>8}  {'share':>6}"]
    for name, s in stats.items():
        per_step = 1e6 * s.step_time / s.steps if s.steps else 0.0
        share = 100 * s.step_time / elapsed if elapsed > 0 else 0.0
        lines.append(f"{name:<{width}}  {s.steps:>9}  {s.rejected:>8}  {s.rollbacks:>9}  "
                     f"{s.loop_iterations:>9}  {s.events:>7}  {s.early_returns:>9}  "
                     f"{s.step_time:>9.4f}  {per_step:>8.2f}  {share:>5.1f}%")
    total = sum(s.step_time for s in stats.values())
    lines.append(f"do step took {total:.4f} s of {elapsed:.4f} s wall clock; the rest is the "
                 "master, recording and output")
    return "\n".join(lines)
