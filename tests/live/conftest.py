"""Fixtures for the live data tests: a real mosquitto broker and a real OPC UA
server, each in its own process on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} does not accept connections on port {port} after {timeout} s")


def wait_until(condition, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class Mosquitto:
    """A mosquitto broker process on 127.0.0.1:``port``; :meth:`start` again
    after :meth:`kill` brings it back on the same port."""

    def __init__(self, directory: Path, port: int | None = None, *, settings: str = ""):
        binary = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
            None)
        if binary is None:
            pytest.fail("the MQTT tests need the mosquitto broker, which is not installed "
                        "(Debian/Ubuntu: apt-get install mosquitto)", pytrace=False)
        self.binary = binary
        self.port = port or free_port()
        self.config = directory / "mosquitto.conf"
        # ``settings`` (e.g. TLS files, a password file) override the open default.
        # Started as root, mosquitto would switch to its own user, which cannot
        # read the test's files (password file, certificates).
        user = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(f"listener {self.port} 127.0.0.1\npersistence false\n{user}"
                               + (settings or "allow_anonymous true\n"))
        self.log = directory / "mosquitto.log"
        self.proc = None

    def start(self) -> None:
        # The log goes to a file: a pipe nobody reads would fill up and stall the broker.
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, self.proc, f"mosquitto on port {self.port}")
        except RuntimeError as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-2000:]}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_mosquitto(tmp_path):
    """start_mosquitto(settings="") -> a running Mosquitto; all are killed at the end."""
    brokers = []

    def start(settings: str = "") -> Mosquitto:
        folder = tmp_path / f"broker{len(brokers)}"
        folder.mkdir()
        broker = Mosquitto(folder, settings=settings)
        brokers.append(broker)
        broker.start()
        return broker

    yield start
    for broker in brokers:
        broker.kill()


@pytest.fixture
def mosquitto(start_mosquitto):
    """A running mosquitto broker for one test (``.port``, ``.kill()``, ``.start()``)."""
    return start_mosquitto()


class OpcUaServer:
    """tests/live/opcua_server.py in its own process on 127.0.0.1:``port``."""

    def __init__(self, port: int | None = None, *, rate: float = 100.0):
        self.port = port or free_port()
        self.rate = rate
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/cosim/"
        self.proc = None

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "opcua_server.py"), "--port", str(self.port),
             "--rate", str(self.rate)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The server prints "ready" once its address space is built and it listens.
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            lines.append(line)
            if line.startswith("ready"):
                return
        self.kill()
        raise RuntimeError(f"OPC UA test server did not start: {''.join(lines)[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def opcua_server():
    """A running OPC UA test server shared by a module's tests (it takes seconds to start);
    tests that kill it use :func:`own_opcua_server`."""
    server = OpcUaServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_opcua_server():
    """A running OPC UA test server for one test (``.endpoint``, ``.kill()``, ``.start()``)."""
    server = OpcUaServer()
    server.start()
    yield server
    server.kill()
