"""Fixtures for the gRPC tests (helpers in tests/rpc_servers.py)."""

import sys
from pathlib import Path

import pytest
from rpc_servers import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line  # noqa: E402


@pytest.fixture
def no_client_defaults(monkeypatch):
    """Clients get their token and CA from the test, never from the environment."""
    monkeypatch.delenv("COSIM_TOKEN", raising=False)
    monkeypatch.delenv("COSIM_TLS_CA", raising=False)


@pytest.fixture
def line_ssp(tmp_path):
    """The example production line saved as an SSP file."""
    path = tmp_path / "line.ssp"
    build_line().save(path)
    return path


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
