"""Helpers for the gRPC tests: real `cosim serve` / `cosim serve-twin` processes
on loopback ports picked by the system (--port 0), and TLS certificates."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


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

    def suspend(self) -> None:
        """SIGSTOP the server and return once it has stopped.

        A signal takes effect when the kernel next schedules the process: on a
        busy machine a server can answer a few more calls after ``kill`` returns.
        """
        self.proc.send_signal(signal.SIGSTOP)
        _, status = os.waitpid(self.proc.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            raise RuntimeError(f"server {self.args} exited with status {self.proc.returncode} "
                               "instead of stopping")

    def resume(self) -> None:
        """SIGCONT a suspended server."""
        self.proc.send_signal(signal.SIGCONT)


SPINDLE_PARAMETERS = ("initial_wear", "wear_rate", "solver_step")


def self_signed(directory: Path, name: str = "server", *, common_name: str = "localhost",
                hosts=("localhost", "127.0.0.1")) -> tuple[Path, Path]:
    """A self-signed certificate (valid as its own CA) and its key, as PEM files
    ``name.pem`` and ``name-key.pem``; ``hosts`` become subject alternative names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
