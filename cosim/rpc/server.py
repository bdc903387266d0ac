"""Running the cosim services: a gRPC server with health checking,
reflection, token checking and TLS, that stops cleanly.

Examples
--------
>>> server = twin_server("spindle.fmu", port=0)          # doctest: +SKIP
>>> server.start(); print(server.url)                    # doctest: +SKIP
grpc://127.0.0.1:40873
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cosim.rpc.common import MAX_MESSAGE_BYTES, Endpoint, ServerSecurity
from cosim.v1 import orchestrator_pb2, orchestrator_pb2_grpc, twin_pb2, twin_pb2_grpc

__all__ = ["Server", "orchestrator_server", "twin_server"]

log = logging.getLogger("cosim.rpc")


class Server:
    """A gRPC server hosting one cosim service.

    Call :meth:`start`, then :meth:`wait` (or :meth:`stop` from another
    thread); :meth:`serve_forever` does both and stops on SIGTERM and SIGINT.
    """

    def __init__(self, service, add_to_server, service_name: str, *, host: str = "127.0.0.1",
                 port: int = 0, security: ServerSecurity | None = None, max_workers: int = 32):
        self.service = service
        self.security = security or ServerSecurity()
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.so_reuseport", 0)]
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                              thread_name_prefix="cosim-rpc"),
                                   interceptors=self.security.interceptors(), options=options)
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

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            if ready is not None:
                ready(self)
            self.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def twin_server(fmu, *, parameters=(), host: str = "127.0.0.1", port: int = 0,
                security: ServerSecurity | None = None, max_sessions: int = 64,
                idle_timeout: float = 600.0) -> Server:
    """A server hosting ``fmu`` as a Twin service (see :class:`cosim.rpc.twin.TwinService`)."""
    from cosim.rpc.twin import TwinService

    service = TwinService(fmu, parameters=parameters, max_sessions=max_sessions,
                          idle_timeout=idle_timeout)
    return Server(service, twin_pb2_grpc.add_TwinServicer_to_server,
                  twin_pb2.DESCRIPTOR.services_by_name["Twin"].full_name,
                  host=host, port=port, security=security)


def orchestrator_server(*, root=".", host: str = "127.0.0.1", port: int = 0,
                        security: ServerSecurity | None = None, max_systems: int = 16,
                        max_unpacked_bytes: int | None = None,
                        allow_remote_components: bool = False) -> Server:
    """A server running the Orchestrator service; ``root`` bounds server-side
    paths and the files they refer to, ``max_unpacked_bytes`` what one
    system's archives unpack to (see :class:`cosim.rpc.orchestrator.OrchestratorService`)."""
    from cosim.rpc.orchestrator import MAX_UNPACKED_BYTES, OrchestratorService

    service = OrchestratorService(root=root, max_systems=max_systems,
                                  max_unpacked_bytes=max_unpacked_bytes or MAX_UNPACKED_BYTES,
                                  allow_remote_components=allow_remote_components)
    return Server(service, orchestrator_pb2_grpc.add_OrchestratorServicer_to_server,
                  orchestrator_pb2.DESCRIPTOR.services_by_name["Orchestrator"].full_name,
                  host=host, port=port, security=security)
