"""The live view of a program's own twin: the program steps it, the view watches.

A program that runs a :class:`~cosim.live.twin.LiveTwin` itself (the live
furnace example follows its plant over MQTT) calls :func:`show` to serve the
same page as ``cosim serve --http-port``: figures, topology, live plots, its
outputs against the plant, residuals, alert thresholds and estimates.  The
controls are refused for such a system: only its program steps it.
"""

from __future__ import annotations

import uuid

from cosim.rpc.hosting import HostedSystem
from cosim.rpc.orchestrator import OrchestratorService
from cosim.v1 import orchestrator_pb2 as pb
from cosim.web.server import WebServer

__all__ = ["LocalService", "show"]


class LocalService(OrchestratorService):
    """An Orchestrator service holding systems a program runs itself
    (``external``: their ids; the view only watches them)."""

    def __init__(self):
        super().__init__(root=".")
        self.external: set[str] = set()

    def watch(self, twin, *, name: str | None = None) -> str:
        """Show ``twin`` (a LiveTwin, or a started Simulation); returns its id."""
        sim = getattr(twin, "simulation", twin)
        hosted = HostedSystem(uuid.uuid4().hex, sim.system, None, None, self.quotas)
        if name:
            hosted.name = name
        hosted.sim = sim
        hosted.twin = twin if twin is not sim else None
        hosted.state = pb.SYSTEM_STATE_RUNNING
        with self._lock:
            self._systems[hosted.id] = hosted
        self.external.add(hosted.id)
        return hosted.id

    def close(self) -> None:
        """Forget the watched systems, leaving their twins and simulations to their program."""
        for hosted in self.hosted_systems():
            hosted.sim = hosted.twin = None
        super().close()


def show(twin, *, name: str | None = None, host: str = "127.0.0.1", port: int = 0,
         token: str | None = None) -> WebServer:
    """Serve the live view of ``twin`` (a LiveTwin or a started Simulation) that
    the calling program steps; returns the started :class:`WebServer` (its
    ``url`` carries the token; call ``stop()`` at the end)."""
    service = LocalService()
    service.watch(twin, name=name)
    web = WebServer(service, host=host, port=port, token=token)
    web.on_stop = service.close
    return web.start()
