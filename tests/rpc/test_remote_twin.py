"""Remote twins end to end: a line twin whose spindle is served by another
process (`cosim serve-twin`), against the same line run locally.

Covers equality with local runs (both algorithms, both step modes), the
description a system sees, token and TLS security, refusals of malformed
requests on the Twin service, a twin dying or hanging mid-run, the model
failing on its host, shutdown on SIGTERM, concurrent runs, and remote
components in SSP files.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import cosim
from cosim import System, twins
from cosim.errors import (
    ConfigurationError,
    FmiCallError,
    RemoteTwinError,
    SystemStructureError,
)
from cosim.fmi.archive import read_model
from cosim.rpc import RemoteTwin
from cosim.v1 import twin_pb2, twin_pb2_grpc, values_pb2
from rpc_servers import SPINDLE_PARAMETERS, ServerProcess, self_signed

HERE = Path(__file__).resolve().parent
LINE_TWIN = Path(__file__).resolve().parents[2] / "examples" / "line_twin"
if str(LINE_TWIN) not in sys.path:
    sys.path.insert(0, str(LINE_TWIN))
from line_twin import build_line  # noqa: E402 - the example folder is put on the path above


SPINDLE = twins.path("spindle")
TOKEN = "s3cret"
STOP = 300.0         # line runs
SHORT = 50.0         # runs that only check that a connection works
STEP = 1.0


def _exposing(*names) -> list[str]:
    return [arg for name in names for arg in ("-p", name)]


SERVE_SPINDLE = ["serve-twin", str(SPINDLE), *_exposing(*SPINDLE_PARAMETERS)]


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch):
    """Credentials only come from what each test gives."""
    monkeypatch.delenv("COSIM_TOKEN", raising=False)
    monkeypatch.delenv("COSIM_TLS_CA", raising=False)


@pytest.fixture(scope="module")
def spindle_server():
    """The spindle served with the parameters the line sets, no token."""
    server = ServerProcess(SERVE_SPINDLE)
    yield server
    server.kill()


@pytest.fixture(scope="module")
def token_server():
    """The spindle served with the parameters the line sets, token required."""
    server = ServerProcess([*SERVE_SPINDLE, "--token", TOKEN])
    yield server
    server.kill()


@cache
def local_line(algorithm: str = "jacobi", stop_time: float = STOP, wear: float = 0.2):
    """The all-local line (computed once per configuration)."""
    return cosim.simulate(build_line(spindle_wear=wear), stop_time=stop_time, step_size=STEP,
                          algorithm=algorithm)


def assert_same(actual, expected, *, rows: int | None = None, atol: float = 1e-12) -> None:
    """Every recorded variable of ``actual`` equals ``expected`` (its first ``rows`` rows)."""
    assert actual.names == expected.names
    n = len(expected.time) if rows is None else rows
    assert len(actual.time) == n
    np.testing.assert_array_equal(actual.time, expected.time[:n])
    for name in expected.names:
        np.testing.assert_allclose(np.asarray(actual[name], dtype=float),
                                   np.asarray(expected[name], dtype=float)[:n],
                                   rtol=0, atol=atol, err_msg=name)


def run_remote_line(twin, *, algorithm="jacobi", stop_time=STOP, wear=0.2):
    line = build_line(spindle_wear=wear, spindle_source=twin)
    return cosim.simulate(line, stop_time=stop_time, step_size=STEP, algorithm=algorithm)


# -- 1. same numbers as the local line ------------------------------------------------

@pytest.mark.parametrize("algorithm, mode", [("jacobi", "stream"), ("gauss-seidel", "stream"),
                                             ("jacobi", "unary"), ("gauss-seidel", "unary")])
def test_remote_spindle_line_equals_local_line(spindle_server, algorithm, mode):
    twin = RemoteTwin(spindle_server.url, mode=mode)
    result = run_remote_line(twin, algorithm=algorithm)
    local = local_line(algorithm)
    assert len(local.time) == int(STOP / STEP) + 1
    assert any(name.startswith("spindle.") for name in local.names)
    assert_same(result, local)
    # the run really went through the spindle: it wore during the run
    assert result["spindle.wear"][-1] > result["spindle.wear"][0]


# -- 2. the description the system sees ---------------------------------------------

def test_description_exposes_inputs_outputs_and_chosen_parameters_only(spindle_server):
    twin = RemoteTwin(spindle_server.url)
    local = read_model(SPINDLE)
    remote = twin.model
    assert remote.name == local.name == "spindle"
    assert remote.fmi_version == "2.0"
    expected = [v.name for v in local.variables.values() if v.causality in ("input", "output")]
    expected += list(SPINDLE_PARAMETERS)
    assert sorted(remote.variables) == sorted(expected)
    # the wire numbers its exposed variables 0..n-1, not with the model's references
    numbers = sorted(v.value_reference for v in remote.variables.values())
    assert numbers == list(range(len(expected)))
    for name, var in remote.variables.items():
        mine = local.variables[name]
        assert (var.causality, var.type, var.unit) == (mine.causality, mine.type, mine.unit), name
        assert var.start == mine.start, name
    hidden = [n for n, v in local.variables.items()
              if v.causality == "parameter" and n not in SPINDLE_PARAMETERS]
    assert hidden and not set(hidden) & set(remote.variables)
    assert remote.can_get_and_set_state == local.can_get_and_set_state

    system = System("s")
    with pytest.raises(SystemStructureError, match="'kp'"):
        system.add("spindle", twin, parameters={"kp": 0.7})
    system.add("spindle", twin, parameters={"wear_rate": 2.0, "speed_setpoint": 8000.0})
    assert system.model("spindle") is remote


def test_parameter_not_exposed_is_rejected_by_the_system(start_server):
    server = start_server("serve-twin", SPINDLE, "-p", "initial_wear", "-p", "wear_rate")
    twin = RemoteTwin(server.url)
    assert {"initial_wear", "wear_rate"} <= set(twin.model.variables)
    assert "solver_step" not in twin.model.variables
    with pytest.raises(SystemStructureError, match="solver_step"):
        System("s").add("spindle", twin, parameters={"solver_step": 0.005})
    # the line sets solver_step on its spindle: it cannot use this server
    with pytest.raises(SystemStructureError, match="solver_step"):
        build_line(spindle_source=twin)


# -- 3. token --------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN.upper()])
def test_missing_or_wrong_token_is_refused(token_server, token):
    with pytest.raises(RemoteTwinError) as info:
        RemoteTwin(token_server.url, token=token, timeout=5)
    error = info.value
    assert "authentication failed" in str(error)
    assert error.code == "UNAUTHENTICATED"
    assert error.endpoint == token_server.url
    assert token_server.url in str(error)


def test_right_token_runs_the_line(token_server):
    twin = RemoteTwin(token_server.url, token=TOKEN)
    assert twin.model.name == "spindle"
    assert_same(run_remote_line(twin, stop_time=SHORT), local_line(stop_time=SHORT))


def test_token_from_environment(token_server, monkeypatch):
    monkeypatch.setenv("COSIM_TOKEN", TOKEN)
    twin = RemoteTwin(token_server.url)
    assert_same(run_remote_line(twin, stop_time=SHORT, algorithm="gauss-seidel"),
                local_line("gauss-seidel", stop_time=SHORT))


def test_health_check_needs_no_token(token_server):
    with grpc.insecure_channel(token_server.url.removeprefix("grpc://")) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as info:
            twin_pb2_grpc.TwinStub(channel).Describe(twin_pb2.DescribeRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _standalone_spindle(source, **add_options) -> System:
    system = System("bench")
    system.add("spindle", source, parameters={"speed_setpoint": 7000.0, "initial_wear": 0.3,
                                              "wear_rate": 5.0, "solver_step": 0.005},
               **add_options)
    return system


def test_system_add_with_url_and_token(token_server):
    system = _standalone_spindle(token_server.url, token=TOKEN)
    assert isinstance(system.source("spindle"), RemoteTwin)
    result = cosim.simulate(system, stop_time=SHORT, step_size=STEP)
    local = cosim.simulate(_standalone_spindle(SPINDLE), stop_time=SHORT, step_size=STEP)
    assert_same(result, local)


def test_line_with_spindle_given_as_url(spindle_server):
    assert_same(run_remote_line(spindle_server.url, stop_time=SHORT), local_line(stop_time=SHORT))


# -- 4. TLS ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """Self-signed server (localhost, 127.0.0.1) and client certificates."""
    directory = tmp_path_factory.mktemp("tls")
    server = self_signed(directory, "server")
    client = self_signed(directory, "client", common_name="line-client", hosts=())
    return {"server": server, "client": client}


def test_tls(start_server, certificates, monkeypatch):
    cert, key = certificates["server"]
    server = start_server(*SERVE_SPINDLE, "--tls-cert", cert, "--tls-key", key)
    twin = RemoteTwin(server.url, tls_ca=cert)
    assert_same(run_remote_line(twin, stop_time=SHORT), local_line(stop_time=SHORT))

    with pytest.raises(RemoteTwinError) as info:      # plaintext client, TLS server
        RemoteTwin(server.url, timeout=5)
    assert info.value.endpoint == server.url
    assert info.value.code == "UNAVAILABLE"

    other_ca, _ = certificates["client"]              # a CA that did not sign the server
    with pytest.raises(RemoteTwinError):
        RemoteTwin(server.url, tls_ca=other_ca, timeout=5)

    monkeypatch.setenv("COSIM_TLS_CA", str(cert))
    assert RemoteTwin(server.url).security.tls


def test_mutual_tls(start_server, certificates):
    cert, key = certificates["server"]
    client_cert, client_key = certificates["client"]
    server = start_server(*SERVE_SPINDLE, "--tls-cert", cert, "--tls-key", key,
                          "--tls-client-ca", client_cert)
    with pytest.raises(RemoteTwinError) as info:      # no client certificate
        RemoteTwin(server.url, tls_ca=cert, timeout=5)
    assert info.value.endpoint == server.url
    with pytest.raises(RemoteTwinError):              # a certificate the server does not trust
        RemoteTwin(server.url, tls_ca=cert, tls_cert=cert, tls_key=key, timeout=5)
    twin = RemoteTwin(server.url, tls_ca=cert, tls_cert=client_cert, tls_key=client_key,
                      mode="unary")
    assert_same(run_remote_line(twin, stop_time=SHORT), local_line(stop_time=SHORT))


# -- 5. malformed requests to the Twin service --------------------------------------------

@pytest.fixture(scope="module")
def twin_stub(spindle_server):
    channel = grpc.insecure_channel(spindle_server.url.removeprefix("grpc://"))
    yield twin_pb2_grpc.TwinStub(channel)
    channel.close()


@pytest.fixture
def refs(twin_stub):
    """Exposed variable name -> wire value reference."""
    description = twin_stub.Describe(twin_pb2.DescribeRequest(), timeout=5)
    return {v.name: v.value_reference for v in description.variables}


@pytest.fixture
def instance(twin_stub):
    """The id of a fresh instance on the twin; terminated after the test."""
    sid = twin_stub.Instantiate(twin_pb2.InstantiateRequest(instance_name="probe"),
                                timeout=5).session
    yield sid
    try:
        twin_stub.Terminate(twin_pb2.SessionRequest(session=sid), timeout=5)
    except grpc.RpcError:
        pass


def _initialize(stub, sid) -> None:
    stub.Initialize(twin_pb2.InitializeRequest(session=sid, start_time=0.0), timeout=5)
    stub.FinishInitialization(twin_pb2.SessionRequest(session=sid), timeout=5)


def _refused(call, code: grpc.StatusCode, *words: str) -> str:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    details = info.value.details()
    for word in words:
        assert word in details, details
    return details


def _step(stub, sid, t=0.0, h=STEP, **inputs):
    return stub.Step(twin_pb2.StepRequest(session=sid, time=t, step_size=h,
                                          inputs=values_pb2.Values(**inputs)), timeout=5)


def test_unknown_instance_is_not_found(twin_stub):
    _refused(lambda: _step(twin_stub, "no-such-instance"), grpc.StatusCode.NOT_FOUND,
             "no-such-instance")
    _refused(lambda: twin_stub.Terminate(twin_pb2.SessionRequest(session="gone"), timeout=5),
             grpc.StatusCode.NOT_FOUND, "gone")
    stream = twin_stub.StepStream(iter([twin_pb2.StepRequest(session="lost", time=0.0,
                                                             step_size=STEP)]), timeout=5)
    _refused(lambda: list(stream), grpc.StatusCode.NOT_FOUND, "lost")


def test_step_before_initialization_is_refused(twin_stub, instance):
    _refused(lambda: _step(twin_stub, instance), grpc.StatusCode.FAILED_PRECONDITION,
             "not initialized")


@pytest.mark.parametrize("step_size", [0.0, -1.0])
def test_step_size_must_be_positive(twin_stub, instance, step_size):
    _initialize(twin_stub, instance)
    _refused(lambda: _step(twin_stub, instance, h=step_size), grpc.StatusCode.INVALID_ARGUMENT,
             "step_size", f"{step_size}")
    assert _step(twin_stub, instance).time == STEP    # the instance is still usable


def test_bad_value_references_are_refused(twin_stub, instance, refs):
    _initialize(twin_stub, instance)
    unknown = len(refs) + 5
    _refused(lambda: _step(twin_stub, instance, real_refs=[unknown], reals=[1.0]),
             grpc.StatusCode.INVALID_ARGUMENT, f"value reference {unknown}", "not exposed")
    load = refs["load_torque"]
    _refused(lambda: _step(twin_stub, instance, integer_refs=[load], integers=[3]),
             grpc.StatusCode.INVALID_ARGUMENT, "load_torque", "float64", "int32")
    _refused(lambda: _step(twin_stub, instance, real_refs=[refs["speed"]], reals=[1.0]),
             grpc.StatusCode.INVALID_ARGUMENT, "speed", "output")
    _refused(lambda: twin_stub.SetInputs(twin_pb2.SetInputsRequest(
                 session=instance, inputs=values_pb2.Values(real_refs=[refs["wear"]], reals=[0.5])),
                 timeout=5),
             grpc.StatusCode.INVALID_ARGUMENT, "wear", "output")
    _refused(lambda: _step(twin_stub, instance, real_refs=[load, refs["speed_setpoint"]],
                           reals=[1.0]),
             grpc.StatusCode.INVALID_ARGUMENT, "2 float64 value references but 1 values")
    reply = _step(twin_stub, instance, real_refs=[load], reals=[12.0])
    assert reply.time == STEP
    outputs = ("speed", "motor_torque", "motor_power", "vibration", "bearing_temperature", "wear",
               "remaining_life")
    assert set(reply.outputs.real_refs) == {refs[name] for name in outputs}


def _instantiate(stub, name, value):
    return stub.Instantiate(twin_pb2.InstantiateRequest(
        instance_name="probe", parameters=[values_pb2.NamedValue(name=name, value=value)]),
        timeout=5)


def test_instantiate_refuses_parameters_not_exposed(twin_stub):
    real = values_pb2.Value(real=0.7)
    _refused(lambda: _instantiate(twin_stub, "kp", real), grpc.StatusCode.INVALID_ARGUMENT,
             "'kp'")
    _refused(lambda: _instantiate(twin_stub, "load_torque", real),
             grpc.StatusCode.INVALID_ARGUMENT, "load_torque", "not a parameter")
    _refused(lambda: _instantiate(twin_stub, "initial_wear", values_pb2.Value(text="worn")),
             grpc.StatusCode.INVALID_ARGUMENT, "initial_wear", "float64")


def test_instantiate_sets_exposed_parameters(twin_stub, refs):
    sid = _instantiate(twin_stub, "initial_wear", values_pb2.Value(real=0.4)).session
    try:
        _initialize(twin_stub, sid)
        reply = _step(twin_stub, sid)
        outputs = dict(zip(reply.outputs.real_refs, reply.outputs.reals))
        assert outputs[refs["wear"]] == pytest.approx(0.4, abs=1e-3)
    finally:
        twin_stub.Terminate(twin_pb2.SessionRequest(session=sid), timeout=5)


# -- 6. the twin dies or hangs mid-run ---------------------------------------------------

@pytest.mark.parametrize("mode", ["stream", "unary"])
def test_twin_killed_mid_run(start_server, tmp_path, mode):
    server = start_server(*SERVE_SPINDLE)
    timeout = 5.0
    output = tmp_path / "out.csv"
    sim = cosim.Simulation(build_line(spindle_source=RemoteTwin(server.url, mode=mode,
                                                                timeout=timeout)),
                           step_size=STEP, stop_time=STOP, output_file=output)
    assert sim.step(10) == 10.0
    server.kill()
    started = time.monotonic()
    with pytest.raises(RemoteTwinError) as info:
        sim.step(5)
    assert time.monotonic() - started < timeout
    error = info.value
    assert isinstance(error, FmiCallError)
    assert error.endpoint == server.url and server.url in str(error)
    assert error.instance == "spindle" and "'spindle'" in str(error)
    assert error.time == 10.0 and "t=10 s" in str(error)
    assert error.code == "UNAVAILABLE"
    local = local_line()
    assert_same(error.partial_result, local, rows=11)
    with output.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", *local.names]
    assert [float(r[0]) for r in rows[1:]] == [float(t) for t in range(11)]
    spindle_wear = rows[0].index("spindle.wear")
    assert float(rows[-1][spindle_wear]) == pytest.approx(local["spindle.wear"][10], abs=1e-12)
    with pytest.raises(ConfigurationError, match="stopped"):
        sim.step()


def test_twin_not_answering_times_out(start_server):
    server = start_server(*SERVE_SPINDLE)
    timeout = 1.0
    try:
        for mode in ("stream", "unary"):
            sim = cosim.Simulation(build_line(spindle_source=RemoteTwin(server.url, mode=mode,
                                                                        timeout=timeout)),
                                   step_size=STEP, stop_time=STOP)
            sim.step(3)
            server.suspend()
            started = time.monotonic()
            try:
                with pytest.raises(RemoteTwinError) as info:
                    sim.step(3)
            finally:
                server.resume()
            # The first step after the suspension waits out the timeout, and no longer.
            assert timeout <= time.monotonic() - started < timeout + 4.0
            error = info.value
            assert error.code == "DEADLINE_EXCEEDED", mode
            assert f"no reply within {timeout:g} s" in str(error)
            assert error.time == 3.0 and server.url in str(error)
            assert len(error.partial_result.time) == 4
    finally:
        server.kill()


# -- 7. the model fails on its host ------------------------------------------------------

def _gain_system(source) -> System:
    system = System("bench")
    system.add("g", source, parameters={"fail_time": 0.35, "k": 2.0, "u": 1.5})
    return system


def test_model_failure_on_the_host(start_server, test_fmus):
    fmu = test_fmus("failing_gain")
    server = start_server("serve-twin", fmu, "-p", "fail_time", "-p", "k")
    with pytest.raises(FmiCallError) as info:
        cosim.simulate(_gain_system(fmu), stop_time=1.0, step_size=0.1)
    local = info.value
    for mode in ("stream", "unary"):
        with pytest.raises(RemoteTwinError) as info:
            cosim.simulate(_gain_system(RemoteTwin(server.url, mode=mode, timeout=10)),
                           stop_time=1.0, step_size=0.1)
        error = info.value
        assert error.code == "ABORTED"
        assert error.instance == "g" and "'g'" in str(error)
        assert error.endpoint == server.url
        assert error.time == pytest.approx(0.3) and "t=0.3 s" in str(error)
        assert "failing on purpose" in str(error)
        assert error.time == local.time
        partial = error.partial_result
        np.testing.assert_allclose(partial.time, [0.0, 0.1, 0.2, 0.3])
        np.testing.assert_array_equal(partial["g.y"], local.partial_result["g.y"])
        np.testing.assert_array_equal(partial["g.y"], 3.0)    # k and u reached the host
    # the failed runs did not break the server
    result = cosim.simulate(_gain_system(RemoteTwin(server.url)), stop_time=0.3, step_size=0.1)
    np.testing.assert_array_equal(result["g.y"], 3.0)


# -- 8. shutdown ----------------------------------------------------------------------------

def test_sigterm_stops_the_server_cleanly(start_server):
    server = start_server(*SERVE_SPINDLE)
    twin = RemoteTwin(server.url)
    assert_same(run_remote_line(twin, stop_time=SHORT), local_line(stop_time=SHORT))
    assert server.terminate() == 0
    with pytest.raises(RemoteTwinError) as info:
        RemoteTwin(server.url, timeout=2)
    assert info.value.code == "UNAVAILABLE"


def test_sigterm_with_a_run_in_progress(start_server):
    server = start_server(*SERVE_SPINDLE)
    sim = cosim.Simulation(build_line(spindle_source=RemoteTwin(server.url, timeout=5)),
                           step_size=STEP, stop_time=STOP)
    sim.step(5)
    assert server.terminate() == 0
    with pytest.raises(RemoteTwinError) as info:
        sim.step()
    assert info.value.endpoint == server.url
    assert len(info.value.partial_result.time) == 6


def test_sigterm_after_the_server_was_suspended():
    for _ in range(3):
        server = ServerProcess(SERVE_SPINDLE)
        try:
            server.suspend()
            server.resume()
            try:
                assert server.terminate(timeout=3) == 0
            except subprocess.TimeoutExpired:
                pytest.fail("the server ignored SIGTERM after SIGSTOP/SIGCONT")
        finally:
            server.kill()


# -- 9. several runs on one server ----------------------------------------------------------

def test_concurrent_runs_on_one_server(spindle_server):
    twin = RemoteTwin(spindle_server.url)
    cases = {0.1: "jacobi", 0.5: "gauss-seidel"}
    with ThreadPoolExecutor(len(cases)) as pool:
        runs = {wear: pool.submit(run_remote_line, twin, algorithm=algorithm, wear=wear)
                for wear, algorithm in cases.items()}
        results = {wear: run.result(timeout=60) for wear, run in runs.items()}
    for wear, algorithm in cases.items():
        assert_same(results[wear], local_line(algorithm, wear=wear))
    wear_gap = results[0.5]["spindle.wear"][-1] - results[0.1]["spindle.wear"][-1]
    assert wear_gap == pytest.approx(0.4, abs=1e-3)


def test_interleaved_simulations_on_one_server(spindle_server):
    twin = RemoteTwin(spindle_server.url, mode="unary")
    stop = 100.0
    sims = {wear: build_line(spindle_wear=wear, spindle_source=twin).start(
                step_size=STEP, stop_time=stop) for wear in (0.1, 0.5)}
    for _ in range(int(stop / STEP)):
        for sim in sims.values():
            sim.step()
    for wear, sim in sims.items():
        assert_same(sim.stop(), local_line(stop_time=stop, wear=wear))


# -- 10. a remote twin in an SSP file --------------------------------------------------------

SSD = "{http://ssp-standard.org/SSP1/SystemStructureDescription}"


def test_ssp_keeps_the_remote_twin_as_its_url(spindle_server, tmp_path):
    line = build_line(spindle_source=RemoteTwin(spindle_server.url))
    path = line.save(tmp_path / "line.ssp")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        ssd = ET.fromstring(archive.read("SystemStructure.ssd"))
    assert "resources/spindle.fmu" not in names        # the model stays with its host
    assert "resources/furnace.fmu" in names
    sources = {c.get("name"): c.get("source") for c in ssd.iter(f"{SSD}Component")}
    assert sources["spindle"] == spindle_server.url
    assert sources["furnace"] == "resources/furnace.fmu"


def test_ssp_with_a_remote_twin_loads_and_runs(spindle_server, tmp_path):
    path = build_line(spindle_source=RemoteTwin(spindle_server.url)).save(tmp_path / "line.ssp")
    line = cosim.load(path)
    source = line.source("spindle")
    assert isinstance(source, RemoteTwin) and source.url == spindle_server.url
    result = cosim.simulate(line, stop_time=STOP, step_size=STEP)
    assert_same(result, local_line())


def test_instances_left_behind_by_a_vanished_client_are_freed_when_idle(tmp_path):
    from cosim.rpc import twin_server

    server = twin_server(twins.path("gain"), max_sessions=2, idle_timeout=0.3).start()
    try:
        with grpc.insecure_channel(server.url.removeprefix("grpc://")) as channel:
            stub = twin_pb2_grpc.TwinStub(channel)
            for _ in range(2):          # two clients that never terminate their instances
                stub.Instantiate(twin_pb2.InstantiateRequest(instance_name="gone"))
            with pytest.raises(grpc.RpcError) as full:
                stub.Instantiate(twin_pb2.InstantiateRequest(instance_name="third"))
            assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            time.sleep(0.5)
            session = stub.Instantiate(twin_pb2.InstantiateRequest(instance_name="third")).session
            assert len(server.service._sessions) == 1 and session in server.service._sessions
    finally:
        server.stop()
