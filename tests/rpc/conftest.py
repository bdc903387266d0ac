"""Fixtures for the gRPC tests (helpers in tests/rpc_servers.py)."""

import pytest
from rpc_servers import ServerProcess


@pytest.fixture
def start_server():
    """start_server(*args, env=None, cwd=None) -> ServerProcess; every server is killed at the end."""
    servers = []

    def start(*args, env=None, cwd=None):
        server = ServerProcess([str(a) for a in args], env=env, cwd=cwd)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
