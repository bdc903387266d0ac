"""Servers for the gRPC tests: real `cosim serve` / `cosim serve-twin` processes
on loopback ports picked by the system (--port 0)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

READY = re.compile(r"on (grpc://\S+?)(?: \(TLS\))?(?:,|$)")


class ServerProcess:
    """A cosim server in its own process; ``url`` is where it listens."""

    def __init__(self, args, *, env=None, cwd=None, timeout=30.0):
        self.args = args
        self.proc = subprocess.Popen([sys.executable, "-m", "cosim", *args, "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})}, cwd=cwd)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            match = READY.search(line)
            if match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return
        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        self.kill()
        raise RuntimeError(f"server {args} did not start: {line!r} {err}")

    def terminate(self, timeout=10.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


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


SPINDLE_PARAMETERS = ("initial_wear", "wear_rate", "solver_step")
