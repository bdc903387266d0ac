"""gRPC: services that drive systems, twins hosted by vendors, remote twins.

- :class:`Client` drives systems on a ``cosim serve`` Orchestrator.
- :class:`RemoteTwin` is a component of a local system served by ``cosim serve-twin``.
- :func:`twin_server` and :func:`orchestrator_server` run the services in-process.

The protocol is in ``proto/cosim/v1`` (package ``cosim.v1``).
"""

from cosim.rpc.client import Client, Problem, RemoteSystem, SystemStatus
from cosim.rpc.remote import RemoteTwin
from cosim.rpc.server import Server, orchestrator_server, twin_server

__all__ = ["Client", "Problem", "RemoteSystem", "RemoteTwin", "Server", "SystemStatus",
           "orchestrator_server", "twin_server"]
