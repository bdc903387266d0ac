"""Fixtures for the live data tests: a real MQTT broker (mosquitto, or amqtt
where mosquitto is not installed; see mqtt_brokers.py) and a real OPC UA
server, each in its own process on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mqtt_brokers import Broker, free_port, new_broker

HERE = Path(__file__).resolve().parent

def wait_until(condition, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def start_broker(tmp_path):
    """start_broker(*, users=None, tls=None) -> a running Broker; all are killed at the end."""
    brokers = []

    def start(**settings) -> Broker:
        folder = tmp_path / f"broker{len(brokers)}"
        folder.mkdir()
        broker = new_broker(folder, **settings)
        brokers.append(broker)
        broker.start()
        return broker

    yield start
    for broker in brokers:
        broker.kill()


@pytest.fixture
def broker(start_broker):
    """A running MQTT broker for one test (``.port``, ``.kill()``, ``.start()``)."""
    return start_broker()


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
