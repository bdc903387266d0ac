"""The options of a run, as data.

:class:`Options` holds everything a :class:`~cosim.execution.Simulation` is
told, grouped by concern: the time grid, :class:`Coupling` (how components
exchange values), :class:`StepControl` (variable steps), :class:`Realtime`
(pacing to the wall clock) and :class:`Recording` (what the result holds and
where it goes).  Every option is checked here, in one place, when an
:class:`Options` is made; the keyword arguments of ``Simulation``,
``simulate`` and ``System.start`` are a thin layer over it
(:meth:`Options.from_keywords`).

Examples
--------
>>> options = Options.from_keywords(step_size=0.1, stop_time=1.0, algorithm="gauss-seidel")
>>> options.coupling.algorithm
'gauss-seidel'
>>> options.keywords()["stop_time"]
1.0
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from cosim.errors import ConfigurationError
from cosim.execution.pacing import check_factor, check_policy, positive_seconds
from cosim.timegrid import TimeGrid, time_grid

__all__ = ["ALGORITHMS", "EXTRAPOLATIONS", "Coupling", "Isolation", "Options", "Realtime",
           "Recording", "StepControl"]

ALGORITHMS = ("jacobi", "gauss-seidel")
EXTRAPOLATIONS = ("zoh", "foh")
ON_CRASH = ("fail", "restart")


def _positive_number(name: str, value, *, most: float = math.inf) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0
                                       and math.isfinite(value)):
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
    if value > most:
        raise ConfigurationError(f"{name} must be at most {most:g}, got {value!r}")


def _whole(name: str, value, *, most: int) -> None:
    """``value`` must be an integer from 1 to ``most``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigurationError(f"{name} must be a whole number from 1 to {most}, got {value!r}")


def _flag(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")


# Bounds that keep a value within what the native loop and the OS take.
MAX_THREADS = 256
MAX_COUNT = 2**31 - 1
MAX_TIMEOUT_S = 1e6
# A worker with its FMU loaded takes a few MB: a limit below this could not be met.
MIN_MEMORY_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Coupling:
    """How components exchange values.

    ``algorithm`` is "jacobi" (all step from the same point) or
    "gauss-seidel" (in execution order, each from its sources' new values);
    ``extrapolation`` "zoh" or "foh" (how a float64 input follows its source
    over a step); ``step_multiples`` maps components to how many base steps
    each of their steps spans; ``loop_tolerance`` and
    ``loop_max_iterations`` bound the solution of algebraic loops;
    ``tolerance`` is the relative tolerance handed to FMUs' own solvers (None:
    each FMU's default experiment).
    """

    algorithm: str = "jacobi"
    extrapolation: str = "zoh"
    step_multiples: dict | None = None
    loop_tolerance: float = 1e-10
    loop_max_iterations: int = 100
    tolerance: float | None = None

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ConfigurationError(f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                                     f"got {self.algorithm!r}")
        if self.extrapolation not in EXTRAPOLATIONS:
            raise ConfigurationError(f"extrapolation must be one of {', '.join(EXTRAPOLATIONS)}, "
                                     f"got {self.extrapolation!r}")
        _positive_number("loop_tolerance", self.loop_tolerance)
        if self.tolerance is not None:
            _positive_number("tolerance", self.tolerance)
        if isinstance(self.loop_max_iterations, bool) or \
                not isinstance(self.loop_max_iterations, int) or self.loop_max_iterations < 1:
            raise ConfigurationError(f"loop_max_iterations must be a positive integer, "
                                     f"got {self.loop_max_iterations!r}")
        _whole("loop_max_iterations", self.loop_max_iterations, most=MAX_COUNT)
        if self.step_multiples is not None and not isinstance(self.step_multiples, dict):
            raise ConfigurationError(f"step_multiples must be a dict of component name -> "
                                     f"whole number of base steps, got {self.step_multiples!r}")
        for name, multiple in (self.step_multiples or {}).items():
            if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1:
                raise ConfigurationError(f"step_multiples: {name} must step every whole number "
                                         f">= 1 of base steps, got {multiple!r}")
            _whole(f"step_multiples: {name}", multiple, most=MAX_COUNT)


@dataclass(frozen=True)
class StepControl:
    """Variable communication steps controlled by the coupling error.

    With ``variable_step``, a step whose error exceeds ``atol + rtol*|value|``
    is rolled back and taken again, shorter; steps stay within ``min_step``
    (default ``step_size/1000``) and ``max_step`` (default ``100*step_size``).
    """

    variable_step: bool = False
    min_step: float | None = None
    max_step: float | None = None
    rtol: float = 1e-4
    atol: float = 1e-6

    def __post_init__(self):
        _flag("variable_step", self.variable_step)
        _positive_number("rtol", self.rtol)
        _positive_number("atol", self.atol)


@dataclass(frozen=True)
class Realtime:
    """Pacing to the wall clock: ``factor`` simulation seconds per wall second
    (None: not paced), what an ``overrun`` does ("skip", "slow", "stop") and
    the ``max_lateness`` in wall seconds before a point is an overrun."""

    factor: float | None = None
    overrun: str = "skip"
    max_lateness: float | None = None

    def __post_init__(self):
        if self.factor is not None:
            check_factor(self.factor)
        check_policy(self.overrun)
        if self.max_lateness is not None:
            positive_seconds("max_lateness", self.max_lateness, zero=True)


@dataclass(frozen=True)
class Recording:
    """What the result holds and where it goes.

    ``record`` lists the references recorded (None: every output);
    ``output_interval`` the recording interval (None: every step);
    ``output_file`` a file written as the run goes, or a writer object;
    ``keep_rows`` / ``keep_seconds`` bound the rows the result keeps in
    memory to the last that many rows / simulation seconds (None: all; the
    output file gets every row);
    ``logging_on`` asks FMUs for debug logging; ``profile`` times every do step.
    """

    record: Any = None
    output_interval: float | None = None
    output_file: Any = None
    keep_rows: int | None = None
    keep_seconds: float | None = None
    logging_on: bool = False
    profile: bool = False

    def __post_init__(self):
        rows = self.keep_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
            raise ConfigurationError(f"keep_rows must be a positive integer or None, got {rows!r}")
        if self.keep_seconds is not None:
            _positive_number("keep_seconds", self.keep_seconds)
        record = self.record
        if record is not None and not isinstance(record, (str, tuple, list)):
            raise ConfigurationError(f"record must be a reference or a list of references, "
                                     f"got {record!r}")
        _flag("logging_on", self.logging_on)
        _flag("profile", self.profile)


@dataclass(frozen=True)
class Isolation:
    """Components in worker processes of their own.

    ``isolate`` runs every co-simulation FMU of the run in a worker process
    (components added with ``isolate=True`` are isolated either way);
    ``call_timeout`` (seconds, None for no limit) bounds every call of an
    isolated component: a call that takes longer has its worker killed and
    ends the run with a :class:`~cosim.errors.ComponentCrashedError`.
    ``on_crash`` is "fail" (such a crash ends the run) or "restart": the
    master keeps a checkpoint every ``checkpoint_interval`` simulation
    seconds, and a crashed worker is started again, the whole system put
    back to the checkpoint and the steps since then taken again, at most
    ``max_restarts`` times per component (see :mod:`cosim.execution.recovery`).
    ``memory_limit`` (bytes, None for no limit) bounds the resident
    memory of each isolated component's worker: past it, the worker ends
    and the run fails with a ComponentCrashedError saying so (or restarts).
    """

    isolate: bool = False
    call_timeout: float | None = None
    memory_limit: int | None = None
    on_crash: str = "fail"
    checkpoint_interval: float = 1.0
    max_restarts: int = 3

    def __post_init__(self):
        if not isinstance(self.isolate, bool):
            raise ConfigurationError(f"isolate must be True or False, got {self.isolate!r}")
        if self.call_timeout is not None:
            _positive_number("call_timeout", self.call_timeout, most=MAX_TIMEOUT_S)
        if self.memory_limit is not None and (
                isinstance(self.memory_limit, bool) or not isinstance(self.memory_limit, int)
                or not MIN_MEMORY_LIMIT <= self.memory_limit < 2**62):
            raise ConfigurationError(f"memory_limit must be a whole number of bytes from "
                                     f"{MIN_MEMORY_LIMIT} (16 MiB) to 2**62, got {self.memory_limit!r}")
        if self.on_crash not in ON_CRASH:
            raise ConfigurationError(f"on_crash must be one of {', '.join(ON_CRASH)}, "
                                     f"got {self.on_crash!r}")
        _positive_number("checkpoint_interval", self.checkpoint_interval, most=MAX_TIMEOUT_S)
        _whole("max_restarts", self.max_restarts, most=MAX_COUNT)


# Flat keyword -> (group, field) of Options; group None for Options' own fields.
_KEYWORDS = {
    **{name: (None, name) for name in ("step_size", "stop_time", "start_time", "threads")},
    **{f.name: ("coupling", f.name) for f in dataclasses.fields(Coupling)},
    **{f.name: ("step_control", f.name) for f in dataclasses.fields(StepControl)},
    **{f.name: ("recording", f.name) for f in dataclasses.fields(Recording)},
    **{f.name: ("isolation", f.name) for f in dataclasses.fields(Isolation)},
    "realtime": ("realtime", "factor"),
    "overrun": ("realtime", "overrun"),
    "max_lateness": ("realtime", "max_lateness"),
}
_GROUPS = {"coupling": Coupling, "step_control": StepControl, "realtime": Realtime,
           "recording": Recording, "isolation": Isolation}


def _realtime_factor(realtime) -> float | None:
    """The real-time factor asked for by the ``realtime`` keyword, or None for an unpaced run."""
    if realtime is False or realtime is None:
        return None
    if realtime is True:
        return 1.0
    if not isinstance(realtime, (int, float)):
        raise ConfigurationError(f"realtime must be True, False or a real-time factor > 0 "
                                 f"(1 = real time, 10 = ten times faster), got {realtime!r}")
    return check_factor(realtime)


@dataclass(frozen=True)
class Options:
    """Every option of a run, checked when made (ConfigurationError names the
    option at fault).  See :class:`~cosim.execution.Simulation` for what each
    does; :meth:`from_keywords` builds one from the flat keyword arguments."""

    step_size: float
    stop_time: float | None = None
    start_time: float = 0.0
    threads: int | None = None
    coupling: Coupling = field(default_factory=Coupling)
    step_control: StepControl = field(default_factory=StepControl)
    realtime: Realtime = field(default_factory=Realtime)
    recording: Recording = field(default_factory=Recording)
    isolation: Isolation = field(default_factory=Isolation)

    def __post_init__(self):
        self.grid()         # checks the times
        threads = self.threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ConfigurationError(f"threads must be a positive integer or None, got {threads!r}")
        if threads is not None and threads > MAX_THREADS:
            raise ConfigurationError(f"threads must be at most {MAX_THREADS}, got {threads}")
        if threads is not None and threads > 1 and self.coupling.algorithm != "jacobi":
            raise ConfigurationError("parallel stepping (threads > 1) needs algorithm='jacobi'")
        variable = self.step_control.variable_step
        if self.realtime.factor is not None and variable:
            raise ConfigurationError("realtime runs take fixed communication steps, one at a "
                                     "time; they cannot be combined with variable_step")
        if self.isolation.on_crash == "restart" and (variable or self.realtime.factor):
            raise ConfigurationError(
                "on_crash='restart' takes the steps since the last checkpoint again after a "
                "crash; it is not supported with " + ("variable_step" if variable else "realtime")
                + " (use fixed steps, not paced)")
        if variable and any(m > 1 for m in (self.coupling.step_multiples or {}).values()):
            raise ConfigurationError("step_multiples need a fixed base step; they cannot be "
                                     "combined with variable_step")

    def grid(self) -> TimeGrid:
        """The communication points of the run."""
        return time_grid(start_time=self.start_time, step_size=self.step_size,
                         stop_time=self.stop_time,
                         output_interval=self.recording.output_interval,
                         variable_step=self.step_control.variable_step,
                         min_step=self.step_control.min_step, max_step=self.step_control.max_step)

    @classmethod
    def from_keywords(cls, **keywords) -> Options:
        """Options from the flat keyword arguments of ``Simulation``,
        ``simulate`` and ``System.start``; ConfigurationError names an unknown
        keyword (with its closest match) or a bad value.

        Parameters
        ----------
        step_size : float
            Communication step in seconds, any positive finite value; point n is
            ``start_time + n*step_size`` (as in fmpy), never accumulated.  With
            ``variable_step``, the first step tried.
        stop_time : float or None
            End of the run; None lets :meth:`Simulation.step` go on without limit.
        start_time : float
        algorithm : {"jacobi", "gauss-seidel"}
        output_interval : float or None
            Recording interval, a multiple of ``step_size`` (default: every step).
            With ``variable_step``, steps end on every multiple of it (default:
            a row after every accepted step).
        record : list or None
            References to record (default: every output): ``"component.variable"``
            strings, quoted ones (``'"DP Controller".y'``) or tuples
            (``("a.b", "c")``), as :mod:`cosim.paths` describes.  The result's
            column names are the references as :meth:`cosim.System.reference`
            writes them.
        output_file : path, ResultWriter or None
            Result file written as the run goes (kept, up to the failure, when a
            run fails), in the format its extension names: ``.csv``, ``.parquet``
            or ``.mat`` (see :func:`cosim.results.writer_for`); or a
            :class:`~cosim.results.ResultWriter` for other headers.
        keep_rows, keep_seconds : int, float or None
            Keep only the last that many rows, or simulation seconds of rows, in
            :attr:`Simulation.result` (a bounded window for long and open-ended runs); the
            ``output_file`` still gets every row.
        logging_on : bool
            Ask FMUs for debug logging (messages go to the ``cosim.fmu`` logger).
        threads : int or None
            Jacobi only: step FMUs on this many threads (1 = serial).  None
            decides on the first steps of the run: it times serial and parallel
            stepping and keeps parallel only if it is clearly faster, so trivial
            FMUs stay serial.  With Python-backed components (which always step on
            the calling thread) parallel stepping is tried only when the FMUs' do
            steps take a good part of the step.  Results do not depend on it.
        extrapolation : {"zoh", "foh"}
            How a float64 input follows its source over a step: zero-order hold
            (the value at the step's start), or first-order hold (extrapolated from
            the source's last two points; under Gauss-Seidel, interpolated between
            the old and new value of a source that stepped first).  Where the
            source FMU computes output derivatives (maxOutputDerivativeOrder >= 1,
            FMI 2 and 3), the extrapolation takes its first derivative at the step's
            start as the slope instead of the last two points.  FMI 2 FMUs that
            can interpolate inputs get the slope as an input derivative; others get
            the hold's mean over the step.  FMI 3 arrays are held element by
            element.
        step_multiples : dict of str to int or None
            Multi-rate: component name -> how many base steps each of its steps
            spans.  Its inputs are held over its step and its outputs change at
            the end of it.
        variable_step : bool
            Control the step size by the coupling error: after each step the
            exchanged values are compared with what the holds assumed; a step whose
            error exceeds ``atol + rtol*|value|`` is rolled back (FMU get/set state)
            and taken again, shorter.  Steps stay within ``min_step`` (default
            ``step_size/1000``) and ``max_step`` (default ``100*step_size``).  When a
            component cannot roll back or take variable steps, a warning names it
            and the run keeps the fixed step.
        loop_tolerance, loop_max_iterations
            Algebraic loops are solved at every communication point by fixed-point
            sweeps until every float64 value changes by less than
            ``loop_tolerance*(1+|value|)`` and every int32 and bool value repeats,
            falling back to Newton's method (scipy) on the float64 values when the
            sweeps diverge, stall or reach ``loop_max_iterations``.  A loop that
            needed Newton goes straight to it at the next 50 points, then tries
            the sweeps again.  Integer or boolean values that never repeat raise
            AlgebraicLoopError naming them.
        tolerance : float or None
            Relative tolerance handed to FMUs with solvers of their own
            (``fmi2SetupExperiment``, ``fmi3EnterInitializationMode``).  None gives
            each co-simulation FMU the tolerance of its default experiment, or
            none where it declares none (as fmpy does); model exchange components
            use their solver's ``rtol``.
        profile : bool
            Time every do step of every component (see :attr:`Simulation.stats`).
        realtime : bool or float
            Pace the run to the wall clock: True for real time, a number for that
            real-time factor (simulation seconds per wall second).  :meth:`Simulation.step`,
            :meth:`Simulation.run_until` and :meth:`Simulation.run` then take one communication step at
            a time and wait before going on until the point reached is due (see
            :class:`cosim.execution.pacing.Pacer`).  The schedule is anchored at the
            first paced step and kept across calls, so time spent between calls
            counts; :meth:`Simulation.restore`, :meth:`Simulation.load_state` and a RealtimeOverrun
            anchor it again.  Fixed step only.  Rows reach :attr:`Simulation.result` and the
            ``output_file`` at least every 0.25 s of wall clock.
        overrun : {"skip", "slow", "stop"}
            What a real-time run does when a point is reached more than
            ``max_lateness`` after it was due: step the points already due in one
            batch and go on ("skip"), shift the schedule by the lateness ("slow"),
            or raise RealtimeOverrun, whose ``partial_result`` holds the result
            ("stop").  The simulation stays usable after a RealtimeOverrun.
        max_lateness : float or None
            Real time: the wall seconds a point may be late before it is an
            overrun (default: one step, ``step_size / factor``).
        isolate : bool
            Run every co-simulation FMU in a worker process of its own (see
            :mod:`cosim.isolation`); components added with ``isolate=True`` are
            isolated either way.  A worker that crashes ends the run with a
            ComponentCrashedError (``partial_result`` holds what was computed),
            not the Python process.
        call_timeout : float or None
            Seconds any call of an isolated component may take; one that takes
            longer has its worker killed and raises ComponentCrashedError.
        memory_limit : int or None
            Bytes of resident memory each isolated component's worker may
            use (at least 16 MiB).  A worker past it after a call ends itself,
            and the run fails with ComponentCrashedError saying so (``reason``
            "out of memory"); an allocation far past it in one call fails.
        on_crash : {"fail", "restart"}
            What a crashed, exited or timed-out isolated component does to the
            run: end it with ComponentCrashedError ("fail"), or ("restart")
            start its worker again, put every component back to the last
            checkpoint and take the steps since then again, so that the result
            (and the ``output_file``, each row once) is what a run without the
            crash gives.  Needs at least one isolated component, every
            component able to save its state and the isolated ones to
            serialize it; fixed steps, not paced.  A warning names the
            component, the cause and the times; ``result.stats[name].restarts``
            counts the restarts.
        checkpoint_interval : float
            With ``on_crash="restart"``: simulation seconds between checkpoints
            (rounded to whole steps, at least one; default 1.0).  Inputs set
            with :meth:`Simulation.set` since the last one are set again at the
            same step.
        max_restarts : int
            With ``on_crash="restart"``: restarts allowed per component in a
            run (default 3); the next crash ends the run with
            ComponentCrashedError saying how often it was restarted.
        """
        if "step_size" not in keywords:
            raise ConfigurationError("step_size is required")
        return cls(step_size=keywords.pop("step_size")).replace(**keywords)

    def replace(self, **keywords) -> Options:
        """A copy with the given flat keyword options changed."""
        top: dict = {}
        groups: dict = {}
        for name, value in keywords.items():
            if name not in _KEYWORDS:
                close = difflib.get_close_matches(name, _KEYWORDS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(f"unknown option {name!r}{hint}")
            group, attribute = _KEYWORDS[name]
            if name == "realtime":
                value = _realtime_factor(value)
            if group is None:
                top[attribute] = value
            else:
                groups.setdefault(group, {})[attribute] = value
        for group, values in groups.items():
            top[group] = dataclasses.replace(getattr(self, group), **values)
        return dataclasses.replace(self, **top)

    def keywords(self) -> dict:
        """The flat keyword arguments that make these options again."""
        flat = {}
        for name, (group, attribute) in _KEYWORDS.items():
            flat[name] = getattr(self if group is None else getattr(self, group), attribute)
        flat["realtime"] = False if flat["realtime"] is None else flat["realtime"]
        return flat
