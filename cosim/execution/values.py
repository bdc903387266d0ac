"""Reading and writing a running simulation's values by name.

:class:`ValueAccess` is the part of :class:`~cosim.execution.Simulation` that
gets and sets variables and ports, ticks clocks, and builds batched readers
and writers for callers that touch the same values at every step (live data,
estimators).  Every name is checked once, with an error naming it.
"""

from __future__ import annotations

import functools

from typing import Any, Callable

import numpy as np

from cosim.errors import ConfigurationError
from cosim.execution.plan import NUMBER_TYPES, NUMBER_TYPES_TEXT, Plan, shape_text

__all__ = ["ValueAccess"]


class ValueAccess:
    """Value access of a simulation; uses its plan, runtimes, core and clock index."""

    # set by Simulation
    _plan: Plan
    _runtimes: list
    _core: Any
    _clock_index: dict
    _recovery: Any      # remembers inputs set, to set them again after a restart
    _require_running: Callable[[], None]

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
        if self._recovery is not None:
            self._recovery.note_input(self.set, name, value)
        for runtime, var, scale, shift in self._settable(name):
            here = value
            if var.type == "float64" and (scale, shift) != (1.0, 0.0):
                here = scale * (np.asarray(value) if np.ndim(value) else value) + shift
            if not var.shape:
                runtime.set(var.type, [var.value_reference], [here])
                continue
            values = np.ravel(np.asarray(here))
            if values.size != var.size:
                raise ConfigurationError(f"{name} is an array of shape {shape_text(var)} "
                                         f"({var.size} elements); got {values.size} values")
            runtime.set(var.type, [var.value_reference], values, counts=[var.size])

    def tick(self, name: str, *, at: float | None = None) -> None:
        """Tick the triggered input clock ``"component.clock"``.

        Parameters
        ----------
        name : str
            The clock, ``"component.clock"``.
        at : float, optional
            When it ticks (s): by default at the current point, where the
            component handles the tick in an event before its next step; a
            later time (before the stop time, where no step follows) between
            communication points cuts the step there, so that the component
            sees the tick at that very time.

        Raises ConfigurationError if ``name`` is not a triggered input clock
        the user may tick, or ``at`` is not a time from now to the stop time.
        """
        self._require_running()
        if at is not None:
            now, end = self._core.time, self._core.end_time
            if isinstance(at, bool) or not isinstance(at, (int, float)) or \
                    not now <= at < end:
                raise ConfigurationError(f"tick {name} at={at!r}: the time of a tick must be a "
                                         f"number from the current time {now:g} s to before "
                                         f"the stop time {end:g} s")
        component, var = self._plan.variable(name)
        if var.type != "clock" or var.causality != "input" or \
                var.interval_variability != "triggered":
            raise ConfigurationError(f"{name} is not a triggered input clock; only those tick "
                                     "when asked")
        if self._plan.key(name) in {self._plan.system.reference(t, c)
                                    for _, _, t, c in self._plan.clock_links}:
            raise ConfigurationError(f"{name} takes its ticks from a clock connection")
        if self._recovery is not None:
            self._recovery.note_input(functools.partial(self.tick, at=at), name)
        self._core.tick(self._plan.index[component], self._clock_index[component, var.name],
                        None if at is None else float(at))

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
        recovery = self._recovery

        def write(values) -> None:
            require()
            values = np.asarray(values, dtype=float)
            if recovery is not None:
                recovery.note_input(write, values.copy())
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
            if var.type not in NUMBER_TYPES:
                raise ConfigurationError(f"{name} is {var.type}; only "
                                         f"{NUMBER_TYPES_TEXT} values can be {verb} in a batch")
            if var.shape:
                raise ConfigurationError(f"{name} is an array of shape {shape_text(var)}; "
                                         f"only scalars can be {verb} in a batch (use get/set)")
            group = groups.setdefault((id(runtime), var.type), (runtime, var.type, [], [], [], []))
            for part, item in zip(group[2:], (i, var.value_reference, scale, shift)):
                part.append(item)
        return [(runtime, type_, np.asarray(index), np.asarray(vrs, dtype=np.uint32),
                 np.asarray(scales), np.asarray(shifts))
                for runtime, type_, index, vrs, scales, shifts in groups.values()]
