"""Remote twins: a component of a local system stepped on another host.

``System.add("spindle", "grpc://host:port")`` creates a :class:`RemoteTwin`:
it asks the server for the twin's description, so the system can check
connections, units and parameters as for a local FMU.  Each run opens a
:class:`RemoteSession` (a Python-backed unit of the master loop): one
instance on the server, stepped with one message per communication step,
carrying the inputs set since the last exchange and returning every output.

In ``"stream"`` mode (the default) steps travel on one bidirectional stream;
``"unary"`` sends one call per step.  Any failure (unreachable host, dead
peer, timeout, refused token, the model failing on the host) raises
:class:`~cosim.errors.RemoteTwinError` naming the endpoint, the component
and the simulation time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time as _time
from typing import Any

import grpc
import numpy as np

from cosim.errors import ConfigurationError, RemoteTwinError, authentication_failure
from cosim.fmi.model import ModelInfo, Variable
from cosim.rpc.common import ClientSecurity, Endpoint, from_value, pack, unpack
from cosim.v1 import twin_pb2, twin_pb2_grpc, values_pb2

__all__ = ["RemoteSession", "RemoteTwin"]

log = logging.getLogger("cosim.rpc")

MODES = ("stream", "unary")
_DTYPES = {"float64": np.float64, "int32": np.int32, "bool": np.bool_, "string": object}


def _explain(exc: grpc.RpcError, timeout: float | None, timed_out: bool = False) -> tuple[str, str]:
    code = exc.code() if hasattr(exc, "code") else None
    name = code.name if code is not None else "UNKNOWN"
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    if timed_out or code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED", f"no reply within {timeout:g} s"
    if code == grpc.StatusCode.UNAVAILABLE:
        return name, f"the twin is unreachable or has died ({details})"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return name, authentication_failure(details)
    if code == grpc.StatusCode.CANCELLED:
        return name, f"the call was cancelled ({details})"
    return name, f"{name}: {details}"


class RemoteTwin:
    """A twin served by ``cosim serve-twin`` (or any Twin service) at ``url``.

    Parameters
    ----------
    url : str
        ``grpc://host:port``.
    token : str or None
        Bearer token; default ``$COSIM_TOKEN``.
    tls_ca, tls_cert, tls_key : path or None
        CA to verify the server with (turns TLS on); client certificate and
        key for mutual TLS.
    server_name : str or None
        Name to expect in the server's certificate, when it differs from the host.
    mode : {"stream", "unary"}
        How steps travel (see the module docstring).
    timeout : float
        Seconds to wait for any reply before giving up on the twin.

    Raises
    ------
    RemoteTwinError
        The twin cannot be reached or described.
    ConfigurationError
        A malformed URL or option.
    """

    def __init__(self, url: str, *, token: str | None = None, tls_ca=None, tls_cert=None,
                 tls_key=None, server_name: str | None = None, mode: str = "stream",
                 timeout: float = 30.0, name: str | None = None):
        if mode not in MODES:
            raise ConfigurationError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.endpoint = Endpoint.parse(url)
        self.security = ClientSecurity.create(token=token, tls_ca=tls_ca, tls_cert=tls_cert,
                                              tls_key=tls_key, server_name=server_name)
        self.mode = mode
        self.timeout = timeout
        self.url = str(self.endpoint)
        channel = self.security.channel(self.endpoint)
        try:
            description = twin_pb2_grpc.TwinStub(channel).Describe(
                twin_pb2.DescribeRequest(), timeout=timeout, metadata=self.security.metadata())
        except grpc.RpcError as exc:
            code, reason = _explain(exc, timeout)
            raise RemoteTwinError(self.url, name or "?", "Describe", None, reason, code=code) from None
        finally:
            channel.close()
        self.description = description
        self.model = _model_info(self.url, description)

    def __repr__(self) -> str:
        return f"RemoteTwin({self.url!r}, model={self.model.name!r}, mode={self.mode!r})"

    def __deepcopy__(self, memo):
        return self          # immutable once described; sessions hold the connections

    def open(self, name: str) -> RemoteSession:
        """A new instance on the server, for component ``name`` of a running system."""
        return RemoteSession(self, name)


def _model_info(url: str, d: twin_pb2.TwinDescription) -> ModelInfo:
    variables = {}
    for v in d.variables:
        start = from_value(v.start, v.type, v.name) if v.HasField("start") else None
        variables[v.name] = Variable(
            name=v.name, value_reference=v.value_reference, type=v.type, causality=v.causality,
            variability=v.variability, initial="exact" if start is not None else None,
            start=start, unit=v.unit or None, description=v.description or None)
    caps = d.capabilities
    from cosim.fmi.model import DefaultExperiment
    return ModelInfo(path=url, name=d.name, fmi_version=d.fmi_version, token="",
                     model_identifier=d.name, description=d.description, variables=variables,
                     dependencies={dep.output: tuple(dep.inputs) for dep in d.dependencies},
                     default_experiment=DefaultExperiment(step_size=d.default_step_size or None),
                     can_get_and_set_state=caps.can_get_and_set_state,
                     can_serialize_state=caps.can_serialize_state,
                     can_handle_variable_step=caps.can_handle_variable_step)


class RemoteSession:
    """One instance of a remote twin, driven by the master as a Python-backed unit.

    Inputs set between exchanges are sent with the next exchange; outputs
    come back with every reply and are served from a local copy, so a step
    costs one round trip.
    """

    def __init__(self, twin: RemoteTwin, name: str):
        self.twin, self.name = twin, name
        self.model = twin.model
        self.time = 0.0
        self._start_time, self._stop_time = 0.0, None
        self._metadata = twin.security.metadata()
        self._timeout = twin.timeout
        self._pending = values_pb2.Values()
        self._dirty = False
        self._stream: _Stream | None = None
        self._awaiting: Any = None   # the step in flight: a future or the stream
        self._step_end = 0.0
        self._closed = False
        size = max((v.value_reference for v in self.model.variables.values()), default=-1) + 1
        self._cache: dict[str, np.ndarray] = {t: np.zeros(size, dtype=d) for t, d in _DTYPES.items()}
        for var in self.model.variables.values():
            if var.start is not None:
                self._cache[var.type][var.value_reference] = var.start
        self._channel = twin.security.channel(twin.endpoint)
        self._stub = twin_pb2_grpc.TwinStub(self._channel)
        try:
            reply = self._call("Instantiate", twin_pb2.InstantiateRequest(instance_name=name))
        except RemoteTwinError:
            self._channel.close()
            raise
        self._session = reply.session

    # -- calls ------------------------------------------------------------------

    def _fail(self, function: str, exc: grpc.RpcError, timed_out: bool = False):
        code, reason = _explain(exc, self._timeout, timed_out)
        return RemoteTwinError(self.twin.url, self.name, function, self.time, reason, code=code)

    def _call(self, function: str, request):
        try:
            return getattr(self._stub, function)(request, timeout=self._timeout,
                                                 metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._fail(function, exc) from None

    def _take_pending(self) -> values_pb2.Values:
        values, self._pending, self._dirty = self._pending, values_pb2.Values(), False
        return values

    def _receive(self, reply) -> None:
        for type_, refs, data in unpack(reply.outputs):
            self._cache[type_][np.asarray(refs, dtype=np.int64)] = data

    # -- the component interface used by the master -----------------------------

    def setup_experiment(self, start_time: float = 0.0, stop_time=None, tolerance=None):
        self._start_time, self._stop_time = start_time, stop_time
        self.time = start_time

    def enter_initialization_mode(self):
        request = twin_pb2.InitializeRequest(session=self._session, start_time=self._start_time,
                                             values=self._take_pending())
        if self._stop_time is not None:
            request.stop_time = self._stop_time
        self._receive(self._call("Initialize", request))

    def exit_initialization_mode(self):
        if self._dirty:
            self._flush()
        self._receive(self._call("FinishInitialization",
                                 twin_pb2.SessionRequest(session=self._session)))

    def set(self, value_type: str, vrs, values):
        if self._awaiting is not None:
            self._settle()
        refs = np.asarray(vrs, dtype=np.int64)
        if value_type == "string":
            values = [str(v) for v in values]
        pack(self._pending, value_type, refs.tolist(), values)
        self._cache[value_type][refs] = values
        self._dirty = True

    def get(self, value_type: str, vrs):
        if self._awaiting is not None:
            self._settle()
        elif self._dirty and not self._closed:
            self._flush()
        return self._cache[value_type][np.asarray(vrs, dtype=np.int64)]

    def _flush(self) -> None:
        """Send inputs set outside a step; the outputs may feed through from them."""
        self._receive(self._call("SetInputs", twin_pb2.SetInputsRequest(
            session=self._session, inputs=self._take_pending())))

    def do_step(self, t: float, h: float) -> None:
        """Send the step; its reply is taken by the next call (usually ``get``),
        so that the master can do other work while the twin steps."""
        if self._awaiting is not None:
            self._settle()
        self.time = t
        request = twin_pb2.StepRequest(session=self._session, time=t, step_size=h,
                                       inputs=self._take_pending())
        if self.twin.mode == "unary":
            self._awaiting = self._stub.Step.future(request, timeout=self._timeout,
                                                    metadata=self._metadata)
        else:
            if self._stream is None:
                self._stream = _Stream(self._stub, self._metadata, self._timeout)
            self._stream.send(request)
            self._awaiting = self._stream
        self._step_end = t + h

    def _settle(self) -> None:
        """Wait for the reply of the step in flight."""
        awaiting, self._awaiting = self._awaiting, None
        try:
            reply = awaiting.result()
        except grpc.RpcError as exc:
            timed_out = awaiting is self._stream and self._stream.timed_out
            self._close_stream()
            raise self._fail("Step", exc, timed_out) from None
        self._receive(reply)
        self.time = self._step_end

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def get_state(self):
        if self._awaiting is not None:
            self._settle()
        return (self._call("GetState", twin_pb2.GetStateRequest(session=self._session)).state_id,
                {t: c.copy() for t, c in self._cache.items()}, self.time)

    def set_state(self, state):
        if self._awaiting is not None:
            self._settle()
        state_id, cache, time = state
        self._cache = {t: c.copy() for t, c in cache.items()}
        self._receive(self._call("SetState", twin_pb2.SetStateRequest(session=self._session,
                                                                      state_id=state_id)))
        self.time = time

    def terminate(self):
        if self._awaiting is not None:
            self._settle()
        self._close_stream()
        if not self._closed:
            self._closed = True
            self._call("Terminate", twin_pb2.SessionRequest(session=self._session))

    def free(self):
        self._awaiting = None
        self._close_stream()
        if not self._closed:
            self._closed = True
            try:        # best effort: the server may be gone
                self._stub.Terminate(twin_pb2.SessionRequest(session=self._session),
                                     timeout=min(self._timeout, 2.0), metadata=self._metadata)
            except grpc.RpcError:
                pass
        self._channel.close()

    def drain_log(self):
        pass


class _Stream:
    """A StepStream call: requests go through a queue, replies come in order
    (one request is in flight at a time).

    A watchdog thread cancels the call when a reply is overdue, because a
    stream's replies cannot be waited for with a timeout of their own.
    """

    def __init__(self, stub, metadata, timeout: float):
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._call = stub.StepStream(iter(self._requests.get, None), metadata=metadata)
        self._timeout = timeout
        self._waiting_since: float | None = None
        self.timed_out = False
        self._done = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                          name="cosim-remote-watchdog")
        self._watchdog.start()

    def send(self, request) -> None:
        self._waiting_since = _time.monotonic()
        self._requests.put(request)

    def result(self):
        """The reply to the request sent last."""
        try:
            return next(self._call)
        except StopIteration:
            raise grpc.RpcError("the twin closed the stream") from None
        finally:
            self._waiting_since = None

    def _watch(self) -> None:
        interval = min(1.0, self._timeout / 4)
        while not self._done.wait(interval):
            since = self._waiting_since
            if since is not None and _time.monotonic() - since > self._timeout:
                self.timed_out = True
                self._call.cancel()

    def close(self) -> None:
        self._done.set()
        self._requests.put(None)
        self._call.cancel()
