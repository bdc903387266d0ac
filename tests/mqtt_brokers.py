"""Private MQTT brokers for the tests, each a process on a free loopback port.

The tests run on mosquitto (Debian's package) when it is installed, and on
amqtt (from PyPI, in the test extra) otherwise, so that ``pip install
-e '.[test]'`` alone is enough to run them.  ``COSIM_TEST_BROKER=amqtt`` (or
``mosquitto``) chooses one whatever is installed.  Both brokers get the same
settings: credentials, TLS, and a deep queue for subscribers that fall behind.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

CHOICE = "COSIM_TEST_BROKER"
KINDS = ("mosquitto", "amqtt")


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


def _which(name: str) -> str | None:
    # Debian puts the broker in /usr/sbin, which is not on every user's PATH.
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name) if p.exists()),
        None)


def mosquitto_programs() -> tuple[str, str] | None:
    """(mosquitto, mosquitto_passwd), or None unless both are installed."""
    broker, passwd = _which("mosquitto"), _which("mosquitto_passwd")
    return (broker, passwd) if broker and passwd else None


def amqtt_version() -> str | None:
    try:
        return metadata.version("amqtt")
    except metadata.PackageNotFoundError:
        return None


def chosen_kind() -> tuple[str | None, str]:
    """(kind or None, why): the broker the tests use, and a line that says why."""
    asked = os.environ.get(CHOICE, "").strip().lower()
    if asked and asked not in KINDS:
        return None, f"{CHOICE}={asked!r} is not one of {', '.join(KINDS)}"
    mosquitto, amqtt = mosquitto_programs(), amqtt_version()
    if asked == "mosquitto" or (not asked and mosquitto):
        if mosquitto:
            return "mosquitto", f"mosquitto ({mosquitto[0]})"
        return None, (f"{CHOICE}=mosquitto, but mosquitto is not installed "
                      "(Debian: apt-get install mosquitto)")
    if amqtt:
        why = f"{CHOICE}=amqtt" if asked else \
            "mosquitto is not installed (Debian package; scripts/setup-tests.sh installs it as root)"
        return "amqtt", f"amqtt {amqtt} from PyPI; {why}"
    return None, ("neither mosquitto (Debian: apt-get install mosquitto) nor amqtt "
                  "(pip install -e '.[test]') is installed")


class Broker:
    """A broker process on 127.0.0.1:``port``; :meth:`start` again after
    :meth:`kill` brings it back on the same port with the same settings.

    ``users`` ({name: password}) turns anonymous access off; ``tls`` is a
    (certificate, key) pair of PEM files, and the port then speaks TLS only.
    """

    kind = ""

    def __init__(self, directory: Path, *, users: dict | None = None, tls=None):
        self.directory = Path(directory)
        self.port = free_port()
        self.log = self.directory / f"{self.kind}.log"
        self.command = self._configure(users or {}, tls)
        self.proc = None

    def _configure(self, users: dict, tls) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        # The log goes to a file: a pipe nobody reads would fill up and stall the broker.
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, self.proc, f"{self.kind} on port {self.port}")
        except RuntimeError as exc:
            self.kill()
            raise RuntimeError(f"{exc}\n{self.log.read_text()[-2000:]}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Mosquitto(Broker):
    kind = "mosquitto"

    def _configure(self, users: dict, tls) -> list[str]:
        binary, passwd = mosquitto_programs()
        # Subscribers that fall behind (a loaded machine) keep their messages:
        # the default queue of 1000 would drop the rest.
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 "max_queued_messages 1000000"]
        if os.geteuid() == 0:
            # As root, mosquitto would switch to its own user, which cannot read
            # the test's files (password file, certificates).
            lines.append("user root")
        if tls:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        if users:
            passwords = self.directory / "passwords"
            passwords.write_text("")
            for name, password in users.items():
                subprocess.run([passwd, "-b", str(passwords), name, password], check=True)
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        config = self.directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return [binary, "-c", str(config)]


class Amqtt(Broker):
    kind = "amqtt"

    def _configure(self, users: dict, tls) -> list[str]:
        listener = {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}
        if tls:
            listener.update(ssl=True, certfile=str(tls[0]), keyfile=str(tls[1]))
        auth = "amqtt.plugins.authentication."
        plugins = {auth + "AnonymousAuthPlugin": {"allow_anonymous": not users}}
        if users:
            from pwdlib import PasswordHash
            from pwdlib.hashers.argon2 import Argon2Hasher
            hasher = PasswordHash((Argon2Hasher(),))
            passwords = self.directory / "passwords"
            passwords.write_text("".join(f"{name}:{hasher.hash(password)}\n"
                                         for name, password in users.items()))
            plugins[auth + "FileAuthPlugin"] = {"password_file": str(passwords)}
        config = self.directory / "amqtt.yaml"
        # JSON is YAML, and needs no YAML writer.
        config.write_text(json.dumps({"listeners": {"default": listener}, "plugins": plugins}))
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]


def new_broker(directory: Path, **settings) -> Broker:
    """A broker of the chosen kind (not started yet); fails the test with the
    reason when there is none."""
    import pytest
    kind, why = chosen_kind()
    if kind is None:
        pytest.fail(f"the MQTT tests have no broker: {why}", pytrace=False)
    return {"mosquitto": Mosquitto, "amqtt": Amqtt}[kind](directory, **settings)
