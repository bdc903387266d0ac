"""The interface every running component implements, and components written in Python.

:class:`Runtime` is what the master calls on a component while it runs,
whatever backs it: an FMU co-simulation instance
(:class:`cosim.fmi._binding.Instance`), a model exchange FMU with its solver
(:class:`cosim.fmi.model_exchange.ModelExchangeInstance`), a
:class:`PythonComponent`, or a twin hosted elsewhere
(:class:`cosim.rpc.remote.RemoteSession`).  A :class:`RuntimeSource` is a
component's source that is not a file: it describes its model and opens a
runtime per instance (remote twins).

A Python-backed component has the same interface as an FMU instance: set
inputs, step, get outputs, save and restore state.  The master takes the GIL
only for these components.  They are the door for remote twins and live data.

Examples
--------
>>> class Doubler(PythonComponent):
...     parameters = {"k": 2.0}
...     inputs = {"u": 0.0}
...     outputs = {"y": ("u",)}          # y feeds through from u
...     def update_outputs(self):
...         self["y"] = self["k"] * self["u"]
>>> d = Doubler()
>>> d["u"] = 1.5; d.update_outputs(); d["y"]
3.0
"""

from __future__ import annotations

import copy
from typing import Any, Protocol, runtime_checkable

from cosim.fmi.model import ModelInfo, Variable

__all__ = ["PythonComponent", "Runtime", "RuntimeSource"]


@runtime_checkable
class Runtime(Protocol):
    """What the master calls on a running component, in this order: one
    :meth:`setup_experiment`, start values with :meth:`set`,
    :meth:`enter_initialization_mode`, values, :meth:`exit_initialization_mode`;
    then, at every step, :meth:`set` inputs, :meth:`do_step`, :meth:`get`
    outputs; :meth:`terminate` at the end and :meth:`free` last (also after a
    failure).  FMU instances are driven by the native loop through their C
    functions instead of :meth:`do_step`, with the same order.

    A failed call raises :class:`~cosim.errors.FmiCallError` (FMU instances
    build it in one place, ``Instance.call_error``); a runtime that cannot do
    something at all raises :class:`~cosim.errors.ModelError`.
    """

    @property
    def model(self) -> ModelInfo:
        """The component's variables and capabilities."""

    def setup_experiment(self, start_time: float = 0.0, stop_time: float | None = None,
                         tolerance: float | None = None) -> None:
        """Start time, stop time (None: open-ended) and relative tolerance of the run."""

    def enter_initialization_mode(self) -> None: ...

    def exit_initialization_mode(self) -> None: ...

    def get(self, value_type: str, vrs) -> Any:
        """Values of ``value_type`` ("float64", "int32", ...) at value references ``vrs``."""

    def set(self, value_type: str, vrs, values) -> None:
        """Set inputs or tunable parameters before the next step."""

    def do_step(self, t: float, h: float) -> None:
        """Advance from ``t`` by ``h`` with the inputs held."""

    def get_state(self) -> Any:
        """The state, for :meth:`set_state` (rollback, snapshots)."""

    def set_state(self, state: Any) -> None: ...

    def terminate(self) -> None: ...

    def free(self) -> None:
        """Release everything; safe after a failure."""

    def drain_log(self) -> None:
        """Hand the messages logged so far to Python's logging."""


@runtime_checkable
class RuntimeSource(Protocol):
    """A component's source that opens one :class:`Runtime` per instance (a
    remote twin); ``url`` is what a system file records for it."""

    url: str

    @property
    def model(self) -> ModelInfo: ...

    def open(self, name: str) -> Runtime:
        """A runtime for the instance ``name``."""

_FIXED = ("_model", "_names")      # attributes that never change with the state


def _type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int32"
    if isinstance(value, str):
        return "string"
    return "float64"


class PythonComponent:
    """Base class for components implemented in Python.

    Declare variables as class attributes: ``parameters`` and ``inputs`` map
    names to start values (the type follows the value: float, int, bool);
    ``outputs`` maps names to the inputs they feed through from (an empty
    tuple for none), with ``output_types`` for outputs that are not float64;
    ``units`` maps variable names to unit names (as in cosim.units.CATALOG).
    Implement :meth:`do_step` (advance state, set outputs) and, for outputs
    that follow their inputs at once, :meth:`update_outputs`.

    Values are read and written as ``self["name"]``.  One instance serves
    one running simulation at a time.
    """

    parameters: dict = {}
    inputs: dict = {}
    outputs: dict = {}
    output_types: dict = {}
    units: dict = {}

    def __init__(self):
        self._model = self.model_info()
        self._names = {v.value_reference: v.name for v in self._model.variables.values()}
        self.values = {v.name: v.start for v in self._model.variables.values()}
        for name in self.outputs:
            self.values[name] = False if self._model.variables[name].type == "bool" else 0
        self.time = 0.0

    @classmethod
    def model_info(cls) -> ModelInfo:
        """The component's variables as a :class:`~cosim.fmi.model.ModelInfo`."""
        variables: dict[str, Variable] = {}

        def add(name, causality, type_, start, variability):
            variables[name] = Variable(name=name, value_reference=len(variables), type=type_,
                                       causality=causality, variability=variability,
                                       initial="exact" if start is not None else "calculated",
                                       start=start, unit=cls.units.get(name))
        for name, start in cls.parameters.items():
            add(name, "parameter", _type_of(start), start, "tunable")
        for name, start in cls.inputs.items():
            type_ = _type_of(start)
            add(name, "input", type_, start, "continuous" if type_ == "float64" else "discrete")
        for name in cls.outputs:
            type_ = cls.output_types.get(name, "float64")
            add(name, "output", type_, None, "continuous" if type_ == "float64" else "discrete")
        return ModelInfo(path=f"<python {cls.__module__}.{cls.__qualname__}>", name=cls.__name__,
                         fmi_version="python", token="", model_identifier=cls.__name__,
                         description=(cls.__doc__ or "").strip().split("\n")[0],
                         variables=variables,
                         dependencies={name: tuple(deps) for name, deps in cls.outputs.items()},
                         can_get_and_set_state=True, can_serialize_state=False,
                         can_handle_variable_step=True)

    @property
    def model(self) -> ModelInfo:
        return self._model

    def __getitem__(self, name):
        return self.values[name]

    def __setitem__(self, name, value):
        if name not in self.values:
            raise KeyError(f"{type(self).__name__} has no variable {name!r}")
        self.values[name] = value

    # -- to implement -----------------------------------------------------------

    def do_step(self, t: float, h: float) -> None:
        """Advance from ``t`` by ``h`` with the inputs held; update the outputs."""
        raise NotImplementedError(f"{type(self).__name__} must implement do_step(t, h)")

    def update_outputs(self) -> None:
        """Recompute outputs that depend directly on inputs (called after inputs change)."""

    def initialize(self) -> None:
        """Set internal state from parameters and inputs (called when leaving initialization)."""

    # -- the component interface used by the master -------------------------------

    def setup_experiment(self, start_time: float = 0.0, stop_time=None, tolerance=None):
        self.time = start_time

    def enter_initialization_mode(self):
        self.update_outputs()

    def exit_initialization_mode(self):
        self.initialize()
        self.update_outputs()

    def get(self, value_type: str, vrs):
        return [self.values[self._names[int(vr)]] for vr in vrs]

    def set(self, value_type: str, vrs, values):
        for vr, value in zip(vrs, values):
            self.values[self._names[int(vr)]] = value
        self.update_outputs()

    def get_state(self):
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in _FIXED})

    def set_state(self, state):
        self.__dict__.update(copy.deepcopy(state))

    def terminate(self):
        pass

    def free(self):
        pass

    def drain_log(self):
        pass
