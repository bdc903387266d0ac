"""A Python client for the Orchestrator service (``cosim serve``).

Examples
--------
>>> with Client("grpc://127.0.0.1:50051") as client:          # doctest: +SKIP
...     line = client.create_system("line.ssp")
...     line.initialize(step_size=1.0, stop_time=3600.0)
...     line.set("spindle.speed_setpoint", 8000.0)
...     line.step(10)
...     line.get("spindle.speed")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from cosim.errors import ConfigurationError, ServiceError
from cosim.problems import Problem
from cosim.rpc.common import ClientSecurity, Endpoint, to_value
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc
from cosim.v1.values_pb2 import NamedValue

__all__ = ["Client", "Problem", "RemoteSystem", "SystemStatus"]

_STATES = {pb.SYSTEM_STATE_CREATED: "created", pb.SYSTEM_STATE_RUNNING: "running",
           pb.SYSTEM_STATE_FAILED: "failed", pb.SYSTEM_STATE_TERMINATED: "terminated"}


@dataclass(frozen=True)
class SystemStatus:
    """Where a system on the server stands."""

    system_id: str
    name: str
    state: str          # created, running, failed, terminated
    time: float
    steps: int
    error: str

    @classmethod
    def of(cls, message: pb.SystemStatus) -> SystemStatus:
        return cls(message.system_id, message.name, _STATES.get(message.state, "unknown"),
                   message.time, message.steps, message.error)


class Client:
    """A connection to an Orchestrator at ``url`` (``grpc://host:port``).

    ``token`` defaults to ``$COSIM_TOKEN``; ``tls_ca`` (default
    ``$COSIM_TLS_CA``) turns TLS on; ``tls_cert``/``tls_key`` present a
    client certificate.  Every call waits at most ``timeout`` seconds,
    except run_until and streams.  Failed calls raise
    :class:`~cosim.errors.ServiceError` with the server's status and message.
    """

    def __init__(self, url: str, *, token: str | None = None, tls_ca=None, tls_cert=None,
                 tls_key=None, server_name: str | None = None, timeout: float = 60.0):
        self.endpoint = Endpoint.parse(url)
        self.security = ClientSecurity.create(token=token, tls_ca=tls_ca, tls_cert=tls_cert,
                                              tls_key=tls_key, server_name=server_name)
        self.timeout = timeout
        self._channel = self.security.channel(self.endpoint)
        self._stub = orchestrator_pb2_grpc.OrchestratorStub(self._channel)

    def call(self, method: str, request, *, timeout: float | None = -1):
        """Call ``method`` with ``request``; raises ServiceError on failure."""
        try:
            return getattr(self._stub, method)(
                request, timeout=self.timeout if timeout == -1 else timeout,
                metadata=self.security.metadata())
        except grpc.RpcError as exc:
            raise self.error(method, exc) from None

    def error(self, method: str, exc: grpc.RpcError) -> ServiceError:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        return ServiceError(str(self.endpoint), method, code.name,
                            (exc.details() if hasattr(exc, "details") else None) or str(exc))

    def create_system(self, ssp=None, *, path: str | None = None, parameter_set: str | None = None,
                      name: str | None = None) -> RemoteSystem:
        """Send a local ``.ssp``/``.ssd`` file, or its bytes, (or load ``path`` on the
        server) as a new system."""
        request = _create_request(ssp, path, parameter_set, name)
        return RemoteSystem(self, self.call("CreateSystem", request))

    def check_system(self, ssp=None, *, path: str | None = None,
                     parameter_set: str | None = None) -> list[Problem]:
        """Every problem the server finds reading a system, as :meth:`create_system`
        would read it, without creating it (a refused create lists only the first few)."""
        request = _create_request(ssp, path, parameter_set, None)
        return [Problem(p.severity, p.location, p.message)
                for p in self.call("CheckSystem", request).problems]

    def system(self, system_id: str) -> RemoteSystem:
        """A system created earlier (by this or another client)."""
        for status in self.systems():
            if status.system_id == system_id:
                return RemoteSystem(self, pb.SystemInfo(system_id=system_id, name=status.name))
        raise ServiceError(str(self.endpoint), "ListSystems", "NOT_FOUND", f"no system {system_id!r}")

    def systems(self) -> list[SystemStatus]:
        return [SystemStatus.of(s) for s in self.call("ListSystems", pb.ListSystemsRequest()).systems]

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _create_request(ssp, path, parameter_set, name) -> pb.CreateSystemRequest:
    if (ssp is None) == (path is None):
        raise ValueError("give a local SSP file or a server-side path, not both")
    request = pb.CreateSystemRequest(parameter_set=parameter_set or "", name=name or "")
    if ssp is not None:
        request.ssp = bytes(ssp) if isinstance(ssp, (bytes, bytearray)) else Path(ssp).read_bytes()
    else:
        request.path = path
    return request


class RemoteSystem:
    """A system on an Orchestrator (from :meth:`Client.create_system`)."""

    def __init__(self, client: Client, info: pb.SystemInfo):
        self.client = client
        self.id = info.system_id
        self.name = info.name
        self.warnings = list(info.warnings)     # what the server noted at creation
        self.components = {c.name: {"inputs": list(c.inputs), "outputs": list(c.outputs),
                                    "parameters": list(c.parameters)} for c in info.components}

    def __repr__(self) -> str:
        return f"RemoteSystem({self.name!r}, id={self.id!r})"

    def _status(self, method: str, request) -> SystemStatus:
        return SystemStatus.of(self.client.call(method, request))

    def initialize(self, *, step_size: float | None = None, start_time: float = 0.0,
                   stop_time: float | None = None, algorithm: str | None = None, record=None,
                   parameters: dict | None = None, realtime: float = 0.0, overrun: str = "",
                   live_inputs=()) -> SystemStatus:
        """Instantiate and initialize (step size defaults to the system's default experiment).

        ``realtime`` paces run_until on the server's wall clock (1 = real time,
        a factor otherwise, 0 = as fast as possible), with ``overrun`` policy
        "skip", "slow" or "stop".  ``live_inputs`` names the inputs that follow
        timestamped samples (:meth:`stream_inputs`): names, or dicts with
        ``name``, ``policy`` ("hold"/"interpolate") and ``max_age``.
        """
        live = [pb.LiveInput(name=item) if isinstance(item, str) else pb.LiveInput(**item)
                for item in live_inputs]
        request = pb.InitializeSystemRequest(
            system_id=self.id, step_size=step_size or 0.0, start_time=start_time,
            algorithm=algorithm or "", record=list(record or ()),
            parameters=[NamedValue(name=k, value=to_value(v)) for k, v in (parameters or {}).items()],
            realtime_factor=float(realtime), overrun=overrun, live_inputs=live)
        if stop_time is not None:
            request.stop_time = stop_time
        return self._status("Initialize", request)

    def step(self, n: int = 1) -> float:
        """Take ``n`` communication steps; returns the new time."""
        # The server checks the count; what a request cannot even carry is refused here.
        if isinstance(n, bool) or not isinstance(n, int) or not -2**63 <= n < 2**63:
            raise ConfigurationError(f"step(n) takes a whole number of steps > 0, got {n!r}")
        return self._status("Step", pb.StepSystemRequest(system_id=self.id, steps=n)).time

    def run_until(self, time: float, *, progress=None) -> float:
        """Step to ``time``; ``progress(time, target)`` is called as the server reports."""
        now = None
        try:
            for message in self.client._stub.RunUntil(
                    pb.RunUntilRequest(system_id=self.id, time=time),
                    metadata=self.client.security.metadata()):
                now = message.time
                if progress is not None:
                    progress(message.time, message.target_time)
        except grpc.RpcError as exc:
            raise self.client.error("RunUntil", exc) from None
        if now is None:
            raise ServiceError(str(self.client.endpoint), "RunUntil", "UNKNOWN",
                               "the server ended the call without reporting progress")
        return now

    def set(self, values: dict | str, value=None) -> None:
        """Set values before the next step: ``set({"a.u": 1.0})`` or ``set("a.u", 1.0)``."""
        if isinstance(values, str):
            values = {values: value}
        self._status("SetValues", pb.SetValuesRequest(
            system_id=self.id, values=[NamedValue(name=k, value=to_value(v)) for k, v in values.items()]))

    def get(self, names):
        """The current value of one name, or a dict for a list of names."""
        single = isinstance(names, str)
        _, values = self.sample([names] if single else names)
        return values[names] if single else values

    def sample(self, names) -> tuple[float, dict]:
        """``(time, {name: value})``: the values of ``names`` and the system time
        they belong to, read in one call."""
        reply = self.client.call("GetValues", pb.GetValuesRequest(system_id=self.id,
                                                                  names=list(names)))
        return reply.time, {item.name: getattr(item.value, item.value.WhichOneof("kind"))
                            for item in reply.values}

    def stream_outputs(self, names=None):
        """Iterate over ``(time, {name: value})`` as rows are computed (by any client),
        until the system terminates or the iterator is closed."""
        call = self.client._stub.StreamOutputs(
            pb.StreamOutputsRequest(system_id=self.id, names=list(names or ())),
            metadata=self.client.security.metadata())
        columns = None
        try:
            for row in call:
                columns = columns or list(row.names)
                yield row.time, dict(zip(columns, row.values))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise self.client.error("StreamOutputs", exc) from None
        finally:
            call.cancel()

    def stream_inputs(self, samples) -> tuple[int, int]:
        """Send an iterable of samples; returns (samples, values) the server took.

        A ``{name: value}`` dict is applied before the next step.  A
        ``(time, {name: value})`` pair feeds the live inputs (named at
        :meth:`initialize`), which read it at the communication points by their
        policy; bad values in it are counted in :meth:`live_report`, not raised.
        """
        def request(sample):
            time, values = sample if isinstance(sample, tuple) else (None, sample)
            message = pb.InputSample(system_id=self.id, values=[
                NamedValue(name=k, value=to_value(v)) for k, v in values.items()])
            if time is not None:
                message.time = time
            return message

        reply = self.client.call("StreamInputs", (request(s) for s in samples), timeout=None)
        return reply.samples, reply.values

    def stream_batches(self, batches) -> tuple[int, int]:
        """Send an iterable of ``{name: (times, values)}`` dicts, each holding many
        timestamped samples per live input (bulk data); returns (messages,
        samples) the server took."""
        requests = (pb.InputSample(system_id=self.id, batches=[
            pb.SampleBatch(name=name, times=times, values=values)
            for name, (times, values) in batch.items()]) for batch in batches)
        reply = self.client.call("StreamInputs", requests, timeout=None)
        return reply.samples, reply.values

    def live_report(self) -> pb.LiveReport:
        """What the live system received and rejected, and its real-time statistics."""
        return self.client.call("GetLiveReport", pb.SystemRequest(system_id=self.id))

    def snapshot(self) -> str:
        """Save the system's state on the server; returns the snapshot's id."""
        return self.client.call("Snapshot", pb.SystemRequest(system_id=self.id)).snapshot_id

    def restore(self, snapshot_id: str) -> SystemStatus:
        return self._status("Restore", pb.RestoreRequest(system_id=self.id, snapshot_id=snapshot_id))

    def status(self) -> SystemStatus:
        for status in self.client.systems():
            if status.system_id == self.id:
                return status
        raise ServiceError(str(self.client.endpoint), "ListSystems", "NOT_FOUND",
                           f"no system {self.id!r}")

    def terminate(self) -> SystemStatus:
        return self._status("Terminate", pb.SystemRequest(system_id=self.id))
