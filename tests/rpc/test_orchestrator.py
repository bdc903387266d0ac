"""The Orchestrator service (`cosim serve`) driven by the Python client.

The scenarios run against real `cosim serve` processes (see conftest.py);
requests the service must refuse are checked on an in-process server.
Every remote result is compared with the same line twin run locally.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import cosim
from cosim.errors import ServiceError
from cosim.rpc import Client, orchestrator_server
from cosim.v1 import orchestrator_pb2, orchestrator_pb2_grpc
from rpc_servers import self_signed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line  # noqa: E402

STOP = 200.0
OUTPUTS = ["spindle.speed", "spindle.wear", "furnace.energy", "transfer.parts_delivered"]
SETPOINT = "spindle.speed_setpoint"
TOKEN = "t0k"


pytestmark = pytest.mark.usefixtures("no_client_defaults")


@pytest.fixture(scope="module")
def reference():
    """The line run locally from 0 to STOP s with the default setpoint."""
    return cosim.simulate(build_line(), stop_time=STOP, step_size=1.0)


@pytest.fixture
def in_process(tmp_path):
    """An in-process Orchestrator (for requests it must refuse) and a client of it."""
    server = orchestrator_server(root=tmp_path).start()
    client = Client(server.url, timeout=30)
    yield server, client
    client.close()
    server.stop()


def local_run(setpoints: dict[float, float], until: float) -> dict:
    """Outputs of a local Simulation at ``until``; ``setpoints`` maps a time
    (a communication point) to the speed setpoint set there."""
    with cosim.Simulation(build_line(), step_size=1.0, stop_time=STOP) as sim:
        for at, value in sorted(setpoints.items()):
            sim.run_until(at)
            sim.set(SETPOINT, value)
        sim.run_until(until)
        return {name: sim.get(name) for name in OUTPUTS}


def assert_close(remote: dict, local: dict, *, tol: float = 1e-12) -> None:
    assert set(remote) == set(local)
    for name, value in local.items():
        assert remote[name] == pytest.approx(value, rel=tol, abs=tol), name


def expect_error(code: str, call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, str(info.value)
    return info.value


def target_of(url: str) -> str:
    return url.removeprefix("grpc://")


# -- a client driving a system step by step ---------------------------------------------

def test_client_steps_sets_and_runs_a_system_like_a_local_simulation(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        line = client.create_system(line_ssp)
        assert set(line.components) >= {"spindle", "furnace", "transfer"}
        assert "speed_setpoint" in line.components["spindle"]["inputs"]

        status = line.initialize(step_size=1.0, stop_time=STOP)
        assert (status.state, status.time, status.steps) == ("running", 0.0, 0)
        assert line.step(10) == 10.0

        line.set(SETPOINT, 5000.0)
        assert line.get(SETPOINT) == 5000.0
        reports = []
        assert line.run_until(100.0, progress=lambda now, target: reports.append((now, target))) == 100.0
        assert reports, "run_until reported no progress"
        times = [now for now, _ in reports]
        assert times == sorted(times) and times[0] > 10.0
        assert times[-1] == 100.0
        assert {target for _, target in reports} == {100.0}

        remote = line.get(OUTPUTS)
        assert list(remote) == OUTPUTS
        local = local_run({10.0: 5000.0}, 100.0)
        assert_close(remote, local)
        # the setpoint change did something: the spindle is far from its default 9000 rpm
        assert remote["spindle.speed"] == pytest.approx(5000.0, rel=1e-3)
        assert line.get("spindle.speed") == remote["spindle.speed"]

        status = line.status()
        assert (status.state, status.time, status.steps) == ("running", 100.0, 100)
        assert line.terminate().state == "terminated"
        assert client.systems() == []


def test_run_until_the_current_time_reports_done_at_once(in_process, line_ssp):
    _, client = in_process
    line = client.create_system(line_ssp)
    line.initialize(step_size=1.0, stop_time=STOP)
    line.step(5)
    reports = []
    assert line.run_until(5.0, progress=lambda now, target: reports.append((now, target))) == 5.0
    assert reports == [(5.0, 5.0)]
    assert line.status().steps == 5


# -- outputs streamed to a client while another steps -----------------------------------

def test_stream_outputs_sends_every_row_until_the_system_terminates(start_server, tmp_path,
                                                                   line_ssp, reference):
    server = start_server("serve", "--root", tmp_path)
    names = ["spindle.speed", "spindle.wear"]
    with Client(server.url, timeout=30) as client, Client(server.url, timeout=30) as watcher:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        rows, failures = [], []

        def consume():
            try:
                for row in watcher.system(line.id).stream_outputs(names):
                    rows.append(row)
            except Exception as exc:           # reported by the main thread
                failures.append(exc)

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        time.sleep(1.0)                        # let the server register the stream
        line.step(5)
        line.run_until(20.0)
        for _ in range(5):
            line.step(1)
        assert line.status().time == 25.0
        assert line.terminate().state == "terminated"
        reader.join(10)
        assert not reader.is_alive(), "the stream did not end after Terminate"

    assert failures == []
    times = [t for t, _ in rows]
    assert times == [float(k) for k in range(1, 26)]
    for t, values in rows:
        assert list(values) == names
        k = int(np.flatnonzero(reference.time == t)[0])
        for name in names:
            assert values[name] == pytest.approx(reference[name][k], rel=1e-12, abs=1e-12), (t, name)


def test_stream_outputs_refuses_names_that_are_not_recorded(in_process, line_ssp):
    _, client = in_process
    line = client.create_system(line_ssp)
    line.initialize(step_size=1.0, stop_time=STOP, record=["spindle.speed"])
    error = expect_error("INVALID_ARGUMENT", lambda: list(line.stream_outputs(["spindle.wear"])))
    assert "spindle.wear" in error.details
    error = expect_error("INVALID_ARGUMENT", lambda: list(line.stream_outputs([SETPOINT])))
    assert SETPOINT in error.details


# -- systems from files on the server ----------------------------------------------------

def test_server_side_paths_stay_under_the_root(start_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    build_line().save(root / "line.ssp")
    (tmp_path / "x.ssp").write_bytes((root / "line.ssp").read_bytes())     # exists, but outside
    server = start_server("serve", "--root", root)
    with Client(server.url, timeout=30) as client:
        line = client.create_system(path="line.ssp")
        assert line.name == "line" and "spindle" in line.components
        line.initialize(step_size=1.0, stop_time=STOP)
        assert line.step(3) == 3.0

        error = expect_error("PERMISSION_DENIED", client.create_system, path="../x.ssp")
        assert "root" in error.details
        expect_error("PERMISSION_DENIED", client.create_system, path=str(tmp_path / "x.ssp"))
        error = expect_error("NOT_FOUND", client.create_system, path="missing.ssp")
        assert "missing.ssp" in error.details

        bad = tmp_path / "bad.ssd"
        bad.write_bytes(b"not xml")
        error = expect_error("INVALID_ARGUMENT", client.create_system, bad)
        assert "XML" in error.details
        bad.write_bytes(b"PK\x03\x04 not a zip archive")
        error = expect_error("INVALID_ARGUMENT", client.create_system, bad)
        assert error.details

        assert [s.system_id for s in client.systems()] == [line.id]


# -- requests the service refuses -------------------------------------------------------

def test_unknown_system_ids_are_not_found(in_process, line_ssp):
    server, client = in_process
    client.create_system(line_ssp)            # a system exists, just not this one
    stub = orchestrator_pb2_grpc.OrchestratorStub(grpc.insecure_channel(target_of(server.url)))
    missing = "0" * 32
    requests = [
        ("Step", orchestrator_pb2.StepSystemRequest(system_id=missing, steps=1)),
        ("GetValues", orchestrator_pb2.GetValuesRequest(system_id=missing, names=["spindle.speed"])),
        ("Terminate", orchestrator_pb2.SystemRequest(system_id=missing)),
        ("Initialize", orchestrator_pb2.InitializeSystemRequest(system_id=missing, step_size=1.0)),
        ("Snapshot", orchestrator_pb2.SystemRequest(system_id=missing)),
    ]
    for method, request in requests:
        with pytest.raises(grpc.RpcError) as info:
            getattr(stub, method)(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, method
        assert missing in info.value.details(), method
    with pytest.raises(grpc.RpcError) as info:
        list(stub.RunUntil(orchestrator_pb2.RunUntilRequest(system_id=missing, time=5.0), timeout=10))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND

    expect_error("NOT_FOUND", client.system, missing)
    assert len(client.systems()) == 1


def test_invalid_requests_are_refused_with_their_status(in_process, line_ssp):
    _, client = in_process
    line = client.create_system(line_ssp)

    expect_error("FAILED_PRECONDITION", line.step, 1)
    expect_error("FAILED_PRECONDITION", line.get, "spindle.speed")
    error = expect_error("INVALID_ARGUMENT", line.initialize, step_size=-1.0, stop_time=STOP)
    assert "step_size" in error.details
    error = expect_error("INVALID_ARGUMENT", line.initialize, step_size=1.0, stop_time=STOP,
                         algorithm="rk4")
    assert "rk4" in error.details
    assert line.status().state == "created"

    line.initialize(step_size=1.0, stop_time=STOP)
    expect_error("FAILED_PRECONDITION", line.initialize, step_size=1.0, stop_time=STOP)
    for n in (0, -1):
        error = expect_error("INVALID_ARGUMENT", line.step, n)
        assert str(n) in error.details
    assert line.step(10) == 10.0

    error = expect_error("INVALID_ARGUMENT", line.set, "spindle.no_such_input", 1.0)
    assert "no_such_input" in error.details
    error = expect_error("INVALID_ARGUMENT", line.set, SETPOINT, "fast")
    assert SETPOINT in error.details and "float64" in error.details
    error = expect_error("INVALID_ARGUMENT", line.set, "spindle.speed", 1.0)
    assert "spindle.speed" in error.details and "output" in error.details
    error = expect_error("INVALID_ARGUMENT", line.get, "spindle.no_such_output")
    assert "no_such_output" in error.details

    error = expect_error("INVALID_ARGUMENT", line.run_until, 5.0)
    assert "before the current time" in error.details
    error = expect_error("INVALID_ARGUMENT", line.run_until, STOP + 1.0)
    assert "stop time" in error.details
    expect_error("INVALID_ARGUMENT", line.step, 1000)
    error = expect_error("NOT_FOUND", line.restore, "no-such-snapshot")
    assert "no-such-snapshot" in error.details

    # none of the refused requests moved or changed the system
    status = line.status()
    assert (status.state, status.time, status.steps) == ("running", 10.0, 10)
    assert line.get(SETPOINT) == 9000.0
    assert_close(line.get(OUTPUTS), local_run({}, 10.0))


def test_max_systems_holds_for_concurrent_creates(tmp_path, line_ssp):
    server = orchestrator_server(root=tmp_path, max_systems=1).start()
    try:
        with Client(server.url, timeout=30) as client:
            def create(_):
                try:
                    return client.create_system(line_ssp).id
                except ServiceError as error:
                    return error.code

            with ThreadPoolExecutor(8) as pool:
                outcomes = list(pool.map(create, range(8)))
            assert outcomes.count("RESOURCE_EXHAUSTED") == 7, outcomes
            assert len(client.systems()) == 1
    finally:
        server.stop()


def test_a_refused_initialize_leaves_no_parameters_behind(in_process, line_ssp):
    _, client = in_process
    line = client.create_system(line_ssp)
    expect_error("INVALID_ARGUMENT", line.initialize, step_size=1.0, stop_time=STOP,
                 parameters={"spindle.wear_rate": 2000.0, "spindle.no_such_parameter": 1.0})
    assert line.status().state == "created"
    line.initialize(step_size=1.0, stop_time=STOP)
    line.step(50)
    assert_close(line.get(OUTPUTS), local_run({}, 50.0))


def test_at_most_max_systems_exist(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path, "--max-systems", "2")
    with Client(server.url, timeout=30) as client:
        first = client.create_system(line_ssp)
        client.create_system(line_ssp)
        error = expect_error("RESOURCE_EXHAUSTED", client.create_system, line_ssp)
        assert "2 systems" in error.details
        first.terminate()
        client.create_system(line_ssp)
        assert len(client.systems()) == 2


# -- state ---------------------------------------------------------------------------------

def test_restoring_a_snapshot_replays_the_same_run(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        line.run_until(50.0)
        wear_50 = line.get("spindle.wear")
        snapshot = line.snapshot()
        assert snapshot

        assert line.step(30) == 80.0
        wear_80 = line.get("spindle.wear")
        assert wear_80 > wear_50

        restored = line.restore(snapshot)
        assert (restored.time, restored.steps) == (50.0, 50)
        assert line.status().time == 50.0
        assert line.get("spindle.wear") == wear_50

        assert line.step(30) == 80.0
        assert line.get("spindle.wear") == wear_80
        # the snapshot stays usable
        assert line.restore(snapshot).time == 50.0


# -- inputs streamed from a client ---------------------------------------------------------

def test_stream_inputs_applies_samples_in_order(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        line.step(10)
        samples = [{SETPOINT: 6000.0},
                   {SETPOINT: 7000.0, "furnace.soak_zone_setpoint": 850.0},
                   {SETPOINT: 5500.0}]
        assert line.stream_inputs(iter(samples)) == (3, 4)
        assert line.get(SETPOINT) == 5500.0
        line.run_until(60.0)
        assert_close(line.get(OUTPUTS), local_run({10.0: 5500.0}, 60.0))

        error = expect_error("INVALID_ARGUMENT", line.stream_inputs, [{"spindle.speed": 1.0}])
        assert "spindle.speed" in error.details
        assert line.stream_inputs([]) == (0, 0)


# -- security --------------------------------------------------------------------------------

def _health(target: str, credentials=None) -> int:
    channel = (grpc.secure_channel(target, credentials) if credentials
               else grpc.insecure_channel(target))
    with channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def _services(target: str, metadata=()) -> list[str]:
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                            metadata=metadata, timeout=10)
        return [s.name for reply in replies for s in reply.list_services_response.service]


def test_token_is_required_except_for_health_checks(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path, "--token", TOKEN)
    for token in (None, "wrong", TOKEN + "x", f"Bearer {TOKEN}"):
        with Client(server.url, token=token, timeout=10) as client:
            error = expect_error("UNAUTHENTICATED", client.systems)
            assert "authentication failed" in str(error)
            expect_error("UNAUTHENTICATED", client.create_system, line_ssp)

    with Client(server.url, token=TOKEN, timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        assert line.step(2) == 2.0
        assert [s.system_id for s in client.systems()] == [line.id]
        # streams are checked too
        with grpc.insecure_channel(target_of(server.url)) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                list(stub.StreamOutputs(orchestrator_pb2.StreamOutputsRequest(system_id=line.id),
                                        metadata=(("authorization", "Bearer wrong"),), timeout=10))
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert line.status().time == 2.0

    target = target_of(server.url)
    assert _health(target) == health_pb2.HealthCheckResponse.SERVING
    assert "cosim.v1.Orchestrator" in _services(target, (("authorization", f"Bearer {TOKEN}"),))
    with pytest.raises(grpc.RpcError) as info:
        _services(target)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_token_file(start_server, tmp_path, line_ssp):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-from-file\n")
    server = start_server("serve", "--root", tmp_path, "--token-file", token_file)
    with Client(server.url, timeout=10) as client:
        expect_error("UNAUTHENTICATED", client.systems)
    with Client(server.url, token="s3cret-from-file", timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        assert line.step(1) == 1.0


def test_tls(start_server, tmp_path, line_ssp):
    cert, key = self_signed(tmp_path)
    server = start_server("serve", "--root", tmp_path, "--tls-cert", cert, "--tls-key", key)
    assert server.url.startswith("grpc://127.0.0.1:")
    with Client(server.url, tls_ca=cert, timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        assert line.step(4) == 4.0
        assert_close(line.get(OUTPUTS), local_run({}, 4.0))
    with Client(server.url, tls_ca=cert, timeout=30) as client:
        assert [s.time for s in client.systems()] == [4.0]

    with Client(server.url, timeout=10) as plain:
        expect_error("UNAVAILABLE", plain.systems)

    other = tmp_path / "other"
    other.mkdir()
    other_cert, _ = self_signed(other)
    with Client(server.url, tls_ca=other_cert, timeout=10) as untrusting:
        expect_error("UNAVAILABLE", untrusting.systems)

    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    assert _health(target_of(server.url), credentials) == health_pb2.HealthCheckResponse.SERVING


# -- several clients ---------------------------------------------------------------------------

def test_concurrent_clients_and_systems_do_not_interfere(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    setpoints = {"slow": 5000.0, "fast": 7000.0}
    clients = {key: Client(server.url, timeout=30) for key in setpoints}
    try:
        systems = {key: clients[key].create_system(line_ssp, name=key) for key in setpoints}
        assert systems["slow"].id != systems["fast"].id
        for key, line in systems.items():
            line.initialize(step_size=1.0, stop_time=STOP)
            line.set(SETPOINT, setpoints[key])

        listed = {s.system_id: s.name for s in clients["slow"].systems()}
        assert listed == {line.id: key for key, line in systems.items()}

        barrier = threading.Barrier(2)
        failures = []

        def drive(key):
            try:
                for _ in range(40):
                    barrier.wait(10)
                    systems[key].step(2)
            except Exception as exc:           # reported by the main thread
                failures.append((key, exc))
                barrier.abort()

        threads = [threading.Thread(target=drive, args=(key,), daemon=True) for key in setpoints]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        assert not any(thread.is_alive() for thread in threads)

        for key, line in systems.items():
            assert line.status().time == 80.0
            assert_close(line.get(OUTPUTS), local_run({0.0: setpoints[key]}, 80.0))
        # each client sees the other's system
        assert {s.system_id for s in clients["fast"].systems()} == {s.id for s in systems.values()}

        assert systems["slow"].terminate().state == "terminated"
        expect_error("NOT_FOUND", systems["slow"].step, 1)
        assert [s.system_id for s in clients["fast"].systems()] == [systems["fast"].id]
        systems["fast"].run_until(120.0)
        assert_close(systems["fast"].get(OUTPUTS), local_run({0.0: setpoints["fast"]}, 120.0))
    finally:
        for client in clients.values():
            client.close()


# -- the server process ----------------------------------------------------------------------

def test_sigterm_stops_the_server_cleanly_while_systems_exist(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        running = client.create_system(line_ssp)
        running.initialize(step_size=1.0, stop_time=STOP)
        running.step(5)
        client.create_system(line_ssp)          # created, never initialized
        assert len(client.systems()) == 2
    started = time.monotonic()
    assert server.terminate() == 0
    assert time.monotonic() - started < 10
    assert "Traceback" not in server.proc.stderr.read()


def test_sigterm_with_an_open_stream_ends_the_stream(start_server, tmp_path, line_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=STOP)
        rows = []

        def consume():
            try:
                rows.extend(line.stream_outputs(["spindle.speed"]))
            except ServiceError:
                pass                            # cut off by the shutdown: also an end

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        time.sleep(1.0)
        line.step(3)
        assert server.terminate() == 0
        reader.join(10)
        assert not reader.is_alive()
    assert "Traceback" not in server.proc.stderr.read()


@pytest.mark.parametrize("args, message", [
    (["--tls-cert", "x.pem"], "--tls-key"),
    (["--tls-key", "x.key"], "--tls-cert"),
    (["--tls-client-ca", "ca.pem"], "--tls-cert"),
    (["--token", "a", "--token-file", "t.txt"], "not both"),
    (["--token-file", "no-such-token-file"], "no-such-token-file"),
], ids=["cert-without-key", "key-without-cert", "client-ca-without-tls", "token-twice",
        "missing-token-file"])
def test_serve_rejects_bad_security_options(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--port", "0", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert message in done.stderr
    assert "cosim: error:" in done.stderr and "Traceback" not in done.stderr
    assert "orchestrator" not in done.stdout


@pytest.mark.parametrize("n", [2**70, -2**64, 1.5, True, "5"])
def test_the_client_refuses_step_counts_no_server_could_take(in_process, line_ssp, n):
    _, client = in_process
    line = client.create_system(line_ssp)
    line.initialize(step_size=1.0, stop_time=STOP)
    with pytest.raises(cosim.ConfigurationError, match="step\\(n\\) takes a whole number of steps > 0"):
        line.step(n)
    assert line.step(2) == 2.0           # the system is untouched and goes on
