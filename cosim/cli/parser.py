"""The argument parser of every command, and the entry point."""

from __future__ import annotations

import argparse
import logging
import sys

from cosim import __version__
from cosim.errors import CosimError
from cosim.cli.info import cmd_info, cmd_plot, cmd_validate
from cosim.cli.run import cmd_run
from cosim.cli.dashboard import add_dashboard_parser
from cosim.cli.serve import add_http_option, add_server_options, cmd_serve, cmd_serve_twin
from cosim.cli.sweep import cmd_sweep

log = logging.getLogger("cosim")


# The choices of the options, as cosim.execution and cosim.execution.pacing define
# them; written out so that parsing the command line imports neither (a test
# checks that they agree).
ALGORITHMS = ("jacobi", "gauss-seidel")
EXTRAPOLATIONS = ("zoh", "foh")
OVERRUN_POLICIES = ("skip", "slow", "stop")
ON_CRASH = ("fail", "restart")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cosim", description="FMI co-simulation for factory digital twins")
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv also asks FMUs for debug logging)")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="describe an FMU (variables, capabilities, default "
                                       "experiment) or a system file (components, connections, "
                                       "parameters)")
    info.add_argument("fmu", metavar="FILE", help="FMU, SSP (.ssp/.ssd) or OSP system file")
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
    run.add_argument("--on-crash", choices=ON_CRASH,
                     help="with --isolate: end the run when an FMU's worker crashes, exits or "
                          "hangs (fail, the default), or start it again from the last "
                          "checkpoint and take the steps since then again (restart)")
    run.add_argument("--checkpoint-interval", type=float, metavar="SECONDS",
                     help="--on-crash restart: simulation seconds between checkpoints "
                          "(default 1)")
    run.add_argument("--max-restarts", type=int, metavar="N",
                     help="--on-crash restart: restarts allowed per FMU (default 3)")
    run.add_argument("--memory-limit", metavar="BYTES",
                     help="with --isolate: the most memory each FMU's worker may use "
                          "(K, M, G suffixes; at least 16M)")
    add_progress_options(run, "no progress bar, summary or hint")
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
    sweep.add_argument("--vary", action="append", default=[], metavar="NAME=SPEC",
                       help="vary NAME over LOW:HIGH:N (N evenly spaced values) or A,B,...; "
                            "repeatable (members: every combination)")
    # the earlier spelling, kept working but no longer shown
    sweep.add_argument("--param", action="append", dest="vary", help=argparse.SUPPRESS)
    sweep.add_argument("--lhs", type=int, metavar="N",
                       help="N Latin hypercube samples over the --vary ranges instead of the grid")
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
    sweep.add_argument("--output", "-o", metavar="FILE",
                       help="Parquet file for the table of members and metrics")
    sweep.add_argument("--results-dir", help="also write each member's full result as Parquet here")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler (tcp://host:port); default: a local cluster")
    sweep.add_argument("--workers", type=int, help="local cluster worker processes (default: CPUs)")
    sweep.add_argument("--serial", action="store_true", help="run members in this process, no Dask")
    sweep.add_argument("--no-isolate", action="store_true",
                       help="load members' FMUs into the Dask workers (default: each FMU "
                            "instance runs in a worker process of its own, so a crash fails "
                            "only its member)")
    sweep.add_argument("--best", metavar="LABEL", help="rank members by this metric (default: the first)")
    sweep.add_argument("--minimize", action="store_true", help="lowest values of --best first")
    sweep.add_argument("--top", type=int, default=5, help="members shown in the summary (default 5)")
    add_progress_options(sweep, "no progress bar")
    sweep.add_argument("--allow-failures", action="store_true",
                       help="exit 0 even when members failed (default: exit 1)")
    sweep.set_defaults(func=cmd_sweep)

    serve = sub.add_parser("serve", help="run the Orchestrator gRPC service")
    add_server_options(serve)
    add_http_option(serve)
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
    serve.add_argument("--no-isolate", action="store_true",
                       help="load hosted FMUs into the server process (default: each FMU instance "
                            "runs in a worker process, so a crashing FMU fails only its system)")
    serve.add_argument("--call-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="end a system whose isolated FMU call takes longer (default 60)")
    serve.add_argument("--memory-limit", default="2G", metavar="BYTES",
                       help="end a system whose isolated FMU's worker uses more memory "
                            "(default 2G; K, M, G suffixes)")
    serve.add_argument("--state-dir", metavar="DIR",
                       help="keep hosted systems here: checkpointed as they run and on SIGTERM, "
                            "and brought back with their ids when the server restarts")
    serve.add_argument("--checkpoint-every", type=float, metavar="SECONDS",
                       help="with --state-dir: seconds between checkpoints of a system that "
                            "changes (default 60)")
    serve.set_defaults(func=cmd_serve)

    serve_twin = sub.add_parser("serve-twin", help="host one FMU as a Twin gRPC service")
    serve_twin.add_argument("fmu", help="FMU file (it stays on this host)")
    add_server_options(serve_twin)
    serve_twin.add_argument("--expose", action="append", default=[], metavar="NAME",
                            help="let clients set this parameter; repeatable (default: none)")
    # The earlier spelling: -p/--parameter means NAME=VALUE in run and sweep,
    # so here it still works but says to use --expose.
    serve_twin.add_argument("--parameter", "-p", action="append", default=[],
                            dest="legacy_expose", help=argparse.SUPPRESS)
    serve_twin.add_argument("--max-sessions", type=int, default=64,
                            help="instances alive at once (default 64)")
    serve_twin.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
                            help="free an instance unused this long when a new one is asked for "
                                 "(default 600)")
    serve_twin.set_defaults(func=cmd_serve_twin)
    add_dashboard_parser(sub)
    return parser


def add_progress_options(parser, quiet_help: str) -> None:
    """``--progress`` and ``--quiet``, alike in every command that shows progress."""
    parser.add_argument("--progress", action="store_true",
                        help="show the progress bar even when stderr is not a terminal "
                             "(by default it shows only on a terminal)")
    parser.add_argument("--quiet", "-q", action="store_true", help=quiet_help)


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
