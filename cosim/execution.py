"""Running a system: instantiate, initialize, step, record, stop.

:class:`Simulation` owns the component instances and the native step loop;
:func:`simulate` runs a system from start to stop in one call.

Initialization sets every parameter and input start value explicitly (some
FMUs only behave when the importer does), then propagates connected values
through direct-feedthrough chains in execution order before leaving
initialization mode, so that every input starts at its source's value.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import pickle
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from cosim import paths
from cosim.analysis import algebraic_loops, execution_order, flatten
from cosim.component import PythonComponent
from cosim.errors import (AlgebraicLoopError, ConfigurationError, CosimError, FmiCallError,
                           ModelError, RealtimeOverrun, SimulationTerminated)
from cosim.fmi._binding import EVENT_CALLS, FATAL, TYPE_CODES, Instance, fmi_name, function_name
from cosim.fmi.loader import load_fmu
from cosim.fmi.model import MODEL_EXCHANGE, SERIALIZE_FUNCTIONS, STATE_FUNCTIONS
from cosim.fmi.model_exchange import ModelExchangeInstance
from cosim.live.pacing import Pacer, check_factor, check_policy
from cosim.master._core import (GROUPS, RUN_DONE, RUN_FAILED, RUN_LOOP_FAILED, RUN_TERMINATED,
                                STAGES, STEP_TERMINATED, Core)
from cosim.results import Result, writer_for
from cosim.system import is_remote
from cosim.timegrid import check_seconds, time_grid

__all__ = ["ALGORITHMS", "EXTRAPOLATIONS", "ComponentStats", "Simulation", "Snapshot", "simulate"]

log = logging.getLogger("cosim")

ALGORITHMS = ("jacobi", "gauss-seidel")
# intervalVariability of the FMI 3 input clocks the master ticks
CLOCK_KINDS = ("constant", "fixed", "tunable", "changing", "triggered")
EXTRAPOLATIONS = ("zoh", "foh")
# The value types the master's loop exchanges and records, in the core's group order.
LOOP_TYPES = tuple(GROUPS)
LOOP_TYPES_TEXT = "number and bool (float64, float32, int8 to uint64, bool)"
# Below this much work per step, parallel Jacobi is not even tried: waking
# and joining threads costs a few microseconds.
PARALLEL_MIN_STEP_S = 20e-6
STATE_FORMAT = "cosim-state-5"
# Runtimes backed by a loaded FMU binary, whose model is corrected to that binary.
FMU_RUNTIMES = (Instance, ModelExchangeInstance)
# A real-time run hands its recorded rows to the result (and the CSV file) at
# least this often, so a long run shows up on disk as it goes.
REALTIME_FLUSH_NS = 250_000_000


# Types whose start values are compared with what a binary holds.
_COMPARABLE = ("float64", "float32", "int8", "uint8", "int16", "uint16", "int32", "uint32",
               "int64", "uint64", "bool")


def _holds_its_starts(runtime) -> bool:
    """Whether ``runtime`` is an FMI 2/3 binary, which holds its own start values
    and can be read in initialization mode (FMI 1.0 cannot be read before it is
    initialized)."""
    return isinstance(runtime, FMU_RUNTIMES) and runtime.model.fmi_version != "1.0"


def _realtime_factor(realtime) -> float | None:
    """The real-time factor asked for by ``realtime``, or None for an unpaced run."""
    if realtime is False or realtime is None:
        return None
    if realtime is True:
        return 1.0
    if not isinstance(realtime, (int, float)):
        raise ConfigurationError(f"realtime must be True, False or a real-time factor > 0 "
                                 f"(1 = real time, 10 = ten times faster), got {realtime!r}")
    return check_factor(realtime)


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """Names of the elements of an array variable, row-major: ``name[0]``,
    ``name[1]`` ... for one dimension, ``name[0,0]``, ``name[0,1]`` ... for more;
    ``[name]`` for a scalar."""
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]


def _shape_text(var) -> str:
    return f"[{', '.join(map(str, var.shape))}]" if var.shape else "scalar"


class _Plan:
    """Where every exchanged and recorded value lives in the loop's buffers.

    Works on a flat system (see :func:`cosim.analysis.flatten`).  A value is
    one slot of its type's buffer; an FMI 3 array variable takes one slot per
    element, in row-major order.
    """

    def __init__(self, system, record):
        self.system = system
        self.names = list(system.components)
        self.index = {name: k for k, name in enumerate(self.names)}
        self.slot_counts = dict.fromkeys(LOOP_TYPES, 0)
        self.source_slot: dict[str, tuple[str, list[int]]] = {}   # output -> (group, slots)
        self.outputs = defaultdict(list)     # k -> [(group, vr, slots)] fetched every step
        self.recorded = defaultdict(list)    # k -> [(group, vr, slots)] fetched at output points
        self.inputs = defaultdict(list)      # k -> [(group, vr, source slots, scale, shift)]
        self.connected_inputs = {}
        self.slot_owner = {}                 # float64 source slot -> unit writing it
        self.slot_names = {}                 # float64 source slot -> "comp.var" or "comp.var[i]"
        self._plan_clocks()
        self._refuse_resized_arrays()
        self.clocked_inputs = defaultdict(list)   # k -> [(clock names, group, vr, source slots)]
        self.clocked_outputs = defaultdict(list)  # k -> [(clock names, group, vr, slots)]
        for c in system.connection_details:
            src_comp, src = self.variable(c.source)
            dst_comp, dst = self.variable(c.target)
            group = src.type
            if group == "clock":
                self.clock_links.append((src_comp, src.name, dst_comp, dst.name))
                continue
            if group not in LOOP_TYPES:
                raise ConfigurationError(
                    f"connection {c.source} -> {c.target}: {group} values cannot be exchanged by "
                    f"the master yet (it exchanges {LOOP_TYPES_TEXT} values)")
            if src.shape != dst.shape:
                raise ConfigurationError(
                    f"connection {c.source} -> {c.target}: {c.source} has shape "
                    f"{_shape_text(src)} ({src.size} elements) and {c.target} has shape "
                    f"{_shape_text(dst)} ({dst.size}); array connections need the same shape")
            if c.source not in self.source_slot:
                slots = [self._new_slot(group) for _ in range(src.size)]
                self.source_slot[c.source] = (group, slots)
                if c.source in self.clocked:
                    self.clocked_outputs[self.index[src_comp]].append(
                        (src.clocks, group, src.value_reference, slots))
                else:
                    self.outputs[self.index[src_comp]].append((group, src.value_reference, slots))
                if group == "float64":
                    for slot, name in zip(slots, element_names(c.source, src.shape)):
                        self.slot_owner[slot] = self.index[src_comp]
                        self.slot_names[slot] = name
            if c.target in self.clocked:
                if (c.scale, c.shift) != (1.0, 0.0):
                    raise ConfigurationError(f"connection {c.source} -> {c.target}: clocked "
                                             "inputs take their source's value as it is")
                self.clocked_inputs[self.index[dst_comp]].append(
                    (dst.clocks, group, dst.value_reference, self.source_slot[c.source][1]))
            else:
                self.inputs[self.index[dst_comp]].append(
                    (group, dst.value_reference, self.source_slot[c.source][1], c.scale, c.shift))
            self.connected_inputs[c.target] = c.source
        # Float64 slots below this hold exchanged values (the step-size control watches them).
        self.exchanged_float64 = self.slot_counts["float64"]
        # Columns: (group, slot), one per element of arrays; ports of the system
        # show a leaf output through a transformation applied to the recorded rows.
        self.columns, self.column_names, self.column_transforms = [], [], {}
        self.column_units, self.column_descriptions = [], []    # the models' (results metadata)
        self.arrays = {}        # recorded array name -> (shape, its column indices)
        for name in self._recorded_names(record):
            leaf, scale, shift = self.leaf_of(name)
            comp, var = self.variable(leaf)
            if leaf in self.source_slot:
                group, slots = self.source_slot[leaf]
            elif leaf in self.clocked:
                group, slots = self.clocked_slots(leaf)
            else:
                # Inputs too are read from their component: under Jacobi a
                # connected input holds the previous point's value, not its
                # source's new one.
                group, slots = var.type, [self._new_slot(var.type) for _ in range(var.size)]
                self.recorded[self.index[comp]].append((var.type, var.value_reference, slots))
            if var.shape:
                self.arrays[name] = (var.shape, list(range(len(self.columns),
                                                           len(self.columns) + var.size)))
            for slot, column_name in zip(slots, element_names(name, var.shape)):
                if (scale, shift) != (1.0, 0.0):
                    self.column_transforms[len(self.columns)] = (scale, shift)
                self.columns.append((group, slot))
                self.column_names.append(column_name)
                # a transformed port is in another unit than its leaf: unknown
                self.column_units.append(var.unit if (scale, shift) == (1.0, 0.0) else None)
                self.column_descriptions.append(var.description)

    def _refuse_resized_arrays(self) -> None:
        """Array dimensions come from structural parameters' start values: cosim
        does not enter configuration mode, so it cannot give them other values."""
        for name, model in self.system.components.items():
            user = self.system.parameters(name)
            for var in model.variables.values():
                for dim, parameter in zip(var.shape, var.dimension_parameters):
                    if parameter is None or parameter not in user:
                        continue
                    if user[parameter] != model.variables[parameter].start:
                        raise ConfigurationError(
                            f"component '{name}' ({model.path}): structural parameter "
                            f"{parameter} sizes array {name}.{var.name} (shape "
                            f"{_shape_text(var)} at its start value {dim}); cosim does not enter "
                            f"configuration mode to resize arrays, so {parameter} cannot be set "
                            f"to {user[parameter]!r}: remove it from the parameters")

    def _plan_clocks(self) -> None:
        """FMI 3 clocks: which components have them, the clock connections, and
        where clocked values live (they are set and fetched at ticks only)."""
        self.clocks = {}          # component -> [Variable] of its input and output clocks
        self.clock_links = []     # (source component, clock, target component, clock)
        self.clocked = {}         # "comp.var" of a clocked input or output -> its Variable
        for name, model in self.system.components.items():
            clocks = [v for v in model.variables.values()
                      if v.type == "clock" and v.causality in ("input", "output")]
            if not clocks:
                continue
            for var in clocks:
                if var.causality == "input" and var.interval_variability not in CLOCK_KINDS:
                    raise ConfigurationError(
                        f"component '{name}' ({model.path}): clock {var.name} is a "
                        f"{var.interval_variability} clock, which cosim does not schedule "
                        f"(it runs input clocks that are {', '.join(CLOCK_KINDS)})")
            if not model.has_event_mode:
                raise ConfigurationError(
                    f"component '{name}' ({model.path}): it has clocks "
                    f"({', '.join(v.name for v in clocks)}) but no event mode (hasEventMode), "
                    "which co-simulation clocks need")
            self.clocks[name] = clocks
            ticking = {v.name for v in clocks}
            for var in model.variables.values():
                if var.clocks and var.causality in ("input", "output"):
                    if not set(var.clocks) & ticking:
                        continue
                    reference = self.system.reference(name, var.name)
                    if var.type not in LOOP_TYPES:
                        raise ConfigurationError(f"{reference}: clocked {var.type} values are "
                                                 "not supported")
                    self.clocked[reference] = var

    def clocked_slots(self, name: str) -> tuple[str, list[int]]:
        """(group, slots) of a clocked value: an output is fetched into them at its
        clock's ticks, an input is read from them (from its source)."""
        if name in self.source_slot:
            return self.source_slot[name]
        if name in self.connected_inputs:
            return self.source_slot[self.connected_inputs[name]]
        component, var = self.variable(name)
        if var.causality != "output":
            raise ConfigurationError(f"{name} is a clocked input; its value is set at its "
                                     "clock's ticks from the output connected to it")
        slots = [self._new_slot(var.type) for _ in range(var.size)]
        self.source_slot[name] = (var.type, slots)
        self.clocked_outputs[self.index[component]].append(
            (var.clocks, var.type, var.value_reference, slots))
        return var.type, slots

    def _new_slot(self, group: str) -> int:
        slot = self.slot_counts[group]
        self.slot_counts[group] += 1
        return slot

    def variable(self, name):
        """(component, Variable) of a reference to a component's variable (any
        form :meth:`cosim.System.split` reads); ConfigurationError if unknown."""
        try:
            component, var = self.system.resolve(name)
        except CosimError as exc:
            raise ConfigurationError(str(exc)) from None
        if component not in self.index:
            raise ConfigurationError(f"{name!r} is a port; it has no value of its own")
        return component, var

    def port(self, name) -> tuple[str, dict] | tuple[None, None]:
        """(name, entry) of a port of the system in ``port_map``, or (None, None)."""
        try:
            key = paths.text(name)
        except CosimError as exc:
            raise ConfigurationError(str(exc)) from None
        entry = self.system.port_map.get(key)
        return (key, entry) if entry is not None else (None, None)

    def key(self, name) -> str:
        """The one text of a variable or port reference: its column name in results."""
        port, _ = self.port(name)
        if port is not None:
            return port
        component, var = self.variable(name)
        return self.system.reference(component, var.name)

    def leaf_of(self, name) -> tuple[str, float, float]:
        """The leaf variable behind a name, and the transformation from it (for output ports)."""
        _, entry = self.port(name)
        if entry is None:
            return name, 1.0, 0.0
        if entry["kind"] != "output":
            raise ConfigurationError(f"{name!r} is an input port; record the inputs it drives")
        return entry["source"], entry["scale"], entry["shift"]

    def _recorded_names(self, record):
        if record is None:
            names = [self.system.reference(c, v.name) for c, model in self.system.components.items()
                     for v in model.outputs if v.type in LOOP_TYPES]
            return names + [p for p, e in self.system.port_map.items() if e["kind"] == "output"]
        names = [record] if isinstance(record, str) else list(record)
        for name in names:
            var = self.variable(self.leaf_of(name)[0])[1]
            if var.type not in LOOP_TYPES:
                raise ConfigurationError(f"record: {name} is {var.type}; only "
                                         f"{LOOP_TYPES_TEXT} values can be recorded")
        # Two spellings of one variable ("it's.y", "'it''s'.y") are one column, where first given.
        return list(dict.fromkeys(self.key(name) for name in names))


@dataclass(frozen=True)
class Snapshot:
    """The state of a :class:`Simulation` at ``time`` (see :meth:`Simulation.snapshot`)."""

    time: float
    step_index: int
    values: bytes
    states: list
    owner: int
    history: bytes | None = None
    inputs: bytes | None = None      # the values last set to the FMUs' inputs


@dataclass(frozen=True)
class ComponentStats:
    """What the master did with one component during a run.

    ``steps`` counts do-step calls (rejected ones included), ``rejected``
    the steps thrown away by the step-size control, ``rollbacks`` the states
    restored, ``loop_iterations`` the algebraic-loop sweeps it took part in,
    ``step_time`` the seconds spent in its do step (measured only when the
    simulation was started with ``profile=True``; 0 otherwise), and
    ``newton_solves`` the times a loop it is in was solved by Newton's method.
    For FMI 3 FMUs, ``events`` counts the events handled in event mode and
    ``early_returns`` the fmi3DoStep calls that ended before the communication
    point (each stepped on from where it stopped); rejected steps included.
    """

    steps: int
    rejected: int
    rollbacks: int
    loop_iterations: int
    step_time: float
    events: int = 0
    early_returns: int = 0
    newton_solves: int = 0


class Simulation:
    """A system instantiated, initialized and ready to step.

    Create it with :meth:`cosim.System.start` (same options, keyword-only).
    Call :meth:`step`, :meth:`run_until` or :meth:`run`, read and write
    values with :meth:`get` and :meth:`set`, and finish with :meth:`stop`,
    which frees every instance and returns the :class:`~cosim.results.Result`.
    It is also a context manager that stops on exit.

    Parameters
    ----------
    system : cosim.System
    step_size : float
        Communication step in seconds, any positive finite value; point n is
        ``start_time + n*step_size`` (as in fmpy), never accumulated.  With
        ``variable_step``, the first step tried.
    stop_time : float or None
        End of the run; None lets :meth:`step` go on without limit.
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
        Time every do step of every component (see :attr:`stats`).
    realtime : bool or float
        Pace the run to the wall clock: True for real time, a number for that
        real-time factor (simulation seconds per wall second).  :meth:`step`,
        :meth:`run_until` and :meth:`run` then take one communication step at
        a time and wait before going on until the point reached is due (see
        :class:`cosim.live.pacing.Pacer`).  The schedule is anchored at the
        first paced step and kept across calls, so time spent between calls
        counts; :meth:`restore`, :meth:`load_state` and a RealtimeOverrun
        anchor it again.  Fixed step only.  Rows reach :attr:`result` and the
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

    Raises
    ------
    ConfigurationError, AlgebraicLoopError, ModelError, FmiCallError, RealtimeOverrun
    """

    def __init__(self, system, *, step_size: float, stop_time: float | None = None,
                 start_time: float = 0.0, algorithm: str = "jacobi",
                 output_interval: float | None = None, record=None, output_file=None,
                 logging_on: bool = False, threads: int | None = None,
                 extrapolation: str = "zoh", step_multiples: dict | None = None,
                 variable_step: bool = False, min_step: float | None = None,
                 max_step: float | None = None, rtol: float = 1e-4, atol: float = 1e-6,
                 loop_tolerance: float = 1e-10, loop_max_iterations: int = 100,
                 profile: bool = False, realtime: bool | float = False, overrun: str = "skip",
                 max_lateness: float | None = None, tolerance: float | None = None):
        if algorithm not in ALGORITHMS:
            raise ConfigurationError(f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                                     f"got {algorithm!r}")
        if extrapolation not in EXTRAPOLATIONS:
            raise ConfigurationError(f"extrapolation must be one of {', '.join(EXTRAPOLATIONS)}, "
                                     f"got {extrapolation!r}")
        grid = time_grid(start_time=start_time, step_size=step_size, stop_time=stop_time,
                         output_interval=output_interval, variable_step=variable_step,
                         min_step=min_step, max_step=max_step)
        for name, value in (("rtol", rtol), ("atol", atol), ("loop_tolerance", loop_tolerance),
                            ("tolerance", 1.0 if tolerance is None else tolerance)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0
                                               and math.isfinite(value)):
                raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
        self.tolerance = tolerance
        if not isinstance(loop_max_iterations, int) or loop_max_iterations < 1:
            raise ConfigurationError(f"loop_max_iterations must be a positive integer, "
                                     f"got {loop_max_iterations!r}")
        self.start_time, self.stop_time, self.step_size = start_time, stop_time, step_size
        self._grid = grid
        # How the master couples the components, for runs forked from this one.
        self.coupling = {"algorithm": algorithm, "extrapolation": extrapolation,
                         "step_multiples": step_multiples, "loop_tolerance": loop_tolerance,
                         "loop_max_iterations": loop_max_iterations, "tolerance": tolerance}
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigurationError(f"threads must be a positive integer or None, got {threads!r}")
        if threads is not None and threads > 1 and algorithm != "jacobi":
            raise ConfigurationError("parallel stepping (threads > 1) needs algorithm='jacobi'")
        factor = _realtime_factor(realtime)
        check_policy(overrun)
        if factor is not None and variable_step:
            raise ConfigurationError("realtime runs take fixed communication steps, one at a time; "
                                     "they cannot be combined with variable_step")
        self._pacer = None if factor is None else Pacer(
            step_size=step_size, factor=factor, overrun=overrun, max_lateness=max_lateness)
        self._reanchor = True
        self.composed = system
        self.system = system = flatten(system)
        if not system.components:
            raise ConfigurationError(f"system '{system.name}' has no components")
        multiples = self._check_multiples(step_multiples or {}, variable_step)
        order = execution_order(system)
        self._plan = plan = _Plan(system, record)
        if plan.clocks:
            threads = self._check_clocked(plan, order, algorithm=algorithm, threads=threads,
                                          variable_step=variable_step, multiples=multiples)
        self._clock_index = {}
        self._runtimes: list = []
        self._libraries: dict = {}
        self._writer = None
        self._stopped = False
        self._stats = None
        self.result = Result(plan.column_names, arrays=plan.arrays,
                             types=[group for group, _ in plan.columns],
                             units=plan.column_units, descriptions=plan.column_descriptions)
        self._core = Core(len(plan.names), [plan.slot_counts[g] for g in LOOP_TYPES])
        try:
            self._instantiate(logging_on)
            position = {plan.index[n]: j for j, n in enumerate(order)}
            self._build_ports(extrapolation, algorithm, position)
            for name, multiple in multiples.items():
                self._core.set_multiple(plan.index[name], multiple)
            self._add_loops(order)
            self._core.loop_tolerance = loop_tolerance
            self._core.loop_max_iterations = loop_max_iterations
            self._core.profile = profile
            self._core.configure(algorithm=algorithm, order=[plan.index[n] for n in order],
                                 grid=grid, columns=plan.columns)
            self.variable_step = variable_step and self._can_vary_step()
            if self.variable_step:
                for runtime in self._runtimes:      # rejected steps set earlier states
                    runtime.restores_states(True)
                self._core.configure_variable(grid, rtol=rtol, atol=atol,
                                              estimated=plan.exchanged_float64)
            if output_file is not None:
                self._writer = writer_for(output_file)
                self._writer.start(plan.column_names, types=self.result.types,
                                   units=plan.column_units,
                                   descriptions=plan.column_descriptions)
            self._initialize([plan.index[n] for n in order])
            cores = len(os.sched_getaffinity(0))
            # Only FMU units step in parallel; Python-backed ones stay on this thread.
            self._fmu_units = [k for k, r in enumerate(self._runtimes) if isinstance(r, Instance)]
            # Calibration times unpaced steps; a real-time run keeps to one thread
            # unless told otherwise.
            self._calibrating = threads is None and algorithm == "jacobi" and cores > 1 \
                and len(self._fmu_units) > 1 and not self.variable_step and self._pacer is None
            self._core.threads = threads or 1
            self._cores = cores
        except BaseException as exc:
            self._release(reason=_failure_reason(exc) if isinstance(exc, CosimError) else None)
            if isinstance(exc, (FmiCallError, AlgebraicLoopError, SimulationTerminated)):
                exc.partial_result = self.result
            raise

    # -- set-up ---------------------------------------------------------------------

    def _check_multiples(self, multiples: dict, variable_step: bool) -> dict:
        for name, multiple in multiples.items():
            if name not in self.system.components:
                raise ConfigurationError(f"step_multiples: no component {name!r} in system "
                                         f"'{self.system.name}'")
            if not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1:
                raise ConfigurationError(f"step_multiples: {name} must step every whole number "
                                         f">= 1 of base steps, got {multiple!r}")
        if variable_step and any(m > 1 for m in multiples.values()):
            raise ConfigurationError("step_multiples need a fixed base step; they cannot be "
                                     "combined with variable_step")
        return multiples

    @staticmethod
    def _check_clocked(plan, order, *, algorithm, threads, variable_step, multiples):
        """What clocks rule out; returns the threads to use (one: ticks pass between units)."""
        if variable_step:
            raise ConfigurationError(f"components {', '.join(plan.clocks)} have FMI 3 clocks, "
                                     "whose schedule a rolled-back step cannot restore; "
                                     "variable_step cannot be used with them")
        slow = [name for name in plan.clocks if multiples.get(name, 1) > 1]
        if slow:
            raise ConfigurationError(f"step_multiples: {', '.join(slow)} have FMI 3 clocks and "
                                     "step at every base step")
        if threads is not None and threads > 1 and plan.clock_links:
            raise ConfigurationError("clock connections pass ticks from unit to unit within a "
                                     "step; they need threads=1")
        # A tick passes to its target in the same step: the source must step first.
        position = ({n: j for j, n in enumerate(order)} if algorithm == "gauss-seidel"
                    else plan.index)
        for source, clock, target, target_clock in plan.clock_links:
            if position[source] >= position[target]:
                raise ConfigurationError(
                    f"clock connection {source}.{clock} -> {target}.{target_clock}: {target} "
                    f"steps before {source} ({algorithm}), so it would miss the ticks of this "
                    "step; add the source component first or use algorithm='gauss-seidel'")
        return 1 if plan.clock_links else threads

    def _setup_clocks(self) -> None:
        """Give the core every clock (in initialization mode, where FMUs tell the
        intervals and shifts not in their description), the clocked values and
        the clock connections, and fetch the clocked outputs' initial values."""
        plan, core = self._plan, self._core
        start = round(self.start_time * 1e9)        # clock ticks are scheduled in nanoseconds
        index = {}
        for name, clocks in plan.clocks.items():
            k = plan.index[name]
            runtime = self._runtimes[k]
            core.set_clocks(k, len(clocks))
            for i, var in enumerate(clocks):
                index[name, var.name] = i
                kind = ("output" if var.causality == "output" else
                        "triggered" if var.interval_variability == "triggered" else "timed")
                if kind != "timed":
                    core.add_clock(k, i, var.value_reference, kind)
                    continue
                interval, shift, query = self._clock_timing(name, runtime, var)
                first = 1 if var.interval_variability == "changing" else 0
                core.add_clock(k, i, var.value_reference, "timed", query=query,
                               base=start + round(shift * 1e9), interval=interval, first=first)
            for table, inputs in ((plan.clocked_inputs, True), (plan.clocked_outputs, False)):
                for clocks_of, group, vr, slots in table.get(k, ()):
                    for clock in clocks_of:
                        if (name, clock) in index:
                            core.set_clocked(k, index[name, clock], group, [vr], slots,
                                             inputs=inputs)
        for source, clock, target, target_clock in plan.clock_links:
            core.connect_clock(plan.index[source], index[source, clock], plan.index[target],
                               index[target, target_clock])
        for name in plan.clocks:
            self._check(core.pull_clocked(plan.index[name]))
        self._clock_index = index

    @staticmethod
    def _clock_timing(name: str, runtime, var) -> tuple[float, float, bool]:
        """(interval, shift, whether to follow interval changes) of a time-based
        input clock: from the description where it gives them, else from the FMU."""
        kind = var.interval_variability
        query = kind == "changing" or (kind == "tunable" and var.interval is None)
        if var.interval is not None and kind != "changing":
            interval, shift = var.interval, var.shift or 0.0
        else:
            interval = float(runtime.clock_intervals([var.value_reference])[0][0])
            shift = 0.0 if kind == "changing" else float(
                runtime.clock_shifts([var.value_reference])[0])
        if not (interval > 0 and math.isfinite(interval)) or not (shift >= 0 and math.isfinite(shift)):
            raise ConfigurationError(f"component '{name}': clock {var.name} has interval "
                                     f"{interval!r} s and shift {shift!r} s; they must be > 0 "
                                     "and >= 0")
        return interval, shift, query

    def _can_vary_step(self) -> bool:
        """Whether every component can roll back and take steps of any size; warns if not."""
        for name, runtime in zip(self._plan.names, self._runtimes):
            model = self._model(name, runtime)
            if isinstance(runtime, ModelExchangeInstance):
                reason = ("it is a model exchange component, integrated in Python outside the "
                          "native loop, which cannot roll back")
            elif not isinstance(runtime, Instance):
                reason = "it runs outside the native loop and cannot roll back"
            elif not model.can_get_and_set_state:
                reason = ("it cannot save and restore its state "
                          f"({self._lacking(runtime, model, STATE_FUNCTIONS, 'GetAndSet')})")
            elif not model.can_handle_variable_step:
                reason = "it cannot take steps of varying size (canHandleVariableCommunicationStepSize)"
            else:
                continue
            log.warning("variable_step: component '%s' (%s): %s; running with the fixed step "
                        "%g s instead", name, model.name, reason, self.step_size)
            return False
        return True

    def _add_loops(self, order: list[str]) -> None:
        """Give the core every algebraic loop, with the values exchanged inside it:
        float64 ones to solve for, int32 and bool ones that must settle."""
        plan = self._plan
        position = {name: j for j, name in enumerate(order)}
        self._loops = algebraic_loops(self.system)
        for variables in self._loops:
            inside = set(variables)
            members = sorted({self.system.split(v)[0] for v in variables}, key=position.get)
            sources = sorted({c.source for c in self.system.connection_details
                              if c.source in inside and c.target in inside})
            slots, discrete, discrete_names = [], [], []
            for v in sources:
                group, source_slots = plan.source_slot[v]
                if group == "float64":
                    slots += source_slots
                    continue
                discrete += [(group, slot) for slot in source_slots]
                discrete_names += element_names(v, self._plan.variable(v)[1].shape)
            self._core.add_loop([plan.index[m] for m in members], slots, discrete=discrete,
                                labels=(members, [plan.slot_names[slot] for slot in slots],
                                        discrete_names))

    def _instantiate(self, logging_on: bool) -> None:
        for k, name in enumerate(self._plan.names):
            source = self.system.source(name)
            if isinstance(source, PythonComponent):
                runtime = copy.deepcopy(source)     # the system keeps a pristine prototype
                self._core.add_python(k, runtime)
            elif is_remote(source):
                runtime = source.open(name)
                self._core.add_python(k, runtime)
            else:
                model = self.system.model(name)
                key = (str(source), model.interface)
                if key not in self._libraries:
                    self._libraries[key] = load_fmu(source, model=model)
                archive, library = self._libraries[key]
                if model.interface == MODEL_EXCHANGE:
                    # Integrated by a solver in Python between communication points.
                    runtime = ModelExchangeInstance(archive, library, name,
                                                    solver=self.system.solver(name),
                                                    logging_on=logging_on)
                    self._core.add_python(k, runtime)
                else:
                    runtime = Instance(archive, library, name, logging_on=logging_on)
                    self._core.add_fmu(k, runtime)
            self._runtimes.append(runtime)

    def _build_ports(self, extrapolation: str, algorithm: str, position: dict) -> None:
        plan = self._plan
        # Under Gauss-Seidel a source earlier in the order has already stepped
        # when its target sets the input: a first-order hold interpolates.
        stepped_first = lambda k, slot: algorithm == "gauss-seidel" and position[
            plan.slot_owner[slot]] < position[k]
        for k in range(len(plan.names)):
            model = self._model(plan.names[k], self._runtimes[k])
            # Output derivatives give first-order holds their slope; only worth
            # fetching when some input follows one.
            slopes = extrapolation == "foh" and model.max_output_derivative_order >= 1
            for table in (plan.inputs, plan.outputs, plan.recorded):
                for group in LOOP_TYPES:
                    entries = [e[1:] for e in table.get(k, ()) if e[0] == group]
                    if not entries:
                        continue
                    vrs = [e[0] for e in entries]
                    # one slot (and scale, shift, hold) per value: arrays give one per element
                    slots = [slot for e in entries for slot in e[1]]
                    if table is not plan.inputs:
                        self._core.set_outputs(k, group, vrs, slots, every_step=table is plan.outputs,
                                               derivatives=slopes and table is plan.outputs)
                        continue
                    scales = [e[2] for e in entries for _ in e[1]]
                    shifts = [e[3] for e in entries for _ in e[1]]
                    plain = all(a == 1.0 and b == 0.0 for a, b in zip(scales, shifts))
                    holds = None
                    if group == "float64" and extrapolation == "foh":
                        holds = ["interpolate" if stepped_first(k, slot) else "extrapolate"
                                 for slot in slots]
                    self._core.set_inputs(k, group, vrs, slots, None if plain else scales,
                                          None if plain else shifts, holds=holds,
                                          derivatives=model.can_interpolate_inputs,
                                          counts=[len(e[1]) for e in entries])

    def _start_values(self, name: str, runtime) -> None:
        """Before initialization: set the values the user gave, structural
        parameters first, in configuration mode where the FMU has it (else with
        the others, in the instantiated state).  An FMI 2/3 binary holds its own
        start values, as fmpy and libcosim assume: setting them again makes
        some exporters' FMUs fail, so only :meth:`_missing_starts` sets those it
        turns out not to hold; every other component gets every start value."""
        model = self.system.model(name)
        user = self.system.parameters(name)
        structural = [var for var in model.variables.values()
                      if var.causality == "structuralParameter" and var.name in user]
        if structural and isinstance(runtime, Instance) and runtime.can_configure():
            runtime.enter_configuration_mode()
            self._set_batched(runtime, structural, user)
            runtime.exit_configuration_mode()
            structural = []
        settable = [var for var in model.variables.values()
                    if var.causality in ("parameter", "input") and var.variability != "constant"]
        if _holds_its_starts(runtime):
            settable = [var for var in settable if var.name in user]
        self._set_batched(runtime, structural + settable, user)

    def _missing_starts(self, name: str, runtime) -> None:
        """In initialization mode: set the start values of modelDescription.xml
        that an FMU binary does not hold (some binaries leave parameters unset
        until the importer sets them), with a warning naming them."""
        user = self.system.parameters(name)
        batches = defaultdict(list)
        for var in runtime.model.variables.values():
            if (var.causality in ("parameter", "input") and var.variability != "constant"
                    and var.initial != "calculated" and var.start is not None
                    and var.name not in user and var.type in _COMPARABLE):
                batches[var.type].append(var)
        missing = []
        for type_, variables in batches.items():
            counts = [var.size for var in variables]
            vrs = [v.value_reference for v in variables]
            held = np.asarray(runtime.get(type_, vrs, counts=counts) if any(c != 1 for c in counts)
                              else runtime.get(type_, vrs))
            at = 0
            for var, count in zip(variables, counts):
                start = np.broadcast_to(np.asarray(var.start, dtype=held.dtype).ravel(), (count,))
                if held[at:at + count].tobytes() != start.tobytes():      # bit for bit
                    missing.append(var)
                at += count
        if missing:
            log.warning("component '%s' (%s): its binary does not hold the start values of %s "
                        "that modelDescription.xml declares; cosim sets them", name,
                        runtime.model.name, ", ".join(v.name for v in missing))
            self._set_batched(runtime, missing, {})

    @staticmethod
    def _set_batched(runtime, variables, user: dict) -> None:
        """Set ``variables`` to their values in ``user`` or their start values,
        in one call per type."""
        batches = defaultdict(lambda: ([], [], []))
        for var in variables:
            value = user.get(var.name, var.start)
            if value is None or var.type not in TYPE_CODES:
                continue
            if var.type == "binary" and isinstance(value, str):
                try:
                    value = bytes.fromhex(value)        # a Binary start is written in hex
                except ValueError:
                    raise ModelError(f"{runtime.name}.{var.name}: Binary start value {value!r} "
                                     "is not hex digits") from None
            vrs, values, counts = batches[var.type]
            vrs.append(var.value_reference)
            if var.shape:
                # an array's start lists every element; a single value stands for all
                elements = np.ravel(np.asarray(value, dtype=object))
                values.extend(elements if elements.size == var.size else [elements[0]] * var.size)
            else:
                values.append(value)
            counts.append(var.size)
        for type_, (vrs, values, counts) in batches.items():
            if any(c != 1 for c in counts):
                runtime.set(type_, vrs, values, counts=counts)
            else:
                runtime.set(type_, vrs, values)

    def _tolerance(self, runtime) -> float | None:
        """The relative tolerance handed to ``runtime``'s own solver, if any."""
        if self.tolerance is not None or not isinstance(runtime, Instance):
            return self.tolerance
        tolerance = runtime.model.default_experiment.tolerance
        if tolerance is not None and not (tolerance > 0 and math.isfinite(tolerance)):
            log.warning("%s: the default experiment's tolerance %r is not a positive number; "
                        "the FMU gets none", runtime.model.path, tolerance)
            return None
        return tolerance

    def _initialize(self, order: list[int]) -> None:
        core = self._core
        for name, runtime in zip(self._plan.names, self._runtimes):
            runtime.setup_experiment(self.start_time, self.stop_time, self._tolerance(runtime))
            self._start_values(name, runtime)
            runtime.enter_initialization_mode()
            if _holds_its_starts(runtime):
                self._missing_starts(name, runtime)
        # Every output once, then passes in execution order (set inputs, get
        # outputs) until no exchanged value changes: with no algebraic loop
        # this settles within one pass per component along the longest
        # feedthrough chain, and the last pass leaves every input at its
        # source's final value.
        for k in order:
            self._check(core.pull(k))
        for _ in range(len(order) + 1):
            before = core.buffers()
            for k in order:
                self._check(core.push(k))
                self._check(core.pull(k))
            self._solve_loops()
            if self._settled(before, core.buffers()):
                break
        else:
            log.warning("initial values of system '%s' did not settle in %d passes",
                        self.system.name, len(order) + 1)
        self._setup_clocks()
        for runtime in self._runtimes:
            runtime.exit_initialization_mode()
        core.derivatives_live = True        # FMUs give output derivatives from here on
        for k in order:
            self._check(core.pull(k))
        self._solve_loops()
        self._check(core.record_now())
        self._flush()

    def _solve_loops(self) -> None:
        self._check(self._core.solve_loops())
        if self._core.loop_error is not None:
            error, self._core.loop_error = self._core.loop_error, None
            raise error

    def _settled(self, before: bytes, after: bytes) -> bool:
        """Whether a pass left the exchanged values as they were (within the loop
        tolerance for float64 values when there are algebraic loops to solve)."""
        if before == after or not self._loops:
            return before == after
        n = 8 * max(self._plan.slot_counts["float64"], 1)
        old, new = np.frombuffer(before[:n]), np.frombuffer(after[:n])
        return before[n:] == after[n:] and bool(np.all(
            np.abs(new - old) <= 10 * self._core.loop_tolerance * (1 + np.abs(new))))

    # -- stepping -------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Simulation time of the current communication point (the last one once stopped)."""
        return self._core.time if self._core is not None else self._final_time

    @property
    def step_index(self) -> int:
        """Communication steps taken since the start time."""
        return self._core.step_index if self._core is not None else self._final_step

    @property
    def stats(self) -> dict[str, ComponentStats]:
        """Per component: steps, rejected steps, rollbacks, loop iterations and (when
        profiling) time in do step, since the start.  Also ``result.stats`` once stopped."""
        if self._core is None:
            return self._stats
        return {name: ComponentStats(*entry)
                for name, entry in zip(self._plan.names, self._core.statistics())}

    @property
    def names(self) -> list[str]:
        """Component names."""
        return list(self._plan.names)

    def step(self, n: int = 1) -> float:
        """Take ``n`` communication steps; returns the new time.

        :meth:`step`, :meth:`run_until` and :meth:`run` raise
        SimulationTerminated when a component asks to end the simulation:
        the simulation is then stopped (components terminated and freed), its
        :attr:`result` (also the error's ``partial_result``) holds the rows up
        to there and says who ended it (``terminated_by``, ``end_time``,
        ``end_reason``), and further steps raise ConfigurationError.
        """
        self._require_running()
        if self.variable_step:
            raise ConfigurationError("step(n) counts fixed steps; with variable_step use "
                                     "run_until(time) or run()")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ConfigurationError(f"step(n) takes a whole number of steps, got {n!r}")
        if n < 0:
            raise ConfigurationError(f"cannot step a negative number of steps ({n})")
        if self._core.step_index + n > self._core.n_steps:
            raise ConfigurationError(f"{n} steps from t={self.time:g} s would pass the stop time "
                                     f"{self.stop_time:g} s")
        self._forward(self._core.step_index + n)
        return self.time

    def run_until(self, time: float) -> float:
        """Step until the communication point at or just after ``time``
        (with ``variable_step``: exactly ``time``, or the stop time)."""
        self._require_running()
        time = check_seconds(time, "time")
        if self.variable_step:
            self._advance_variable(max(time, self._core.time))
            return self.time
        self._forward(max(self._grid.step_at_or_after(time), self._core.step_index))
        return self.time

    def run(self, *, progress=None) -> Result:
        """Step to the stop time; ``progress(time, stop_time)`` is called as the run goes.

        Raises SimulationTerminated when a component ends the simulation (see
        :meth:`step`); :func:`simulate` takes that as a normal end.
        """
        self._require_running()
        if self.stop_time is None:
            raise ConfigurationError("run() needs a stop_time; use step() or run_until() instead")
        core = self._core
        if self.variable_step:
            span = core.end_time - core.start_time
            while core.time < core.end_time:
                self._advance_variable(core.time + span / 200 if progress else core.end_time)
                if progress:
                    progress(self.time, self.stop_time)
        elif progress is None or self._pacer is not None:
            self._forward(core.n_steps, progress=progress)
        else:
            slice_ = max(1, core.n_steps // 200)
            while core.step_index < core.n_steps:
                self._advance(min(core.step_index + slice_, core.n_steps))
                progress(self.time, self.stop_time)
        return self.result

    @property
    def threads(self) -> int:
        """Threads the Jacobi loop steps FMUs on (1 = serial)."""
        return self._core.threads if self._core is not None else 1

    def _calibrate(self, until_step: int) -> None:
        """Time serial and parallel stepping on real steps of the run; keep the faster."""
        self._calibrating = False
        core = self._core
        trial = min(2000, (until_step - core.step_index) // 8)
        if trial < 5:
            return

        def timed(threads):
            core.threads = threads
            started = time.perf_counter()
            self._advance(core.step_index + trial)
            return time.perf_counter() - started

        if len(self._fmu_units) < len(self._runtimes):
            # Threads share only the FMUs' work, and their spinning slows the
            # Python-backed units down: try them only if the FMUs' do steps
            # take enough of the step to pay for that.
            profiling = core.profile
            core.profile = True
            before = core.statistics()
            serial = timed(1)
            after = core.statistics()
            core.profile = profiling
            if not profiling:
                core.clear_step_times()
            fmu_time = sum(after[k][4] - before[k][4] for k in self._fmu_units)
            gain = fmu_time * (1 - 1 / self._cores)
            if gain / trial < PARALLEL_MIN_STEP_S or gain < 0.2 * serial:
                core.threads = 1
                return
        else:
            serial = timed(1)
        if serial / trial < PARALLEL_MIN_STEP_S:
            core.threads = 1         # waking threads would cost more than the work they share
            return
        timings = {1: serial, self._cores: timed(self._cores)}
        timings[1] = min(timings[1], timed(1))
        timings[self._cores] = min(timings[self._cores], timed(self._cores))
        core.threads = self._cores if timings[self._cores] < 0.9 * timings[1] else 1
        log.debug("Jacobi on %d thread(s): serial %.3g s, %d threads %.3g s per %d steps",
                  core.threads, timings[1], self._cores, timings[self._cores], trial)

    def _advance(self, until_step: int) -> None:
        if self._calibrating:
            self._calibrate(until_step)
        core = self._core
        while core.step_index < until_step:
            self._outcome(core.run(until_step))

    def _forward(self, until_step: int, *, progress=None) -> None:
        """Fixed steps to ``until_step``, paced to the wall clock in a real-time run."""
        if self._pacer is None:
            self._advance(until_step)
        else:
            self._advance_paced(until_step, progress)

    def _advance_paced(self, until_step: int, progress) -> None:
        """Step one communication point at a time and wait until each is due.

        Under the "skip" policy a caller that is behind steps every point
        already due in one core run, and waits on the first one that is not.
        """
        pacer, core = self._pacer, self._core
        if self._reanchor:
            pacer.resume(self.time)
            self._reanchor = False
        skip = pacer.overrun == "skip"
        flushed = time.perf_counter_ns()
        try:
            while core.step_index < until_step:
                target = min(core.step_index + 1 + (pacer.overdue() if skip else 0), until_step)
                while core.step_index < target:
                    reason = core.run(target)
                    if reason != RUN_DONE:      # a full chunk is flushed, a failure raised
                        self._outcome(reason)
                pacer.wait(self.time)
                if time.perf_counter_ns() - flushed >= REALTIME_FLUSH_NS:
                    self._flush()
                    flushed = time.perf_counter_ns()
                    if progress is not None:
                        progress(self.time, self.stop_time)
        except RealtimeOverrun as exc:
            self._flush()
            exc.partial_result = self.result
            self.result.realtime = exc.stats
            self._reanchor = True       # going on after this starts a new schedule from now
            raise
        self._flush()

    @property
    def pacer(self) -> Pacer | None:
        """The wall-clock schedule of a real-time run (None when not real time)."""
        return self._pacer

    @property
    def realtime_stats(self):
        """:class:`~cosim.live.pacing.RealtimeStats` of a real-time run so far
        (None when not real time); also ``result.realtime`` once stopped."""
        if self._pacer is None:
            return None
        return self._pacer.stats() if not self._stopped else self.result.realtime

    def _advance_variable(self, until: float) -> None:
        core = self._core
        until = min(until, core.end_time)
        while core.time < until:
            self._outcome(core.run_variable(until))

    def _outcome(self, reason: int) -> None:
        """Flush what a core run recorded; raise if it stopped on a failure or
        on a component's request to terminate."""
        self._flush()
        if reason == RUN_FAILED:
            failures = self._core.failures_list()
            # Failures weigh more than a request to terminate in the same step.
            failed = [f for f in failures if f[3] != STEP_TERMINATED]
            if failures and not failed:
                self._end_terminated()
            self._fail(self._error(failed, self._core.time))
        elif reason == RUN_LOOP_FAILED:
            error, self._core.loop_error = self._core.loop_error, None
            self._fail(error)
        elif reason == RUN_TERMINATED:
            self._end_terminated()

    def _end_terminated(self) -> None:
        """Stop the run (terminate and free every component) because FMUs asked
        to end the simulation; the result says so.  Raise SimulationTerminated
        with the result."""
        asked = sorted(self._core.terminations(), key=lambda entry: entry[1])
        names = [self._plan.names[k] for k, _ in asked]
        end = float(self.result.time[-1]) if len(self.result) else None
        error = SimulationTerminated(names[0], asked[0][1], others=tuple(names[1:]), result_end=end,
                                     request=self._runtimes[asked[0][0]].termination_request)
        log.info("%s", error)
        self.stop()
        self.result.terminated_by = error.instances
        self.result.end_time = error.time
        self.result.end_reason = str(error)
        error.partial_result = self.result
        raise error

    def _flush(self) -> None:
        times, rows = self._core.take_rows()
        floats = rows.view(np.float64)      # transformed columns are float64 ones
        for column, (scale, shift) in self._plan.column_transforms.items():
            floats[:, column] = scale * floats[:, column] + shift
        self.result.append(times, rows)
        if self._writer is not None:
            self._writer.append(times, rows)
        for runtime in self._runtimes:
            runtime.drain_log()

    # -- values -------------------------------------------------------------------------

    def variable(self, name: str):
        """The :class:`~cosim.fmi.model.Variable` behind ``"component.variable"`` or a port."""
        return self._plan.variable(self._leaf(name))[1]

    def component_of(self, name) -> str:
        """The component (its path in :attr:`system`, the flattened system) whose
        variable ``name`` reads or, for a port, shows or drives."""
        return self._plan.variable(self._leaf(name))[0]

    def _leaf(self, name):
        _, entry = self._plan.port(name)
        if entry is None:
            return name
        if entry["kind"] == "output":
            return entry["source"]
        if not entry["targets"]:
            raise ConfigurationError(f"input port {name!r} drives nothing")
        return entry["targets"][0][0]

    def _lookup(self, name: str):
        component, var = self._plan.variable(name)
        return self._runtimes[self._plan.index[component]], var

    def get(self, name):
        """Current value of ``"component.variable"`` or of an output port of the
        system; a numpy array of the variable's shape for an FMI 3 array.
        ``name`` is any reference :mod:`cosim.paths` describes: ``'"a.b".c'``
        or ``("a.b", "c")`` for names with dots, ``"DP Controller.y"``."""
        self._require_running()
        leaf, scale, shift = self._plan.leaf_of(name)
        runtime, var = self._lookup(leaf)
        if leaf in self._plan.clocked:
            group, slots = self._plan.clocked_slots(leaf)
            value = self._core.value(group, slots)
            value = value.reshape(var.shape) if var.shape else value[0].item()
            return scale * value + shift if (scale, shift) != (1.0, 0.0) else value
        if var.shape:
            value = runtime.get(var.type, [var.value_reference], counts=[var.size])
            value = value.reshape(var.shape)
        else:
            value = runtime.get(var.type, [var.value_reference])[0]
            value = value.item() if hasattr(value, "item") else value
        return scale * value + shift if (scale, shift) != (1.0, 0.0) else value

    def set(self, name, value) -> None:
        """Set an unconnected input, a tunable parameter, or an input port of the system
        (which sets every input it drives) before the next step.  An FMI 3 array
        takes a sequence of all its elements (nested or flat, row-major).
        ``name`` is a reference as for :meth:`get`."""
        self._require_running()
        for runtime, var, scale, shift in self._settable(name):
            here = value
            if var.type == "float64" and (scale, shift) != (1.0, 0.0):
                here = scale * (np.asarray(value) if np.ndim(value) else value) + shift
            if not var.shape:
                runtime.set(var.type, [var.value_reference], [here])
                continue
            values = np.ravel(np.asarray(here))
            if values.size != var.size:
                raise ConfigurationError(f"{name} is an array of shape {_shape_text(var)} "
                                         f"({var.size} elements); got {values.size} values")
            runtime.set(var.type, [var.value_reference], values, counts=[var.size])

    def tick(self, name: str) -> None:
        """Tick the triggered input clock ``"component.clock"`` at the current
        point: the component handles the tick in an event before its next step."""
        self._require_running()
        component, var = self._plan.variable(name)
        if var.type != "clock" or var.causality != "input" or \
                var.interval_variability != "triggered":
            raise ConfigurationError(f"{name} is not a triggered input clock; only those tick "
                                     "when asked")
        if self._plan.key(name) in {self._plan.system.reference(t, c)
                                    for _, _, t, c in self._plan.clock_links}:
            raise ConfigurationError(f"{name} takes its ticks from a clock connection")
        self._core.tick(self._plan.index[component], self._clock_index[component, var.name])

    def clock_ticks(self, name: str) -> int:
        """How many times the input or output clock ``"component.clock"`` ticked so far."""
        self._require_running()
        component, var = self._plan.variable(name)
        if (component, var.name) not in self._clock_index:
            raise ConfigurationError(f"{name} is not an input or output clock")
        k = self._plan.index[component]
        return self._core.clock_ticks(k)[self._clock_index[component, var.name]]

    def _settable(self, name: str) -> list:
        """[(runtime, Variable, scale, shift)] that setting ``name`` writes, checked."""
        _, entry = self._plan.port(name)
        if entry is not None and entry["kind"] == "input":
            return [(runtime, var, scale * s2, scale * b2 + shift)
                    for target, scale, shift in entry["targets"]
                    for runtime, var, s2, b2 in self._settable(target)]
        runtime, var = self._lookup(name)
        key = self._plan.key(name)
        if var.type == "clock":
            raise ConfigurationError(f"{name} is a clock; tick it with Simulation.tick")
        if key in self._plan.clocked:
            raise ConfigurationError(f"{name} is clocked by {', '.join(var.clocks)}; it takes "
                                     "its value at their ticks from the output connected to it")
        driver = self._plan.connected_inputs.get(key)
        if driver is not None:
            raise ConfigurationError(f"{name} is driven by {driver}; set the source or "
                                     "disconnect it")
        if var.causality == "parameter" and var.variability == "fixed":
            raise ConfigurationError(f"{name} is a fixed parameter; give it in the system "
                                     "(add(..., parameters=...)) before starting")
        if var.causality == "structuralParameter":
            raise ConfigurationError(f"{name} is a structural parameter; give it in the system "
                                     "(add(..., parameters=...)) before starting")
        if var.causality not in ("input", "parameter"):
            raise ConfigurationError(f"{name} is an {var.causality}; only inputs and tunable "
                                     "parameters can be set")
        return [(runtime, var, 1.0, 0.0)]

    def writer(self, names):
        """A function ``write(values)`` that sets ``names`` (as :meth:`set` would)
        from a sequence of floats, in one batched call per component and type.

        Everything is checked here, once, so that live data and other callers
        that set the same inputs at every step pay only for the FMI calls.
        Integer and boolean targets get the value rounded (booleans: nonzero).
        """
        items = []
        for i, name in enumerate(names):
            items += [(i, name, runtime, var, scale, shift)
                      for runtime, var, scale, shift in self._settable(name)]
        plan = self._batched(items, "written")
        require = self._require_running

        def write(values) -> None:
            require()
            values = np.asarray(values, dtype=float)
            for runtime, type_, index, vrs, scales, shifts in plan:
                v = values[index] * scales + shifts
                if type_ == "bool":
                    v = v != 0
                elif type_ != "float64":
                    v = np.rint(v)
                runtime.set(type_, vrs, v)

        return write

    def reader(self, names):
        """A function ``read()`` returning the current values of ``names``
        (variables or output ports) as a float64 array, batched like :meth:`writer`."""
        items = []
        for i, name in enumerate(names):
            leaf, scale, shift = self._plan.leaf_of(name)
            runtime, var = self._lookup(leaf)
            items.append((i, name, runtime, var, scale, shift))
        plan = self._batched(items, "read")
        count = len(names)
        require = self._require_running

        def read() -> np.ndarray:
            require()
            out = np.empty(count)
            for runtime, type_, index, vrs, scales, shifts in plan:
                out[index] = np.asarray(runtime.get(type_, vrs), dtype=float) * scales + shifts
            return out

        return read

    @staticmethod
    def _batched(items, verb: str) -> list:
        """Group (index, name, runtime, Variable, scale, shift) by component and type."""
        groups: dict = {}
        for i, name, runtime, var, scale, shift in items:
            if var.type not in LOOP_TYPES:
                raise ConfigurationError(f"{name} is {var.type}; only "
                                         f"{LOOP_TYPES_TEXT} values can be {verb}")
            if var.shape:
                raise ConfigurationError(f"{name} is an array of shape {_shape_text(var)}; "
                                         f"only scalars can be {verb} in a batch (use get/set)")
            group = groups.setdefault((id(runtime), var.type), (runtime, var.type, [], [], [], []))
            for part, item in zip(group[2:], (i, var.value_reference, scale, shift)):
                part.append(item)
        return [(runtime, type_, np.asarray(index), np.asarray(vrs, dtype=np.uint32),
                 np.asarray(scales), np.asarray(shifts))
                for runtime, type_, index, vrs, scales, shifts in groups.values()]

    # -- state --------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Save the state of every component and of the loop at the current time.

        Raises ModelError naming a component that cannot save its state.
        """
        self._require_running()
        for name, runtime in zip(self._plan.names, self._runtimes):
            model = self._model(name, runtime)
            if not model.can_get_and_set_state:
                raise ModelError(f"component '{name}' ({model.name}) cannot save its state "
                                 f"({self._lacking(runtime, model, STATE_FUNCTIONS, 'GetAndSet')})")
        states = [runtime.get_state() for runtime in self._runtimes]
        return Snapshot(self.time, self._core.step_index,
                        self._core.buffers(), states, id(self), self._core.history(),
                        self._core.inputs_set())

    def _model(self, name: str, runtime):
        # An FMU's loaded model has its capabilities corrected to its binary.
        return runtime.model if isinstance(runtime, FMU_RUNTIMES) else self.system.model(name)

    @staticmethod
    def _lacking(runtime, model, functions: dict, capability: str) -> str:
        """Why a capability is off: the functions the binary lacks, else the flag."""
        missing = [f for f in functions.get(model.fmi_version, ())
                   if isinstance(runtime, FMU_RUNTIMES) and f in runtime.library.missing]
        if missing:
            return f"the FMU binary does not export {', '.join(missing)}"
        if model.fmi_version == "1.0":
            return "FMI 1.0 cannot save state"
        state = "FMUstate" if model.fmi_version == "2.0" else "FMUState"
        return f"can{capability}{state} is false"

    def restore(self, snapshot: Snapshot) -> None:
        """Return every component and the loop to a snapshot of this simulation.

        Recorded results after the snapshot's time are dropped from
        :attr:`result`; a CSV ``output_file`` keeps the rows as they were
        computed, so its time column goes back at the restore.
        """
        self._require_running()
        if snapshot.owner != id(self):
            raise ConfigurationError("the snapshot was taken from another simulation; "
                                     "load a saved state with load_state()")
        for runtime, state in zip(self._runtimes, snapshot.states):
            runtime.set_state(state)
        self._flush()
        self._core.rewind(snapshot.step_index, snapshot.time, snapshot.values, snapshot.history,
                          inputs=snapshot.inputs)
        self.result.truncate(snapshot.time)
        self._reanchor = True       # the paced schedule cannot go back in time

    def save_state(self) -> bytes:
        """The current state as bytes (FMI serialized FMU states), to start other
        simulations of the same system from with :meth:`load_state`.

        Raises ModelError naming a component whose state cannot be serialized.
        """
        snapshot = self.snapshot()
        states = []
        for name, runtime, state in zip(self._plan.names, self._runtimes, snapshot.states):
            model = self._model(name, runtime)
            if isinstance(runtime, FMU_RUNTIMES) and model.can_serialize_state:
                states.append(("fmu", runtime.serialize_state(state)))
            elif isinstance(runtime, PythonComponent):
                states.append(("python", state))
            elif isinstance(runtime, FMU_RUNTIMES):
                raise ModelError(f"component '{name}' ({model.name}) cannot serialize its state "
                                 f"({self._lacking(runtime, model, SERIALIZE_FUNCTIONS, 'Serialize')})")
            else:
                raise ModelError(f"component '{name}' ({model.name}) cannot serialize its state")
        return pickle.dumps({"format": STATE_FORMAT, "names": self._plan.names,
                             "start_time": self.start_time, "step_size": self.step_size,
                             "time": snapshot.time, "step_index": snapshot.step_index,
                             "history": snapshot.history,
                             "values": snapshot.values, "inputs": snapshot.inputs,
                             "states": states,
                             "record": list(self.result.names)})

    def load_state(self, data: bytes) -> None:
        """Continue from a state saved by :meth:`save_state` in a simulation of the
        same system (same components, start time and step size).  The result
        starts again at the state's time.  Load states from trusted sources only
        (they are pickled).

        Raises ConfigurationError if the state belongs to another system or set-up.
        """
        self._require_running()
        try:
            saved = pickle.loads(data)
            ok = isinstance(saved, dict) and saved.get("format") == STATE_FORMAT
        except Exception:       # noqa: BLE001 - any unpickling failure means "not a state"
            ok = False
        if not ok:
            raise ConfigurationError("the data is not a state saved by Simulation.save_state")
        if saved["names"] != self._plan.names:
            raise ConfigurationError(f"the saved state is of components {saved['names']}, "
                                     f"this simulation has {self._plan.names}")
        if (saved["start_time"], saved["step_size"]) != (self.start_time, self.step_size):
            raise ConfigurationError(
                f"the state was saved with start_time={saved['start_time']} and step_size="
                f"{saved['step_size']}; this simulation has {self.start_time} and {self.step_size}")
        if saved["time"] > self._core.end_time:
            raise ConfigurationError(f"the state's time {saved['time']} s is after the stop time")
        if saved.get("record", self.result.names) != self.result.names:
            raise ConfigurationError(
                f"the state was saved by a simulation recording {saved['record']}; this one "
                f"records {self.result.names}: start it with the same record= list")
        states = [runtime.deserialize_state(blob) if kind == "fmu" else blob
                  for runtime, (kind, blob) in zip(self._runtimes, saved["states"])]
        self.restore(Snapshot(saved["time"], saved["step_index"], saved["values"],
                              states, id(self), saved["history"], saved.get("inputs")))
        self.result.truncate(-math.inf)          # earlier rows belong to another run
        self._check(self._core.record_now())
        self._flush()

    # -- errors and shutdown ----------------------------------------------------------

    def _check(self, failures) -> None:
        if failures:
            raise self._error(failures, self._core.time)

    def _error(self, failures, time: float) -> CosimError:
        errors = []
        python_errors = dict(self._core.python_errors)
        self._core.python_errors.clear()
        cause = None
        for unit, stage, group, status, call in failures:
            runtime = self._runtimes[unit]
            name = self._plan.names[unit]
            if isinstance(runtime, Instance):
                version = {"1.0": 1, "2.0": 2}.get(runtime.model.fmi_version, 3)
                if STAGES[stage] != "step":
                    function = function_name(version, STAGES[stage].capitalize(), TYPE_CODES[group])
                else:
                    function = EVENT_CALLS[call] if version == 3 else fmi_name(version, "DoStep")
                message = runtime._take_error()
                if status == FATAL:
                    runtime.abandon()
            else:
                cause = python_errors.get(unit)
                if isinstance(cause, FmiCallError):     # a remote twin says what failed
                    errors.append(cause)
                    continue
                function = f"{type(runtime).__name__}.{'do_step' if STAGES[stage] == 'step' else STAGES[stage]}"
                message = f"{type(cause).__name__}: {cause}" if cause is not None else ""
            errors.append(FmiCallError(function, name, status, time, message))
        error = FmiCallError.combine(errors)
        if error is not cause:
            error.__cause__ = cause
        return error

    def _fail(self, error: FmiCallError) -> None:
        self._flush()
        error.partial_result = self.result
        self._release(reason=_failure_reason(error))
        raise error

    def _require_running(self) -> None:
        if self._stopped:
            raise ConfigurationError(f"the simulation has stopped: {self.result.end_reason}")

    def _release(self, *, reason: str | None = None) -> None:
        """Free every instance and close files; safe to call more than once.
        ``reason`` says why the run ended (default: the stop time was reached,
        or the caller stopped it before)."""
        if self._stopped:
            return
        self._stopped = True
        self._final_time = self._core.time
        self._final_step = self._core.step_index
        self._stats = self.stats
        self.result.stats = self._stats
        self.result.end_time = self._final_time
        self.result.end_reason = reason or (
            "reached the stop time" if self._core.time >= self._core.end_time
            else f"stopped at t={self._final_time:g} s")
        if self._pacer is not None:
            self.result.realtime = self._pacer.stats()
        self._core.free_states()
        for runtime in self._runtimes:
            try:
                runtime.free()
            except CosimError as exc:
                log.warning("freeing %s: %s", runtime, exc)
        self._runtimes = []
        self._core = None
        for archive, _ in self._libraries.values():
            archive.close()
        self._libraries = {}
        if self._writer is not None:
            self._writer.close()

    def stop(self) -> Result:
        """Terminate and free every component; returns the result."""
        if not self._stopped:
            errors = []
            for name, runtime in zip(self._plan.names, self._runtimes):
                try:
                    runtime.terminate()
                except CosimError as exc:
                    errors.append(f"{name}: {exc}")
            self._flush()
            self._release()
            if errors:
                log.warning("terminate failed for %s", "; ".join(errors))
        return self.result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _failure_reason(error: CosimError) -> str:
    """Why a run ended, for ``Result.end_reason``: the first line of its error."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return first if isinstance(error, SimulationTerminated) else f"failed: {first}"


def simulate(system, *, stop_time: float, step_size: float, progress=None, **options) -> Result:
    """Run ``system`` from its start time to ``stop_time`` and return the result.

    ``options`` are the keyword options of :class:`Simulation`;
    ``progress(time, stop_time)`` is called as the run goes.  When a component
    fails, the FmiCallError names it, the function and the time, and carries
    ``partial_result`` (also on disk when ``output_file`` is given).

    A component that asks to end the simulation (FMI 3 terminateSimulation,
    FMI 2 a discarded step with fmi2Terminated) ends the run normally, as
    in fmpy: the result holds the rows up to there, and its
    ``terminated_by``, ``end_time`` and ``end_reason`` say who ended it, when
    and why.  Asking during initialization, before any result exists,
    raises SimulationTerminated.
    """
    sim = Simulation(system, stop_time=stop_time, step_size=step_size, **options)
    with sim:
        try:
            sim.run(progress=progress)
        except SimulationTerminated:
            pass        # a normal end, described by the result
    return sim.result
