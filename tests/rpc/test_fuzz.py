"""Random requests to every RPC of both services (hypothesis).

Each message is built from its descriptor with random field values: any
double (NaN, inf, huge, negative), any integer of the field's width, random
text and bytes, and now and then a value that means something to the
server (a real system or session id, a variable name, a real SSP archive or
one with random bytes inside).  Whatever is sent, the server answers with a
status a client can act on (never UNKNOWN or INTERNAL) and stays healthy.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor as F
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim import twins
from cosim.rpc import orchestrator_server, twin_server
from cosim.v1 import orchestrator_pb2 as opb
from cosim.v1 import orchestrator_pb2_grpc, twin_pb2, twin_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line

# Statuses no request may get: a defect of the server, not an answer.
BROKEN = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNIMPLEMENTED)
# Each call has this long; a long Step or RunUntil ends at its deadline.
CALL_SECONDS = 1.0
EXAMPLES = 30
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

DOUBLES = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 1e300, 0.5, 10.0]))
INTEGERS = {F.TYPE_INT64: st.integers(-2**63, 2**63 - 1), F.TYPE_INT32: st.integers(-2**31, 2**31 - 1),
            F.TYPE_UINT32: st.integers(0, 2**32 - 1), F.TYPE_UINT64: st.integers(0, 2**64 - 1)}
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "..", "a.b", "\x00", "x" * 5000]))


def _zip_with(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("SystemStructure.ssd", data)
    return buffer.getvalue()


def messages(cls, known: dict, depth: int = 0):
    """Random instances of the protobuf message class ``cls``; ``known[field
    name]`` adds meaningful values for that field."""
    parts = {}
    for field in cls.DESCRIPTOR.fields:
        value = _values(field, known, depth)
        if value is None:
            continue
        if field.is_repeated:
            value = st.lists(value, max_size=4)
        parts[field.name] = value
    optional = st.fixed_dictionaries({}, optional=parts)
    return optional.map(lambda values: _build(cls, values))


def _values(field, known: dict, depth: int):
    if field.type == F.TYPE_MESSAGE:
        if field.message_type.GetOptions().map_entry or depth > 2:
            return None
        return messages(field.message_type._concrete_class, known, depth + 1)
    if field.type == F.TYPE_DOUBLE:
        base = DOUBLES
    elif field.type in INTEGERS:
        base = INTEGERS[field.type]
    elif field.type == F.TYPE_BOOL:
        base = st.booleans()
    elif field.type == F.TYPE_BYTES:
        base = st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(_zip_with))
    elif field.type == F.TYPE_ENUM:
        base = st.sampled_from([v.number for v in field.enum_type.values])
    else:
        base = TEXT
    extra = known.get(field.name)
    return st.one_of(base, st.sampled_from(extra)) if extra else base


def _build(cls, values: dict):
    message = cls()
    for name, value in values.items():
        field = cls.DESCRIPTOR.fields_by_name[name]
        if field.is_repeated:
            target = getattr(message, name)
            for item in value:
                target.add().CopyFrom(item) if field.type == F.TYPE_MESSAGE else target.append(item)
        elif field.type == F.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def answer(call, request, *, request_stream=False, response_stream=False):
    """The status code of one call (OK included)."""
    argument = iter(request) if request_stream else request
    try:
        reply = call(argument, timeout=CALL_SECONDS)
        if response_stream:
            for _ in reply:
                pass
    except grpc.RpcError as error:
        assert error.code() not in BROKEN, (request, error.code(), error.details())
        return error.code()
    return grpc.StatusCode.OK


def _methods(service_descriptor):
    return [(m.name, m.input_type._concrete_class, m.client_streaming, m.server_streaming)
            for m in service_descriptor.methods]


def fuzz(stub, channel, method, requests, request_stream, response_stream) -> None:
    """Send ``method`` the examples of ``requests`` (lists of them for a request
    stream); every answer must be a proper status, and the server stay healthy."""
    if request_stream:
        requests = st.lists(requests, max_size=5)

    @FUZZ
    @given(request=requests)
    def check(request):
        answer(getattr(stub, method), request, request_stream=request_stream,
               response_stream=response_stream)

    check()
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


# -- the Orchestrator ------------------------------------------------------------------

ORCHESTRATOR = _methods(opb.DESCRIPTOR.services_by_name["Orchestrator"])


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-root")
    build_line().save(root / "line.ssp")
    ssp = (root / "line.ssp").read_bytes()
    server = orchestrator_server(root=root, max_systems=6).start()
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    running = stub.CreateSystem(opb.CreateSystemRequest(ssp=ssp), timeout=60).system_id
    stub.Initialize(opb.InitializeSystemRequest(system_id=running, step_size=1.0,
                                                record=["spindle.speed"]), timeout=60)
    snapshot = stub.Snapshot(opb.SystemRequest(system_id=running), timeout=60).snapshot_id
    known = {"system_id": [running], "snapshot_id": [snapshot],
             "name": ["spindle.speed_setpoint", "spindle.speed", "spindle.wear_rate"],
             "names": ["spindle.speed", "spindle.speed_setpoint", "no.such"],
             "record": ["spindle.speed", "no.such"],
             "ssp": [ssp, ssp[: len(ssp) // 2], _zip_with(b"<not-xml")],
             "path": ["line.ssp", "../line.ssp", "/etc/passwd", "missing.ssp"],
             "algorithm": ["jacobi", "gauss-seidel"], "policy": ["hold", "interpolate"],
             "overrun": ["skip", "slow", "stop"], "parameter_set": ["nominal"],
             "steps": [1, 10, 10_000], "step_size": [1.0, 0.5], "real": [1.0, 9000.0]}
    yield server, channel, stub, known
    channel.close()
    server.stop()


@pytest.mark.parametrize(("method", "request_class", "request_stream", "response_stream"),
                         ORCHESTRATOR, ids=[m[0] for m in ORCHESTRATOR])
def test_random_requests_to_the_orchestrator(orchestrator, method, request_class,
                                             request_stream, response_stream):
    _server, channel, stub, known = orchestrator
    if method == "Terminate":       # keep the systems the other examples use
        known = {**known, "system_id": []}
    requests = messages(request_class, known)
    fuzz(stub, channel, method, requests, request_stream, response_stream)


# -- the Twin service --------------------------------------------------------------------

TWIN = _methods(twin_pb2.DESCRIPTOR.services_by_name["Twin"])


@pytest.fixture(scope="module")
def twin():
    server = twin_server(twins.path("spindle"), parameters=["wear_rate"], max_sessions=8).start()
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    stub = twin_pb2_grpc.TwinStub(channel)
    fresh = stub.Instantiate(twin_pb2.InstantiateRequest(), timeout=30).session
    stepping = stub.Instantiate(twin_pb2.InstantiateRequest(), timeout=30).session
    stub.Initialize(twin_pb2.InitializeRequest(session=stepping), timeout=30)
    stub.FinishInitialization(twin_pb2.SessionRequest(session=stepping), timeout=30)
    state = stub.GetState(twin_pb2.GetStateRequest(session=stepping, serialize=True), timeout=30)
    names = [v.name for v in stub.Describe(twin_pb2.DescribeRequest(), timeout=30).variables]
    known = {"session": [fresh, stepping], "state_id": [state.state_id], "data": [state.data],
             "name": names, "time": [0.0], "step_size": [0.001, 0.01],
             "real_refs": [0, 1], "reals": [1.0, 100.0]}
    yield server, channel, stub, known
    channel.close()
    server.stop()


@pytest.mark.parametrize(("method", "request_class", "request_stream", "response_stream"),
                         TWIN, ids=[m[0] for m in TWIN])
def test_random_requests_to_the_twin_service(twin, method, request_class, request_stream,
                                             response_stream):
    _server, channel, stub, known = twin
    if method == "Terminate":
        known = {**known, "session": []}
    requests = messages(request_class, known)
    if method in ("Step", "StepStream"):
        # A huge step makes the spindle integrate for hours in native code: bounded here.
        requests = requests.map(_bounded_step)
    fuzz(stub, channel, method, requests, request_stream, response_stream)


def _bounded_step(request):
    request.step_size = min(request.step_size, 10.0)
    return request
