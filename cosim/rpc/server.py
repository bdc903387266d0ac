"""Running the cosim services: a gRPC server with health checking,
reflection, token checking and TLS, that stops cleanly.

Examples
--------
>>> server = twin_server("spindle.fmu", port=0)          # doctest: +SKIP
>>> server.start(); print(server.url)                    # doctest: +SKIP
grpc://127.0.0.1:40873
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cosim.errors import QuotaError
from cosim.rpc.common import MAX_MESSAGE_BYTES, Endpoint, ServerSecurity
from cosim.v1 import orchestrator_pb2, orchestrator_pb2_grpc, twin_pb2, twin_pb2_grpc

__all__ = ["Server", "exposure", "is_loopback", "orchestrator_server", "twin_server"]

log = logging.getLogger("cosim.rpc")

# Calls that answer at once and must never wait behind the calls on systems:
# a thread pool this much larger than --max-calls is kept for them.
SERVER_CALLS = ("/grpc.health.v1.Health/", "/grpc.reflection.",
                "/cosim.v1.Orchestrator/ListSystems", "/cosim.v1.Orchestrator/Terminate",
                "/cosim.v1.Twin/Describe", "/cosim.v1.Twin/Terminate")
RESERVED_THREADS = 16
# A server told to stop (SIGTERM, SIGINT) exits within this many seconds, stopped or not.
EXIT_DEADLINE = 4.5


class Server:
    """A gRPC server hosting one cosim service.

    Call :meth:`start`, then :meth:`wait` (or :meth:`stop` from another
    thread); :meth:`serve_forever` does both and stops on SIGTERM and SIGINT.
    """

    def __init__(self, service, add_to_server, service_name: str, *, host: str = "127.0.0.1",
                 port: int = 0, security: ServerSecurity | None = None, max_calls: int = 256):
        self.service = service
        self.security = security or ServerSecurity()
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.so_reuseport", 0)]
        # Threads are started as calls need them: the pool costs nothing idle.
        pool = futures.ThreadPoolExecutor(max_workers=max_calls + RESERVED_THREADS,
                                          thread_name_prefix="cosim-rpc")
        interceptors = [*self.security.interceptors(), _Admission(max_calls)]
        self._server = grpc.server(pool, interceptors=interceptors, options=options)
        add_to_server(service, self._server)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server)
        host_part = f"[{host}]" if ":" in host else host
        self.port = self.security.add_port(self._server, f"{host_part}:{port}")
        self.host = host
        self._service_name = service_name
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return str(Endpoint(self.host, self.port))

    def start(self) -> Server:
        self._server.start()
        for name in ("", self._service_name):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("%s listening on %s%s", self._service_name, self.url,
                 " (TLS)" if self.security.credentials else "")
        return self

    def stop(self, grace: float = 2.0) -> None:
        """Refuse new calls, let running ones finish for ``grace`` seconds, free everything."""
        if self._stopped.is_set():
            return
        self._health.enter_graceful_shutdown()
        end_streams = getattr(self.service, "end_streams", None)
        if end_streams is not None:
            end_streams()
        self._server.stop(grace).wait()
        close = getattr(self.service, "close", None)
        if close is not None:
            close()
        self._stopped.set()
        log.info("%s on %s stopped", self._service_name, self.url)

    def wait(self) -> None:
        # Poll: a signal handler runs only when the main thread wakes, and a
        # signal delivered to another thread would not wake a plain wait().
        while not self._stopped.wait(0.2):
            pass

    def serve_forever(self, *, ready=None) -> None:
        """Start, call ``ready(server)``, and serve until SIGTERM or SIGINT."""
        def on_signal(signum, frame):
            threading.Thread(target=self.stop, daemon=True).start()
            # Whatever the systems are doing (a component stuck in a step), exit in time.
            watchdog = threading.Timer(EXIT_DEADLINE, _exit_now)
            watchdog.daemon = True
            watchdog.start()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if ready is not None:
                ready(self)
            self.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _exit_now() -> None:
    sys.stderr.write(f"cosim: the server did not stop within {EXIT_DEADLINE:g} s; exiting now\n")
    sys.stderr.flush()
    os._exit(1)


class _Admission(grpc.ServerInterceptor):
    """Bounds the calls in progress, server calls (:data:`SERVER_CALLS`) aside:
    one more is refused at once with RESOURCE_EXHAUSTED, so that threads stay
    free for the server calls however many clients wait on their systems."""

    def __init__(self, limit: int):
        self.limit = limit
        self.running = 0
        self._lock = threading.Lock()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(SERVER_CALLS):
            return handler
        return _wrapped(handler, self)

    def enter(self, context) -> None:
        with self._lock:
            if self.running >= self.limit:
                error = QuotaError(f"the server has {self.running} calls in progress; try again "
                                   "later", limit=self.limit, option="--max-calls")
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
            self.running += 1

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


def _wrapped(handler, admission: _Admission):
    behavior = (handler.unary_unary or handler.unary_stream or handler.stream_unary
                or handler.stream_stream)
    if handler.response_streaming:
        def run(request, context):
            admission.enter(context)
            try:
                yield from behavior(request, context)
            finally:
                admission.leave()
    else:
        def run(request, context):
            admission.enter(context)
            try:
                return behavior(request, context)
            finally:
                admission.leave()
    make = {(False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler}[
        (handler.request_streaming, handler.response_streaming)]
    return make(run, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False        # a name may resolve to anything: take it as reachable


def exposure(host: str, security: ServerSecurity) -> str | None:
    """Why serving on ``host`` with ``security`` lets anyone on the network in
    (None when it does not: loopback, a token, or client certificates)."""
    if is_loopback(host) or security.token or security.client_ca:
        return None
    return (f"refusing to serve on {host} without authentication: pass --token or --token-file "
            "(with --tls-cert and --tls-key), or mutual TLS (--tls-cert, --tls-key, "
            "--tls-client-ca), or --insecure to serve unauthenticated anyway")


def twin_server(fmu, *, parameters=(), host: str = "127.0.0.1", port: int = 0,
                security: ServerSecurity | None = None, max_sessions: int = 64,
                idle_timeout: float = 600.0, max_calls: int = 256) -> Server:
    """A server hosting ``fmu`` as a Twin service (see :class:`cosim.rpc.twin.TwinService`)."""
    from cosim.rpc.twin import TwinService

    service = TwinService(fmu, parameters=parameters, max_sessions=max_sessions,
                          idle_timeout=idle_timeout)
    return Server(service, twin_pb2_grpc.add_TwinServicer_to_server,
                  twin_pb2.DESCRIPTOR.services_by_name["Twin"].full_name,
                  host=host, port=port, security=security, max_calls=max_calls)


def orchestrator_server(*, root=".", host: str = "127.0.0.1", port: int = 0,
                        security: ServerSecurity | None = None, quotas=None,
                        allow_remote_components: bool = False, isolate: bool = True,
                        call_timeout: float | None = None, memory_limit: int | None = None,
                        state_dir=None,
                        checkpoint_every: float = 60.0, **limits) -> Server:
    """A server running the Orchestrator service; ``root`` bounds server-side
    paths and the files they refer to, ``quotas`` (a
    :class:`cosim.rpc.quotas.Quotas`, or its fields as keywords such as
    ``max_systems=4``) what clients can make it hold.  Hosted FMUs run
    isolated in worker processes unless ``isolate=False``; ``state_dir`` (a
    folder or a :class:`~cosim.rpc.durable.StateDir`) keeps hosted systems across restarts, checkpointed every
    ``checkpoint_every`` seconds (see
    :class:`cosim.rpc.orchestrator.OrchestratorService`)."""
    from cosim.rpc.durable import StateDir
    from cosim.rpc.orchestrator import OrchestratorService
    from cosim.rpc.quotas import Quotas

    quotas = quotas or Quotas(**{k: v for k, v in limits.items() if v is not None})
    durable = state_dir
    if state_dir is not None and not isinstance(state_dir, StateDir):
        durable = StateDir(state_dir, checkpoint_every=checkpoint_every)
    service = OrchestratorService(root=root, quotas=quotas,
                                  allow_remote_components=allow_remote_components,
                                  isolate=isolate, call_timeout=call_timeout,
                                  memory_limit=memory_limit, state_dir=durable)
    return Server(service, orchestrator_pb2_grpc.add_OrchestratorServicer_to_server,
                  orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"].full_name,
                  host=host, port=port, security=security, max_calls=quotas.max_calls)
