"""The Twin service: one FMU hosted by its vendor, stepped over gRPC.

Clients see the FMU's inputs and outputs and the parameters the host chose
to expose, numbered by the host (value references on the wire are indices
into the exposed list, not the model's own).  The archive, the binary and
every other variable stay on the host.

Each ``Instantiate`` opens a session with its own FMU instance, so several
clients (or several components of one system) can use one server at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import grpc
import numpy as np

from cosim.errors import ConfigurationError, CosimError, did_you_mean
from cosim.fmi._binding import Instance
from cosim.fmi.archive import read_model
from cosim.fmi.loader import load_fmu
from cosim.rpc.checks import MAX_NAME_CHARS, finite, named, require_id
from cosim.rpc.common import (TYPES, RequestError, call_status, from_value, pack, to_value,
                              unpack)
from cosim.v1 import twin_pb2, twin_pb2_grpc

__all__ = ["TwinService"]

log = logging.getLogger("cosim.rpc")


@dataclass
class _Session:
    instance: Instance
    lock: threading.Lock
    states: dict
    initialized: bool = False
    last_used: float = 0.0


class TwinService(twin_pb2_grpc.TwinServicer):
    """Hosts ``fmu`` (a path) as a Twin service.

    ``parameters`` names the parameters clients may set (all others keep
    the model's values); ``max_sessions`` bounds the instances alive at once;
    an instance unused for ``idle_timeout`` seconds (its client gone without
    terminating it) is freed when a new one is asked for.

    Raises
    ------
    ModelError
        The FMU cannot be read.
    ConfigurationError
        An exposed parameter does not exist or is not a parameter.
    """

    def __init__(self, fmu, *, parameters=(), max_sessions: int = 64, idle_timeout: float = 600.0,
                 logging_on: bool = False):
        self.model = read_model(fmu)
        self.fmu = fmu
        exposed = []
        for var in self.model.variables.values():
            if var.causality in ("input", "output") and var.type in TYPES and not var.shape:
                exposed.append(var)
        for name in parameters:
            found = self.model.variables.get(name)
            if found is None:
                raise ConfigurationError(f"{self.model.name} has no variable {name!r} to expose"
                                         f"{did_you_mean(name, self.model.variables)}")
            var = found
            if var.causality != "parameter" or var.type not in TYPES or var.shape:
                raise ConfigurationError(f"{self.model.name}.{name} is a {var.causality} of type "
                                         f"{var.type}; only scalar parameters can be exposed")
            exposed.append(var)
        self.exposed = exposed
        self.by_name = {var.name: (ref, var) for ref, var in enumerate(exposed)}
        # wire ref -> model value reference, per type; -1 where the ref is not
        # a settable variable of that type
        self._settable = {t: np.full(len(exposed), -1, dtype=np.int64) for t in TYPES}
        self._outputs: dict = {}
        for ref, var in enumerate(exposed):
            if var.causality == "output":
                refs, vrs = self._outputs.setdefault(var.type, ([], []))
                refs.append(ref)
                vrs.append(var.value_reference)
            else:
                self._settable[var.type][ref] = var.value_reference
        self._archive, self._library = load_fmu(fmu, model=self.model)
        self.model = self._archive.model        # capabilities corrected to the binary
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.logging_on = logging_on

    def close(self) -> None:
        """Free every instance (the server is stopping)."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            with session.lock:
                session.instance.free()
        self._archive.close()

    # -- description ------------------------------------------------------------

    def describe(self) -> twin_pb2.TwinDescription:
        model = self.model
        variables = []
        for ref, var in enumerate(self.exposed):
            info = twin_pb2.VariableInfo(name=var.name, value_reference=ref, type=var.type,
                                         causality=var.causality, variability=var.variability,
                                         unit=var.unit or "", description=var.description or "")
            if var.start is not None:
                info.start.CopyFrom(to_value(var.start, var.type))
            variables.append(info)
        inputs = {v.name for v in self.exposed if v.causality == "input"}
        dependencies = [twin_pb2.Dependency(output=v.name, inputs=[d for d in model.dependencies.get(
                            v.name, sorted(inputs)) if d in inputs])
                        for v in self.exposed if v.causality == "output"]
        return twin_pb2.TwinDescription(
            name=model.name, description=model.description, fmi_version=model.fmi_version,
            variables=variables, dependencies=dependencies,
            capabilities=twin_pb2.Capabilities(
                can_get_and_set_state=model.can_get_and_set_state,
                can_serialize_state=model.can_serialize_state,
                can_handle_variable_step=model.can_handle_variable_step),
            default_step_size=model.default_experiment.step_size or 0.0)

    def Describe(self, request, context):
        return self.describe()

    # -- sessions ---------------------------------------------------------------

    def Instantiate(self, request, context):
        with call_status(context):
            self._free_idle()
            with self._lock:
                if len(self._sessions) >= self.max_sessions:
                    raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                 f"{self.max_sessions} instances are open; terminate one first")
            if len(request.instance_name) > MAX_NAME_CHARS:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"instance_name is {len(request.instance_name)} characters long; "
                                   f"names are at most {MAX_NAME_CHARS}")
            named(request.parameters, "parameters")
            name = request.instance_name or self.model.name
            values = {}
            for item in request.parameters:
                ref, var = self._variable(item.name)
                if var.causality != "parameter":
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                 f"{item.name} is an {var.causality}, not a parameter")
                values[var] = _convert(item.value, var)
            instance = Instance(self._archive, self._library, name, logging_on=self.logging_on)
            try:
                for var, value in values.items():
                    instance.set(var.type, [var.value_reference], [value])
            except CosimError:
                instance.free()
                raise
            session_id = uuid.uuid4().hex
            with self._lock:
                self._sessions[session_id] = _Session(instance, threading.Lock(), {},
                                                      last_used=time.monotonic())
            log.info("instance %r opened (session %s)", name, session_id)
            return twin_pb2.InstantiateReply(session=session_id)

    def Initialize(self, request, context):
        with call_status(context):
            start = finite(request.start_time, "start_time", minimum=0.0)
            if request.HasField("stop_time") and not start < request.stop_time < float("inf"):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"stop_time must be a finite number of seconds after "
                                   f"start_time ({start:g}), got {request.stop_time}")
            with self._session(request.session) as session:
                instance = session.instance
                stop = request.stop_time if request.HasField("stop_time") else None
                instance.setup_experiment(start, stop)
                self._set(instance, request.values)
                instance.enter_initialization_mode()
                return self._reply(instance, start)

    def FinishInitialization(self, request, context):
        with call_status(context), self._session(request.session) as session:
            session.instance.exit_initialization_mode()
            session.initialized = True
            return self._reply(session.instance, session.instance.time)

    def Step(self, request, context):
        with call_status(context), self._session(request.session) as session:
            return self._step(session, request)

    def StepStream(self, request_iterator, context):
        with call_status(context):
            for request in request_iterator:
                with self._session(request.session) as session:
                    yield self._step(session, request)

    def SetInputs(self, request, context):
        with call_status(context), self._session(request.session) as session:
            self._set(session.instance, request.inputs)
            return self._reply(session.instance, session.instance.time)

    def GetState(self, request, context):
        with call_status(context), self._session(request.session) as session:
            if not self.model.can_get_and_set_state:
                raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                             f"{self.model.name} cannot save its state")
            if request.serialize and not self.model.can_serialize_state:
                raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                             f"{self.model.name} cannot serialize its state")
            state = session.instance.get_state()
            state_id = uuid.uuid4().hex
            session.states[state_id] = (state, session.instance.time)
            data = session.instance.serialize_state(state) if request.serialize else b""
            return twin_pb2.TwinState(state_id=state_id, data=data)

    def SetState(self, request, context):
        with call_status(context), self._session(request.session) as session:
            instance = session.instance
            if request.WhichOneof("state") == "state_id":
                if request.state_id not in session.states:
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"no saved state {request.state_id!r} "
                                                            "in this session")
                state, time = session.states[request.state_id]
            elif request.WhichOneof("state") == "data":
                try:
                    state, time = instance.deserialize_state(request.data), instance.time
                except CosimError as exc:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"data: not a state of {self.model.name}: {exc}") from None
            else:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "give a state_id or state data")
            instance.set_state(state)
            instance.time = time
            return self._reply(instance, time)

    def Terminate(self, request, context):
        with call_status(context):
            require_id(request.session, "session")
            with self._lock:
                session = self._sessions.pop(request.session, None)
            if session is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"no session {request.session!r}")
            with session.lock:
                try:
                    if session.initialized:
                        session.instance.terminate()
                finally:
                    session.instance.free()
            log.info("session %s terminated", request.session)
            return twin_pb2.TerminateReply()

    def _free_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [(k, s) for k, s in self._sessions.items()
                    if now - s.last_used > self.idle_timeout and not s.lock.locked()]
            for key, _ in idle:
                del self._sessions[key]
        for key, session in idle:
            with session.lock:
                session.instance.free()
            log.warning("session %s freed after %.0f s unused", key, now - session.last_used)

    # -- helpers ----------------------------------------------------------------

    def _session(self, session_id: str):
        require_id(session_id, "session")
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"no session {session_id!r} (instantiate first)")
        return _Locked(session)

    def _variable(self, name: str):
        try:
            return self.by_name[name]
        except KeyError:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                         f"{self.model.name} exposes no variable {name!r}"
                         f"{did_you_mean(name, self.by_name)}") from None

    def _step(self, session: _Session, request):
        if not session.initialized:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                         "the instance is not initialized (Initialize, FinishInitialization)")
        finite(request.time, "time", minimum=0.0)
        finite(request.step_size, "step_size", positive=True)
        instance = session.instance
        self._set(instance, request.inputs)
        instance.do_step(request.time, request.step_size)
        return self._reply(instance, request.time + request.step_size)

    def _set(self, instance: Instance, values) -> None:
        try:
            groups = list(unpack(values))
        except ValueError as exc:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        for type_, refs, data in groups:
            refs = np.asarray(refs, dtype=np.int64)
            table = self._settable[type_]
            bad = refs >= len(table)
            vrs = table[np.where(bad, 0, refs)]
            bad |= vrs < 0
            if bad.any():
                ref = int(refs[bad.argmax()])
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, self._why_not_settable(ref, type_))
            if type_ == "int32" and any(not -2**31 <= v < 2**31 for v in data):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "an int32 value is out of range")
            if type_ == "float64" and not np.isfinite(data).all():
                ref = int(refs[np.argmin(np.isfinite(data))])
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"value reference {ref} ({self.exposed[ref].name}): "
                                   "the value is not a finite number")
            instance.set(type_, vrs, data)

    def _why_not_settable(self, ref: int, type_: str) -> str:
        if ref >= len(self.exposed):
            return f"value reference {ref} is not exposed by {self.model.name}"
        var = self.exposed[ref]
        if var.type != type_:
            return f"{var.name} (value reference {ref}) is {var.type}, sent as {type_}"
        return f"{var.name} is an {var.causality}; only inputs and exposed parameters can be set"

    def _reply(self, instance: Instance, time: float):
        reply = twin_pb2.StepReply(time=time)
        for type_, (refs, vrs) in self._outputs.items():
            pack(reply.outputs, type_, refs, instance.get(type_, vrs))
        return reply


class _Locked:
    """A session held for one call (calls on one session are serialized)."""

    def __init__(self, session: _Session):
        self.session = session

    def __enter__(self):
        self.session.lock.acquire()
        self.session.last_used = time.monotonic()
        return self.session

    def __exit__(self, *exc):
        self.session.lock.release()


def _convert(message, var):
    try:
        return from_value(message, var.type, var.name)
    except ValueError as exc:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
