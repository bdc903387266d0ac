"""Drive an FMU through fmpy, an importer independent of cosim.

Used by the twin tests so that the FMUs are checked against a third-party
implementation of the FMI standard rather than against cosim's own binding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fmpy import extract, read_model_description
from fmpy.fmi2 import FMU2Slave, fmi2CallbackFunctions, fmi2CallbackLoggerTYPE
from fmpy.fmi3 import FMU3Slave


class FmuFailed(Exception):
    """An FMI call returned an error; ``messages`` holds what the FMU logged."""

    def __init__(self, call: str, messages: list[str]):
        super().__init__(f"{call} failed: {' | '.join(messages)}")
        self.messages = messages


@dataclass
class Driver:
    """One FMU instance stepped with integer step counts (t = n*h)."""

    path: Path
    name: str = "instance"
    messages: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.md = read_model_description(str(self.path))
        self.version = self.md.fmiVersion
        self.vars = {v.name: v for v in self.md.modelVariables}
        self.unzipdir = extract(str(self.path))
        ident = self.md.coSimulation.modelIdentifier
        if self.version == "2.0":
            self.fmu = FMU2Slave(guid=self.md.guid, unzipDirectory=self.unzipdir,
                                 modelIdentifier=ident, instanceName=self.name)
            self._callbacks = fmi2CallbackFunctions()
            self._callbacks.logger = fmi2CallbackLoggerTYPE(self._log2)
            self._call("fmi2Instantiate", self.fmu.instantiate, callbacks=self._callbacks,
                       loggingOn=True)
        else:
            self.fmu = FMU3Slave(guid=self.md.guid, unzipDirectory=self.unzipdir,
                                 modelIdentifier=ident, instanceName=self.name)
            self._call("fmi3InstantiateCoSimulation", self.fmu.instantiate, loggingOn=True,
                       logMessage=self._log3)
        self.time = 0.0

    def _log2(self, env, instance, status, category, message):
        self.messages.append(message.decode())

    def _log3(self, env, status, category, message):
        self.messages.append(message.decode())

    def _call(self, name, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise FmuFailed(name, list(self.messages)) from exc

    # -- values -----------------------------------------------------------
    def set(self, **values):
        for name, value in values.items():
            var = self.vars[name]
            vr = [var.valueReference]
            if var.type in ("Real", "Float64"):
                setter = self.fmu.setReal if self.version == "2.0" else self.fmu.setFloat64
                self._call("set", setter, vr, [float(value)])
            elif var.type in ("Integer", "Int32"):
                setter = self.fmu.setInteger if self.version == "2.0" else self.fmu.setInt32
                self._call("set", setter, vr, [int(value)])
            elif var.type == "Boolean":
                self._call("set", self.fmu.setBoolean, vr, [bool(value)])
            else:
                raise TypeError(f"unsupported type {var.type} of {name}")

    def get(self, name):
        var = self.vars[name]
        vr = [var.valueReference]
        if var.type in ("Real", "Float64"):
            getter = self.fmu.getReal if self.version == "2.0" else self.fmu.getFloat64
        elif var.type in ("Integer", "Int32"):
            getter = self.fmu.getInteger if self.version == "2.0" else self.fmu.getInt32
        elif var.type == "String":
            value = self._call("get", self.fmu.getString, vr)[0]
            return value.decode() if isinstance(value, bytes) else value
        elif var.type == "Binary":
            return self._call("get", self.fmu.getBinary, vr)[0]
        else:
            getter = self.fmu.getBoolean
        return self._call("get", getter, vr)[0]

    # -- life cycle ---------------------------------------------------------
    def initialize(self, start_time=0.0, **parameters):
        if self.version == "2.0":
            self._call("fmi2SetupExperiment", self.fmu.setupExperiment, startTime=start_time)
        self.set(**parameters)
        if self.version == "2.0":
            self._call("fmi2EnterInitializationMode", self.fmu.enterInitializationMode)
            self._call("fmi2ExitInitializationMode", self.fmu.exitInitializationMode)
        else:
            self._call("fmi3EnterInitializationMode", self.fmu.enterInitializationMode,
                       startTime=start_time)
            self._call("fmi3ExitInitializationMode", self.fmu.exitInitializationMode)
        self.start_time = self.time = start_time
        return self

    def step(self, h):
        self._call("doStep", self.fmu.doStep, currentCommunicationPoint=self.time,
                   communicationStepSize=h)
        self.time += h

    def run(self, stop_time, step_size, outputs, inputs=None, start_step=0):
        """Step from the current time to ``stop_time``; return {name: array} incl. time.

        ``inputs(t)`` returns a dict of inputs to set before the step starting at t.
        Time is t0 + n*h with integer n, so it does not drift.
        """
        n_steps = int(round((stop_time - self.start_time) / step_size))
        rows = []
        for n in range(start_step, n_steps + 1):
            t = self.start_time + n * step_size
            self.time = t
            if inputs is not None:
                self.set(**inputs(t))
            rows.append([t] + [float(self.get(name)) for name in outputs])
            if n < n_steps:
                self.step(step_size)
        data = np.array(rows)
        result = {"time": data[:, 0]}
        result.update({name: data[:, i + 1] for i, name in enumerate(outputs)})
        return result

    # -- state ----------------------------------------------------------------
    def get_state(self):
        return self.fmu.getFMUstate() if self.version == "2.0" else self.fmu.getFMUState()

    def set_state(self, state):
        if self.version == "2.0":
            self._call("fmi2SetFMUstate", self.fmu.setFMUstate, state)
        else:
            self._call("fmi3SetFMUState", self.fmu.setFMUState, state)

    def serialize(self, state) -> bytes:
        if self.version == "2.0":
            return self.fmu.serializeFMUstate(state)
        return self.fmu.serializeFMUState(state)

    def deserialize(self, data: bytes):
        if self.version == "2.0":
            return self._call("fmi2DeSerializeFMUstate", self.fmu.deSerializeFMUstate, data)
        return self._call("fmi3DeserializeFMUState", self.fmu.deserializeFMUState, data)

    def close(self):
        try:
            self.fmu.terminate()
        except Exception:
            pass  # an instance in error state may refuse to terminate; it is freed anyway
        self.fmu.freeInstance()


def outputs_of(path: Path) -> list[str]:
    """Names of the output variables of an FMU, in model-description order."""
    return [v.name for v in read_model_description(str(path)).modelVariables
            if v.causality == "output"]
