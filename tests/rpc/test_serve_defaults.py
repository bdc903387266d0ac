"""Safe defaults of `cosim serve` and `cosim serve-twin`: no unauthenticated
server on the network unless asked for with --insecure, and a warning on
loopback without a token."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rpc_servers import self_signed

from cosim import twins


def refused(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args), "--port", "0"],
                          capture_output=True, text=True, timeout=timeout, check=False)


def serving(url: str, *, credentials=None) -> bool:
    target = url.removeprefix("grpc://").replace("0.0.0.0", "127.0.0.1")
    channel = (grpc.secure_channel(target, credentials) if credentials
               else grpc.insecure_channel(target))
    with channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=10)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def warnings_of(server) -> list[str]:
    server.terminate()
    return [line for line in server.proc.stderr.read().splitlines() if "warning" in line]


@pytest.mark.parametrize("command", [["serve"], ["serve-twin", twins.path("spindle")]],
                         ids=["serve", "serve-twin"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_no_unauthenticated_server_on_the_network(command, host, tmp_path):
    done = refused(*command, "--host", host)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"refusing to serve on {host} without authentication" in lines[0]
    for option in ("--token", "--tls-client-ca", "--insecure"):
        assert option in lines[0]
    # TLS alone authenticates the server, not its clients: still refused.
    cert, key = self_signed(tmp_path)
    done = refused(*command, "--host", host, "--tls-cert", cert, "--tls-key", key)
    assert done.returncode == 2 and "--insecure" in done.stderr


def test_insecure_serves_on_the_network_with_a_warning(start_server, tmp_path):
    server = start_server("serve", "--root", tmp_path, "--host", "0.0.0.0", "--insecure")
    assert serving(server.url)
    warnings = warnings_of(server)
    assert len(warnings) == 1 and "anyone who can reach it" in warnings[0]


def test_a_token_or_client_certificates_let_it_serve_on_the_network(start_server, tmp_path):
    server = start_server("serve", "--root", tmp_path, "--host", "0.0.0.0", "--token", "s3cret")
    assert serving(server.url)
    assert warnings_of(server) == []

    cert, key = self_signed(tmp_path, hosts=("localhost", "127.0.0.1", "0.0.0.0"))
    client_cert, client_key = self_signed(tmp_path, "client", common_name="client", hosts=())
    server = start_server("serve", "--root", tmp_path, "--host", "0.0.0.0", "--tls-cert", cert,
                          "--tls-key", key, "--tls-client-ca", client_cert)
    credentials = grpc.ssl_channel_credentials(cert.read_bytes(), client_key.read_bytes(),
                                               client_cert.read_bytes())
    assert serving(server.url, credentials=credentials)
    assert warnings_of(server) == []


@pytest.mark.parametrize("command", [["serve"], ["serve-twin", twins.path("spindle")]],
                         ids=["serve", "serve-twin"])
def test_loopback_without_a_token_warns_once(command, start_server, tmp_path):
    server = start_server(*command)
    assert serving(server.url)
    warnings = warnings_of(server)
    assert len(warnings) == 1, warnings
    assert "no token is required: any local user or process can call it" in warnings[0]
    assert "--token" in warnings[0]


def test_a_port_out_of_range_or_a_missing_root_is_refused_at_start():
    import subprocess
    import sys
    for args, shown, status in ((["--port", "99999"], "port must be 0 to 65535", 2),
                                (["--port", "-5"], "port must be 0 to 65535", 2),
                                (["--root", "/nonexistent-cosim-root"], "no such directory", 1)):
        done = subprocess.run([sys.executable, "-m", "cosim.cli", "serve", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == status, (args, done.stderr)
        assert shown in done.stderr and "Traceback" not in done.stderr
