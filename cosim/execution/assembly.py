"""Building the native loop of a planned system: instances, ports, loops, clocks.

Each function reads the :class:`~cosim.execution.plan.Plan` and gives the
:class:`~cosim.master._core.Core` what it describes; none of them steps.
"""

from __future__ import annotations

import copy
import logging
import math

from cosim.analysis import algebraic_loops
from cosim.component import PythonComponent, Runtime, RuntimeSource
from cosim.errors import ConfigurationError
from cosim.execution.plan import LOOP_TYPES, Plan, element_names
from cosim.fmi._binding import Instance
from cosim.fmi.loader import load_fmu
from cosim.fmi.capabilities import STATE_FUNCTIONS
from cosim.fmi.model import MODEL_EXCHANGE
from cosim.fmi.model_exchange import ModelExchangeInstance

__all__ = ["FMU_RUNTIMES", "add_loops", "build_ports", "can_vary_step", "check_clocked",
           "instantiate", "lacking", "model_of", "setup_clocks"]

log = logging.getLogger("cosim")

# Runtimes backed by a loaded FMU binary, whose model is corrected to that binary.
FMU_RUNTIMES = (Instance, ModelExchangeInstance)


def model_of(system, name: str, runtime):
    """The model of component ``name``: an FMU's loaded model has its
    capabilities corrected to its binary."""
    return runtime.model if isinstance(runtime, FMU_RUNTIMES) else system.model(name)


def lacking(runtime, model, functions: dict, capability: str) -> str:
    """Why a capability is off: the functions the binary lacks, else the flag."""
    missing = [f for f in functions.get(model.fmi_version, ())
               if isinstance(runtime, FMU_RUNTIMES) and f in runtime.library.missing]
    if missing:
        return f"the FMU binary does not export {', '.join(missing)}"
    if model.fmi_version == "1.0":
        return "FMI 1.0 cannot save state"
    state = "FMUstate" if model.fmi_version == "2.0" else "FMUState"
    return f"can{capability}{state} is false"


def instantiate(system, plan: Plan, core, libraries: dict, *, logging_on: bool,
                isolation=None) -> list:
    """One runtime per component, in plan order, added to ``core``; FMU binaries
    are loaded once per source, interface and isolation into ``libraries``.
    ``isolation`` (:class:`~cosim.execution.options.Isolation`) says whether
    every co-simulation FMU runs in a worker process, and the call timeout."""
    isolate_all = isolation is not None and isolation.isolate
    timeout = isolation.call_timeout if isolation is not None else None
    memory = isolation.memory_limit if isolation is not None else None
    for option, value in (("call_timeout", timeout), ("memory_limit", memory)):
        if value is not None and not isolate_all and not any(map(system.isolated, plan.names)):
            raise ConfigurationError(f"{option} bounds isolated components, and none is "
                                     "isolated: add isolate=True (to the run or to System.add)")
    runtimes: list[Runtime] = []
    for k, name in enumerate(plan.names):
        source = system.source(name)
        runtime: Runtime
        if isinstance(source, PythonComponent):
            runtime = copy.deepcopy(source)     # the system keeps a pristine prototype
            core.add_python(k, runtime)
        elif isinstance(source, RuntimeSource):
            runtime = source.open(name)
            core.add_python(k, runtime)
        else:
            model = system.model(name)
            isolate = model.interface != MODEL_EXCHANGE and (isolate_all or system.isolated(name))
            key = (str(source), model.interface, isolate)
            if key not in libraries:
                libraries[key] = load_fmu(source, model=model, isolate=isolate,
                                          call_timeout=timeout if isolate else None,
                                          memory_limit=memory if isolate else None)
            archive, library = libraries[key]
            if model.interface == MODEL_EXCHANGE:
                # Integrated by a solver in Python between communication points.
                runtime = ModelExchangeInstance(archive, library, name,
                                                solver=system.solver(name), logging_on=logging_on)
                core.add_python(k, runtime)
            else:
                runtime = Instance(archive, library, name, logging_on=logging_on)
                core.add_fmu(k, runtime)
        runtimes.append(runtime)
    return runtimes


def build_ports(core, plan: Plan, models: list, *, extrapolation: str, algorithm: str,
                position: dict) -> None:
    """Give ``core`` every unit's inputs, outputs and recorded values, batched per type."""
    # Under Gauss-Seidel a source earlier in the order has already stepped
    # when its target sets the input: a first-order hold interpolates.
    def stepped_first(k, slot):
        return algorithm == "gauss-seidel" and position[plan.slot_owner[slot]] < position[k]

    for k, model in enumerate(models):
        # Output derivatives give first-order holds their slope; only worth
        # fetching when some input follows one.
        slopes = extrapolation == "foh" and model.max_output_derivative_order >= 1
        for group in LOOP_TYPES:
            links = [link for link in plan.inputs.get(k, ()) if link.group == group]
            if links:
                _set_inputs(core, k, group, links, model, extrapolation, stepped_first)
        for table in (plan.outputs, plan.recorded):
            for group in LOOP_TYPES:
                links = [link for link in table.get(k, ()) if link.group == group]
                if links:
                    core.set_outputs(k, group, [link.vr for link in links],
                                     [slot for link in links for slot in link.slots],
                                     every_step=table is plan.outputs,
                                     derivatives=slopes and table is plan.outputs)


def _set_inputs(core, k: int, group: str, links: list, model, extrapolation: str,
                stepped_first) -> None:
    # one slot (and scale, shift, hold) per value: arrays give one per element
    slots = [slot for link in links for slot in link.slots]
    scales = [link.scale for link in links for _ in link.slots]
    shifts = [link.shift for link in links for _ in link.slots]
    plain = all(a == 1.0 and b == 0.0 for a, b in zip(scales, shifts))
    holds = None
    if group == "float64" and extrapolation == "foh":
        holds = ["interpolate" if stepped_first(k, slot) else "extrapolate" for slot in slots]
    core.set_inputs(k, group, [link.vr for link in links], slots, None if plain else scales,
                    None if plain else shifts, holds=holds,
                    derivatives=model.can_interpolate_inputs,
                    counts=[len(link.slots) for link in links])


def add_loops(core, plan: Plan, system, order: list[str]) -> list:
    """Give ``core`` every algebraic loop, with the values exchanged inside it:
    float64 ones to solve for, other ones that must settle.  Returns the loops."""
    position = {name: j for j, name in enumerate(order)}
    loops = algebraic_loops(system)
    for variables in loops:
        inside = set(variables)
        members = sorted({system.split(v)[0] for v in variables}, key=lambda m: position[m])
        sources = sorted({c.source for c in system.connection_details
                          if c.source in inside and c.target in inside})
        slots, discrete, discrete_names = [], [], []
        for v in sources:
            group, source_slots = plan.source_slot[v]
            if group == "float64":
                slots += source_slots
                continue
            discrete += [(group, slot) for slot in source_slots]
            discrete_names += element_names(v, plan.variable(v)[1].shape)
        core.add_loop([plan.index[m] for m in members], slots, discrete=discrete,
                      labels=(members, [plan.slot_names[slot] for slot in slots],
                              discrete_names))
    return loops


def can_vary_step(plan: Plan, runtimes: list, models: list, step_size: float) -> bool:
    """Whether every component can roll back and take steps of any size; warns if not."""
    for name, runtime, model in zip(plan.names, runtimes, models):
        if isinstance(runtime, ModelExchangeInstance):
            reason = ("it is a model exchange component, integrated in Python outside the "
                      "native loop, which cannot roll back")
        elif not isinstance(runtime, Instance):
            reason = "it runs outside the native loop and cannot roll back"
        elif not model.can_get_and_set_state:
            reason = ("it cannot save and restore its state "
                      f"({lacking(runtime, model, STATE_FUNCTIONS, 'GetAndSet')})")
        elif not model.can_handle_variable_step:
            reason = "it cannot take steps of varying size (canHandleVariableCommunicationStepSize)"
        else:
            continue
        log.warning("variable_step: component '%s' (%s): %s; running with the fixed step "
                    "%g s instead", name, model.name, reason, step_size)
        return False
    return True


def check_clocked(plan: Plan, order, *, algorithm, threads, variable_step, multiples):
    """What clocks rule out; returns the threads to use (one: ticks pass between units)."""
    if variable_step:
        raise ConfigurationError(f"components {', '.join(plan.clocks)} have FMI 3 clocks, "
                                 "whose schedule a rolled-back step cannot restore; "
                                 "variable_step cannot be used with them")
    slow = [name for name in plan.clocks if multiples.get(name, 1) > 1]
    if slow:
        raise ConfigurationError(f"step_multiples: {', '.join(slow)} have FMI 3 clocks and "
                                 "step at every base step")
    # Every unit's step is cut at the clock ticks inside it; a slow unit's
    # window could not be cut without stepping it on its own grid.
    slow = [name for name, multiple in multiples.items() if multiple > 1]
    if slow:
        raise ConfigurationError(f"step_multiples: {', '.join(slow)} cannot step in windows "
                                 f"of several steps in a system with FMI 3 clocks (components "
                                 f"{', '.join(plan.clocks)}): every step is cut at the clock "
                                 "ticks inside it")
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


def setup_clocks(core, plan: Plan, runtimes: list, start_time: float) -> dict:
    """Give the core every clock (in initialization mode, where FMUs tell the
    intervals and shifts not in their description), the clocked values and
    the clock connections.  Returns (component, clock name) -> clock index."""
    start = round(start_time * 1e9)        # clock ticks are scheduled in nanoseconds
    index = {}
    for name, clocks in plan.clocks.items():
        k = plan.index[name]
        core.set_clocks(k, len(clocks))
        for i, var in enumerate(clocks):
            index[name, var.name] = i
            kind = ("output" if var.causality == "output" else
                    "triggered" if var.interval_variability == "triggered" else "timed")
            if kind != "timed":
                core.add_clock(k, i, var.value_reference, kind)
                continue
            if var.interval_variability == "countdown":
                core.add_clock(k, i, var.value_reference, "timed", countdown=True, base=start,
                               interval=_first_countdown(name, runtimes[k], var))
                continue
            interval, shift, query = _clock_timing(name, runtimes[k], var)
            first = 1 if var.interval_variability == "changing" else 0
            core.add_clock(k, i, var.value_reference, "timed", query=query,
                           base=start + round(shift * 1e9), interval=interval, first=first)
        for table, inputs in ((plan.clocked_inputs, True), (plan.clocked_outputs, False)):
            for link in table.get(k, ()):
                for clock in link.clocks:
                    if (name, clock) in index:
                        core.set_clocked(k, index[name, clock], link.group, [link.vr],
                                         link.slots, inputs=inputs)
    for source, clock, target, target_clock in plan.clock_links:
        core.connect_clock(plan.index[source], index[source, clock], plan.index[target],
                           index[target, target_clock])
    return index


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


def _first_countdown(name: str, runtime, var) -> float:
    """The interval to the first tick of a countdown clock, if the FMU set one
    in initialization mode (0.0: none yet; the FMU sets each countdown in an
    event, and the core asks for it in every event of the unit)."""
    interval, qualifier = runtime.clock_intervals([var.value_reference])
    if int(qualifier[0]) != 2:                       # fmi3IntervalChanged
        return 0.0
    value = float(interval[0])
    if not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"component '{name}': countdown clock {var.name} was set to "
                                 f"tick in {value!r} s; the interval must be > 0")
    return value
