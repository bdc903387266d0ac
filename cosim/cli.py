"""The ``cosim`` command line.

``cosim info FILE.fmu`` describes an FMU; ``cosim validate FILE`` lists every
problem of an FMU, SSP or OSP file (the defects that cosim tolerates as
warnings, unless ``--strict``); ``cosim run TARGET`` runs one FMU, an SSP file
or a Python file that defines ``system`` and writes the results as CSV,
Parquet or MAT (by the extension of ``-o``); with ``--realtime [FACTOR]`` it
paces the run to the wall clock and prints the lateness and jitter it
achieved.  ``cosim plot RESULT`` draws a result file, one panel per unit.
``cosim sweep TARGET`` runs an ensemble of variations on Dask.
``cosim serve`` runs the Orchestrator gRPC service; ``cosim serve-twin
FILE.fmu`` hosts one FMU as a Twin service.  Both stop cleanly on SIGTERM.
Errors end the command with a one-line message and a non-zero exit status.

Each command imports what it needs when it runs, so that ``cosim --help``
and ``import cosim.cli`` stay fast (no scipy, networkx, Dask or gRPC).
"""

from __future__ import annotations

import argparse
import logging
import runpy
import sys
import time
from typing import Any
from pathlib import Path

from cosim import __version__, paths
from cosim.errors import ConfigurationError, CosimError, SimulationTerminated, did_you_mean

log = logging.getLogger("cosim")

# The choices of the options, as cosim.execution and cosim.execution.pacing define
# them; written out so that parsing the command line imports neither (a test
# checks that they agree).
ALGORITHMS = ("jacobi", "gauss-seidel")
EXTRAPOLATIONS = ("zoh", "foh")
OVERRUN_POLICIES = ("skip", "slow", "stop")

PROGRESS_AFTER = 1.5   # seconds before a progress bar appears
SUMMARY_COLUMNS = 5    # metrics per member in the sweep summary; its table has them all


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parameters(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, value = paths.partition(item, "=")     # '"a=b".k=1': the name is quoted
        if not sep or not name:
            raise ConfigurationError(f"--parameter {item!r}: write NAME=VALUE")
        values[name] = _parse_value(value)
    return values


# -- info ---------------------------------------------------------------------------

def cmd_info(args) -> int:
    from cosim.fmi.archive import read_model
    model = read_model(args.fmu)
    exp = model.default_experiment
    interfaces = " and ".join(i.replace("model-", "model ") for i in model.interfaces)
    print(f"{model.name} ({Path(args.fmu).name}), FMI {model.fmi_version} {interfaces}")
    if model.description:
        print(f"  {model.description}")
    print(f"  model identifier  {model.model_identifier}")
    if model.interface == "model-exchange":
        print(f"  model exchange    {model.number_of_states} continuous states, "
              f"{model.number_of_event_indicators} event indicators (integrated by a solver)")
    caps = [name for name, on in (("get/set state", model.can_get_and_set_state),
                                  ("serialize state", model.can_serialize_state),
                                  ("variable step size", model.can_handle_variable_step),
                                  ("input derivatives", model.can_interpolate_inputs),
                                  (f"output derivatives (order {model.max_output_derivative_order})",
                                   model.max_output_derivative_order >= 1),
                                  ("event mode", model.has_event_mode),
                                  ("early return from doStep", model.might_return_early)) if on]
    print(f"  capabilities      {', '.join(caps) or 'none'}")
    for k, warning in enumerate(model.warnings):
        print(f"  {'warnings' if k == 0 else '':<17} {warning}")
    if exp.stop_time is not None or exp.step_size is not None or exp.tolerance is not None:
        print(f"  default experiment start={exp.start_time} stop={exp.stop_time} step={exp.step_size}"
              + (f" tolerance={exp.tolerance}" if exp.tolerance is not None else ""))
    rows = [(v.name, v.causality, v.type + (str(list(v.shape)) if v.shape else ""), v.unit or "",
             "" if v.start is None else str(v.start),
             v.description or "") for v in model.variables.values() if v.causality != "independent"]
    header = ("variable", "causality", "type", "unit", "start", "description")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print()
    for row in [header] + rows:
        print("  " + "  ".join(row[i].ljust(widths[i]) for i in range(5)) + "  " + row[5])
    print()
    for output, inputs in model.dependencies.items():
        if inputs:
            print(f"  {output} feeds through from {', '.join(inputs)}")
    return 0


# -- run ----------------------------------------------------------------------------

def _load_target(target: str, parameters: dict, parameter_set: str | None = None):
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
    """A text progress bar on stderr that appears once a run takes a while."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, now: float, stop: float) -> None:
        if not self.enabled or time.perf_counter() - self.started < PROGRESS_AFTER:
            return
        fraction = min(1.0, now / stop) if stop else 1.0
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


def cmd_run(args) -> int:
    from cosim.execution import Simulation
    from cosim.results import writer_for
    realtime = _realtime_options(args)
    system, defaults, bare = _load_target(args.target, _parameters(args.parameter), args.parameter_set)
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
        _check_plot_file(args.plot)
    writer = writer_for(output, strip_component=component) if output is not None else None
    interval = args.output_interval if args.output_interval is not None else defaults.get("output_interval")
    sim = Simulation(system, algorithm=algorithm, output_interval=interval,
                     record=record, output_file=writer, logging_on=args.verbose > 1,
                     extrapolation=args.extrapolation, variable_step=args.variable_step,
                     rtol=args.rtol, profile=args.profile, tolerance=tolerance,
                     isolate=args.isolate, call_timeout=args.call_timeout, **realtime, **options)
    progress = _Progress(not args.quiet)
    started = time.perf_counter()
    try:
        with sim:
            try:
                sim.run(progress=progress)
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
    if args.plot is not None:
        sim.result.plot(path=args.plot)
        if not args.quiet:
            print(f"plotted {len(sim.result.names)} variables to {args.plot}", file=sys.stderr)
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


# -- validate -------------------------------------------------------------------------

def cmd_validate(args) -> int:
    path = Path(args.file)
    if path.suffix.lower() == ".fmu":
        from fmpy.validation import validate_fmu

        from cosim.fmi.archive import read_model
        from cosim.fmi.model import untolerated_problems
        from cosim.ssp import Problem
        model = read_model(path)               # cosim's own checks raise with the cause
        if args.strict:
            problems = [Problem("error", str(path), p) for p in validate_fmu(str(path))]
        else:
            # what cosim run tolerates (with the same warnings) does not fail validation
            problems = [Problem("warning", str(path), w) for w in model.warnings]
            problems += [Problem("error", str(path), p) for p in untolerated_problems(str(path))]
    elif path.suffix.lower() in (".ssp", ".ssd", ".xml"):
        from cosim.ssp import read
        problems = read(path, parameter_set=args.parameter_set, strict=args.strict).problems
    else:
        raise ConfigurationError(f"{path}: cosim validates .fmu, .ssp and .ssd files and OSP "
                                 "OspSystemStructure.xml files")
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for title, group in (("error", errors), ("warning", warnings)):
        if group:
            print(f"{len(group)} {title}{'s' if len(group) != 1 else ''}:")
            for problem in group:
                print(f"  {problem}")
    if not problems:
        print(f"{path}: no problems found")
    elif not errors and path.suffix.lower() == ".fmu" and not args.strict:
        print(f"{path}: usable; cosim tolerates every defect found (--strict counts them as errors)")
    return 1 if errors else 0


# -- plot -----------------------------------------------------------------------------

def _check_plot_file(path) -> None:
    """ResultFileError for a plot file that cannot be written, before anything is computed."""
    from cosim.results.plot import check_plot_file
    check_plot_file(path)


def cmd_plot(args) -> int:
    from cosim.results import read_result
    result = read_result(args.result)
    output = Path(args.output) if args.output else Path(args.result).with_suffix(".png")
    _check_plot_file(output)
    try:
        figure = result.plot(args.variables or None, path=output)
    except KeyError as exc:     # a variable not in the file, with close matches
        raise ConfigurationError(f"{args.result}: {exc.args[0]}") from None
    lines = sum(len(ax.get_lines()) for ax in figure.axes)
    print(f"plotted {lines} variables in {len(figure.axes)} panels to {output}")
    return 0


# -- sweep ----------------------------------------------------------------------------

def _sweep_axes(items: list[str]) -> dict:
    """``NAME=LOW:HIGH:N`` (N values evenly spaced) or ``NAME=A,B,...`` per item."""
    axes = {}
    for item in items:
        name, sep, spec = paths.partition(item, "=")
        if not sep or not name or not spec:
            raise ConfigurationError(f"--param {item!r}: write NAME=LOW:HIGH:N or NAME=A,B,...")
        if ":" in spec:
            parts = spec.split(":")
            try:
                low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
                if len(parts) != 3 or count < 1:
                    raise ValueError
            except (ValueError, IndexError):
                raise ConfigurationError(f"--param {item!r}: LOW:HIGH:N needs two numbers and a "
                                         "count >= 1") from None
            import numpy as np
            axes[name] = [float(v) for v in np.linspace(low, high, count)]
        else:
            axes[name] = [_parse_value(v) for v in spec.split(",")]
    return axes


def _sweep_progress(quiet: bool):
    def show(done: int, total: int, failed: int) -> None:
        if not quiet:
            bar = "#" * int(30 * done / total)
            sys.stderr.write(f"\r[{bar:<30}] {done}/{total} members, {failed} failed")
            sys.stderr.flush()
    return show


def _sweep_design(args, system) -> tuple[list, dict]:
    """(members, metrics) of the command line, every name checked against ``system``."""
    from cosim.sweep import Metric, check_names, default_metrics, grid, latin_hypercube

    axes = _sweep_axes(args.param)
    if not axes:
        raise ConfigurationError("give at least one --param to vary")
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

    system, defaults, _ = _load_target(args.target, _parameters(args.parameter), args.parameter_set)
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
    progress = _sweep_progress(args.quiet)
    ensemble = run_ensemble(system, members, stop_time=stop_time, step_size=step_size,
                            metrics=metrics,
                            algorithm=args.algorithm or defaults.get("algorithm") or "jacobi",
                            client=args.scheduler, workers=args.workers, serial=args.serial,
                            output_dir=args.results_dir, progress=progress)
    if not args.quiet:
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


# -- serve, serve-twin ----------------------------------------------------------------

def _security(args):
    from cosim.rpc.common import ServerSecurity
    return ServerSecurity(token=args.token, token_file=args.token_file, tls_cert=args.tls_cert,
                          tls_key=args.tls_key, client_ca=args.tls_client_ca)


def _announce(what: str):
    def ready(server):
        print(f"cosim: {what} on {server.url}{' (TLS)' if server.security.credentials else ''}"
              f"{', token required' if server.security.token else ''}", flush=True)
    return ready


def _guarded_security(args):
    """The server's security, or None (after saying why on one line) when it
    would let anyone on the network in without --insecure."""
    from cosim.rpc.server import exposure, is_loopback
    security = _security(args)
    problem = exposure(args.host, security)
    if problem is not None and not args.insecure:
        print(f"cosim {args.command}: {problem}", file=sys.stderr)
        return None
    if not security.token and not security.client_ca:
        where = ("any local user or process can call it" if is_loopback(args.host)
                 else "anyone who can reach it can call it (--insecure)")
        print(f"cosim: warning: no token is required: {where}; pass --token or --token-file "
              "to require one", file=sys.stderr, flush=True)
    return security


def cmd_serve(args) -> int:
    from cosim.rpc.quotas import Quotas
    from cosim.rpc.server import orchestrator_server
    quotas = Quotas(max_systems=args.max_systems,
                    max_unpacked_bytes=_byte_count(args.max_unpacked_bytes, "--max-unpacked-bytes"),
                    max_total_unpacked_bytes=_byte_count(args.max_total_unpacked_bytes,
                                                         "--max-total-unpacked-bytes"),
                    max_queued_calls=args.max_queued_calls,
                    max_stream_backlog=args.max_stream_backlog, max_rows=args.max_rows,
                    max_calls=args.max_calls)
    security = _guarded_security(args)
    if security is None:
        return 2
    server = orchestrator_server(root=args.root, host=args.host, port=args.port,
                                 security=security, quotas=quotas,
                                 allow_remote_components=args.allow_remote_components)
    server.serve_forever(ready=_announce(f"orchestrator (root {Path(args.root).resolve()})"))
    return 0


_BYTE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _byte_count(text: str, option: str) -> int:
    """A byte count written as digits with an optional K, M, G or T (powers of 1024)."""
    number, unit = text.strip().upper().removesuffix("B"), ""
    if number[-1:] in _BYTE_UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = int(float(number) * _BYTE_UNITS[unit])
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{option} must be a number of bytes > 0 (e.g. 1G, 500M), not {text!r}")
    return value


def cmd_serve_twin(args) -> int:
    from cosim.rpc.server import twin_server
    if args.max_calls <= 0:
        raise ConfigurationError(f"--max-calls must be a whole number > 0, got {args.max_calls}")
    security = _guarded_security(args)
    if security is None:
        return 2
    server = twin_server(args.fmu, parameters=args.parameter, host=args.host, port=args.port,
                         security=security, max_sessions=args.max_sessions,
                         idle_timeout=args.idle_timeout, max_calls=args.max_calls)
    exposed = ", ".join(args.parameter) or "none"
    server.serve_forever(ready=_announce(f"twin {Path(args.fmu).name} (parameters: {exposed})"))
    return 0


def _server_options(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=50051, help="port (default 50051; 0 picks a free one)")
    parser.add_argument("--token", help="require this bearer token on every call")
    parser.add_argument("--token-file", help="read the token from this file (first line)")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this CA (mutual TLS)")
    parser.add_argument("--insecure", action="store_true",
                        help="serve on a non-loopback address without a token or client "
                             "certificates (refused otherwise)")
    parser.add_argument("--max-calls", type=int, default=256, metavar="N",
                        help="calls in progress at once, server-wide; more are refused at once "
                             "(default 256; ListSystems, Terminate and health checks are exempt)")


# -- entry point ----------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cosim", description="FMI co-simulation for factory digital twins")
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv also asks FMUs for debug logging)")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="describe an FMU: variables, capabilities, default experiment")
    info.add_argument("fmu", help="FMU file")
    info.set_defaults(func=cmd_info)

    validate = sub.add_parser("validate", help="check an FMU or SSP file and list every problem")
    validate.add_argument("file", help=".fmu, .ssp or .ssd file")
    validate.add_argument("--parameter-set", help="check with this parameter set applied")
    validate.add_argument("--strict", action="store_true",
                          help="report the defects cosim tolerates as errors (FMUs: every "
                               "problem fmpy's validation finds; SSP and OSP files: reversed "
                               "connections, values for unknown variables, ...)")
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run an FMU, an SSP file, or a Python file defining 'system'")
    run.add_argument("target", help="FMU, SSP (.ssp/.ssd) or Python file defining 'system'")
    run.add_argument("--stop-time", type=float, help="end time in s (default: the FMU's or file's)")
    run.add_argument("--step-size", type=float, help="communication step in s")
    run.add_argument("--start-time", type=float, help="start time in s (default 0)")
    run.add_argument("--output-interval", type=float, help="recording interval, a multiple of the step")
    run.add_argument("--algorithm", choices=ALGORITHMS, help="master algorithm (default jacobi)")
    run.add_argument("--record", nargs="+", metavar="COMP.VAR",
                     help="variables to record, or 'all' for every variable (default: the "
                          "outputs; for an FMU without outputs, what fmpy records); quote a "
                          "component name holding dots: '\"a.b\".c' or \"'a.b'.c\"")
    run.add_argument("--parameter", "-p", action="append", default=[], metavar="NAME=VALUE",
                     help="set a parameter (FMU: NAME=VALUE; system: COMP.NAME=VALUE, with COMP "
                          "quoted if it holds dots: '\"a.b\".k=2'); repeatable")
    run.add_argument("--parameter-set", help="SSP: apply the parameter sets of this name")
    run.add_argument("--output", "-o", metavar="FILE",
                     help="result file, written as the run goes, in the format of its "
                          "extension: .csv, .parquet (with units) or .mat (Dymola/MATLAB)")
    run.add_argument("--plot", metavar="IMAGE",
                     help="plot the recorded variables to this image (.png, .svg, .pdf), "
                          "one panel per unit")
    run.add_argument("--extrapolation", choices=EXTRAPOLATIONS, default="zoh",
                     help="how inputs follow their sources over a step: zero- or first-order hold")
    run.add_argument("--variable-step", action="store_true",
                     help="control the step size by the coupling error (--step-size is the first step)")
    run.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of --variable-step")
    run.add_argument("--tolerance", type=float,
                     help="relative tolerance for FMUs' own solvers (default: each FMU's "
                          "default experiment, or the SSP master settings)")
    run.add_argument("--profile", action="store_true",
                     help="time every component's steps and print a table at the end")
    run.add_argument("--realtime", nargs="?", const="1", metavar="FACTOR",
                     help="pace the run to the wall clock, FACTOR simulation seconds per wall "
                          "second (default 1), and print lateness and jitter at the end")
    run.add_argument("--overrun", choices=OVERRUN_POLICIES,
                     help="--realtime: when a step ends too late, step the overdue points in one "
                          "batch (skip, the default), shift the schedule (slow) or fail (stop)")
    run.add_argument("--max-lateness", type=float, metavar="SECONDS",
                     help="--realtime: lateness beyond which a point is an overrun "
                          "(default: one step of wall clock)")
    run.add_argument("--isolate", action="store_true",
                     help="run every FMU in a worker process of its own: a crash or hang of "
                          "one ends the run with an error naming it, not this process")
    run.add_argument("--call-timeout", type=float, metavar="SECONDS",
                     help="with --isolate: the longest any FMU call may take before its "
                          "worker is killed")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    run.set_defaults(func=cmd_run)

    plot = sub.add_parser("plot", help="plot a result file (.csv, .parquet, .mat), one panel "
                                       "per unit")
    plot.add_argument("result", help="result file written by cosim run -o")
    plot.add_argument("variables", nargs="*", metavar="VARIABLE",
                      help="variables to plot (default: every one)")
    plot.add_argument("--output", "-o", metavar="IMAGE",
                      help="image file (.png, .svg, .pdf; default: RESULT with .png)")
    plot.set_defaults(func=cmd_plot)

    sweep = sub.add_parser("sweep", help="run an ensemble of variations of a system on Dask")
    sweep.add_argument("target", help="SSP (.ssp/.ssd), FMU or Python file defining 'system'")
    sweep.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                       help="vary NAME over LOW:HIGH:N (N evenly spaced values) or A,B,...; "
                            "repeatable (members: every combination)")
    sweep.add_argument("--lhs", type=int, metavar="N",
                       help="N Latin hypercube samples over the --param ranges instead of the grid")
    sweep.add_argument("--seed", type=int, help="random seed of --lhs")
    sweep.add_argument("--metric", action="append", default=[], metavar="[LABEL=]KIND(VAR)",
                       help="summary per member: final, initial, max, min, mean, integral or "
                            "maxabs of a variable; repeatable (default: the final value of "
                            "every output)")
    sweep.add_argument("--stop-time", type=float, help="end time in s (default: the file's)")
    sweep.add_argument("--step-size", type=float, help="communication step in s")
    sweep.add_argument("--algorithm", choices=ALGORITHMS, help="master algorithm (default jacobi)")
    sweep.add_argument("--parameter", "-p", action="append", default=[], metavar="NAME=VALUE",
                       help="a value set in every member; repeatable")
    sweep.add_argument("--parameter-set", help="SSP: apply the parameter sets of this name")
    sweep.add_argument("--output", "-o", help="Parquet file for the table of members and metrics")
    sweep.add_argument("--results-dir", help="also write each member's full result as Parquet here")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler (tcp://host:port); default: a local cluster")
    sweep.add_argument("--workers", type=int, help="local cluster worker processes (default: CPUs)")
    sweep.add_argument("--serial", action="store_true", help="run members in this process, no Dask")
    sweep.add_argument("--best", metavar="LABEL", help="rank members by this metric (default: the first)")
    sweep.add_argument("--minimize", action="store_true", help="lowest values of --best first")
    sweep.add_argument("--top", type=int, default=5, help="members shown in the summary (default 5)")
    sweep.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    sweep.add_argument("--allow-failures", action="store_true",
                       help="exit 0 even when members failed (default: exit 1)")
    sweep.set_defaults(func=cmd_sweep)

    serve = sub.add_parser("serve", help="run the Orchestrator gRPC service")
    _server_options(serve)
    serve.add_argument("--root", default=".", help="directory server-side system paths are under")
    serve.add_argument("--max-systems", type=int, default=16, help="systems alive at once (default 16)")
    serve.add_argument("--max-unpacked-bytes", default="1G", metavar="BYTES",
                       help="what one system's SSP archive and FMUs may unpack to on disk, "
                            "together (default 1G; K, M, G suffixes)")
    serve.add_argument("--max-total-unpacked-bytes", default="4G", metavar="BYTES",
                       help="what all systems' archives and FMUs may unpack to, together "
                            "(default 4G)")
    serve.add_argument("--max-queued-calls", type=int, default=16, metavar="N",
                       help="calls waiting for or running on one system; more are refused at once "
                            "(default 16)")
    serve.add_argument("--max-stream-backlog", type=int, default=100_000, metavar="ROWS",
                       help="rows an output stream may fall behind by before it is ended "
                            "(default 100000)")
    serve.add_argument("--max-rows", type=int, default=1_000_000, metavar="ROWS",
                       help="recorded rows each system keeps in memory; older rows are dropped "
                            "(default 1000000)")
    serve.add_argument("--allow-remote-components", action="store_true",
                       help="let systems include grpc:// components (the server connects to them "
                            "with its own COSIM_TOKEN); refused by default")
    serve.set_defaults(func=cmd_serve)

    serve_twin = sub.add_parser("serve-twin", help="host one FMU as a Twin gRPC service")
    serve_twin.add_argument("fmu", help="FMU file (it stays on this host)")
    _server_options(serve_twin)
    serve_twin.add_argument("--parameter", "-p", action="append", default=[], metavar="NAME",
                            help="expose this parameter to clients; repeatable (default: none)")
    serve_twin.add_argument("--max-sessions", type=int, default=64,
                            help="instances alive at once (default 64)")
    serve_twin.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
                            help="free an instance unused this long when a new one is asked for "
                                 "(default 600)")
    serve_twin.set_defaults(func=cmd_serve_twin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except CosimError as exc:
        print(f"cosim: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
