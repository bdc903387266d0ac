"""A reference co-simulation master: plain Python over fmpy.

It runs a :class:`cosim.System` with the semantics documented in
``cosim/execution.py`` and the native core in ``cosim/master/``, but shares nothing
with cosim's native binding or step loop: the FMUs are loaded and called
through fmpy, and the loop is written out below as a specification.  It
reads only the system's public structure (components, connections,
parameters, sources) and :func:`cosim.execution_order`.

Semantics
---------
Time
    Communication point n is ``t0 + n*h`` in double precision (never
    accumulated); the run ends at the first point within relative 1e-9 of the
    stop time, else with a shorter last step that ends at the stop time.
Initialization
    setupExperiment(start) (FMI 3: the start time goes to
    enterInitializationMode); the user's values (``system.parameters(name)``)
    set, the FMUs holding their own start values; enter
    initialization mode for all; pull every component's connected outputs
    in execution order; then passes in execution order (push each
    component's connected inputs, pull its outputs) until no exchanged
    value changes; exit initialization mode for all; pull all outputs;
    record the first row at t0.
Setting inputs
    A connected input is set only when its value differs, bit for bit, from
    the value last set to it (an array whole if any element differs); the
    first push sets every connected input. Unconnected inputs keep their
    start values and are never set.
Jacobi step
    Every component, in the order of addition, sets its connected inputs
    from the values of the previous communication point and steps; then
    every component's outputs are read.
Gauss-Seidel step
    Component by component in execution order: set inputs from the latest
    values, step, read outputs.
Recording
    Each requested ``"comp.var"`` is read from its FMU after every step.
Arrays
    An FMI 3 array variable is set and read whole (every element, row-major,
    ``nValues`` = its element count) and recorded as a (rows, elements) array.

Only FMU components are supported, without unit conversion or linear
transformations on connections.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave, fmi2CallbackFunctions, fmi2CallbackLoggerTYPE
from fmpy.fmi3 import FMU3Slave

from cosim import execution_order


class ReferenceUnit:
    """One FMU instance called through fmpy, addressed by variable name."""

    _SETTERS = {("2.0", "float64"): "setReal", ("2.0", "int32"): "setInteger",
                ("2.0", "bool"): "setBoolean", ("3.0", "float64"): "setFloat64",
                ("3.0", "int32"): "setInt32", ("3.0", "bool"): "setBoolean",
                ("2.0", "string"): "setString", ("3.0", "string"): "setString"}
    _GETTERS = {("2.0", "float64"): "getReal", ("2.0", "int32"): "getInteger",
                ("2.0", "bool"): "getBoolean", ("3.0", "float64"): "getFloat64",
                ("3.0", "int32"): "getInt32", ("3.0", "bool"): "getBoolean"}

    def __init__(self, name: str, path, model, start_values: dict):
        self.name, self.model, self.version = name, model, model.fmi_version
        self.start_values = start_values
        md = read_model_description(str(path))
        self.unzipdir = extract(str(path))
        kwargs = dict(guid=md.guid, unzipDirectory=self.unzipdir, instanceName=name,
                      modelIdentifier=md.coSimulation.modelIdentifier)
        if self.version == "2.0":
            self.fmu = FMU2Slave(**kwargs)
            self._callbacks = fmi2CallbackFunctions()
            self._callbacks.logger = fmi2CallbackLoggerTYPE(lambda *args: None)
            self.fmu.instantiate(callbacks=self._callbacks)
        else:
            self.fmu = FMU3Slave(**kwargs)
            self.fmu.instantiate()

    def set(self, var_name: str, value) -> None:
        var = self.model.variables[var_name]
        setter = getattr(self.fmu, self._SETTERS[self.version, var.type])
        if var.shape:
            values = np.ravel(np.asarray(value, dtype=object)).tolist()
            setter([var.value_reference], values * (var.size // len(values)))
        else:
            setter([var.value_reference], [value])

    def get(self, var_name: str):
        """A scalar's value, or an array's elements as a tuple."""
        var = self.model.variables[var_name]
        getter = getattr(self.fmu, self._GETTERS[self.version, var.type])
        if var.shape:
            return tuple(getter([var.value_reference], nValues=var.size))
        return getter([var.value_reference])[0]

    def enter_initialization(self, start_time: float) -> None:
        if self.version == "2.0":
            self.fmu.setupExperiment(startTime=start_time)
        for name, value in self.start_values.items():
            self.set(name, value)
        if self.version == "2.0":
            self.fmu.enterInitializationMode()
        else:
            self.fmu.enterInitializationMode(startTime=start_time)

    def do_step(self, t: float, h: float) -> None:
        self.fmu.doStep(currentCommunicationPoint=t, communicationStepSize=h)

    def close(self) -> None:
        try:
            self.fmu.terminate()
        except Exception:
            pass                    # an instance in error state may refuse; free it anyway
        self.fmu.freeInstance()
        shutil.rmtree(self.unzipdir, ignore_errors=True)


def simulate(system, *, stop_time: float, step_size: float, record: list[str],
             algorithm: str = "jacobi", start_time: float = 0.0) -> dict[str, np.ndarray]:
    """Run ``system`` and return ``{"time": array, "comp.var": array, ...}`` (one row per step)."""
    if algorithm not in ("jacobi", "gauss-seidel"):
        raise ValueError(f"unknown algorithm {algorithm!r}")
    record = list(record)
    # Point n is t0 + n*h in double precision; the last one is the first grid
    # point close to the stop time (relative 1e-9), else the stop time itself.
    t0, h = float(start_time), float(step_size)
    n_steps = 1
    while t0 + n_steps * h < stop_time and not math.isclose(t0 + n_steps * h, stop_time):
        n_steps += 1
    end = t0 + n_steps * h if math.isclose(t0 + n_steps * h, stop_time) else stop_time
    time = lambda n: end if n >= n_steps else t0 + n * h

    names = list(system.components)                      # order of addition
    order = execution_order(system)
    inputs = {name: [] for name in names}                 # name -> [(input, "src.output")]
    outputs = {name: [] for name in names}                # name -> [connected output]
    for source, target in system.connections:
        src, src_var = source.split(".", 1)
        dst, dst_var = target.split(".", 1)
        inputs[dst].append((dst_var, source))
        if src_var not in outputs[src]:
            outputs[src].append(src_var)
    recorded = [name.split(".", 1) for name in record]
    values = {}                                           # "src.output" -> latest value
    last_set = {}                                         # "comp.input" -> bits last set
    units = {}                                            # name -> ReferenceUnit
    rows = []

    def pull(name):
        for var in outputs[name]:
            values[f"{name}.{var}"] = units[name].get(var)

    def push(name):
        for var, source in inputs[name]:
            value = values[source]
            bits = np.asarray(value).tobytes()
            if last_set.get(f"{name}.{var}") != bits:
                units[name].set(var, value)
                last_set[f"{name}.{var}"] = bits

    def record_row(n):
        rows.append([time(n)] + [np.asarray(units[c].get(v), dtype=float) for c, v in recorded])

    try:
        for name in names:
            units[name] = ReferenceUnit(name, system.source(name), system.components[name],
                                        system.parameters(name))

        # Initialization.
        for name in names:
            units[name].enter_initialization(time(0))
        for name in order:
            pull(name)
        for _ in range(len(order) + 1):                  # passes until nothing changes
            before = dict(values)
            for name in order:
                push(name)
                pull(name)
            if values == before:
                break
        for name in names:
            units[name].fmu.exitInitializationMode()
        for name in order:
            pull(name)
        record_row(0)

        # Steps.
        for n in range(n_steps):
            t, t_next = time(n), time(n + 1)
            if algorithm == "jacobi":
                for name in names:
                    push(name)
                    units[name].do_step(t, t_next - t)
                for name in names:
                    pull(name)
            else:                                         # gauss-seidel
                for name in order:
                    push(name)
                    units[name].do_step(t, t_next - t)
                    pull(name)
            record_row(n + 1)
    finally:
        for unit in units.values():
            unit.close()

    return {"time": np.array([row[0] for row in rows]),
            **{name: np.array([row[i + 1] for row in rows]) for i, name in enumerate(record)}}
