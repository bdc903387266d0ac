"""Every request field is checked: NaN, inf and negative times, huge counts,
empty or unknown ids and names are refused with INVALID_ARGUMENT (NOT_FOUND
for a well-formed id that names nothing) and a message naming the field,
and a refused request changes nothing."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import grpc
import pytest

from cosim import twins
from cosim.rpc import orchestrator_server, twin_server
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc, twin_pb2, twin_pb2_grpc, values_pb2
from cosim.v1.values_pb2 import NamedValue, Value

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line

NAN, INF = math.nan, math.inf
SETPOINT = "spindle.speed_setpoint"


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    build_line().save(root / "line.ssp")
    server = orchestrator_server(root=root).start()
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    created = stub.CreateSystem(pb.CreateSystemRequest(path="line.ssp"), timeout=60).system_id
    running = stub.CreateSystem(pb.CreateSystemRequest(path="line.ssp"), timeout=60).system_id
    stub.Initialize(pb.InitializeSystemRequest(system_id=running, step_size=1.0, stop_time=100.0),
                    timeout=60)
    yield stub, created, running
    channel.close()
    server.stop()


def refused(call, request, code=grpc.StatusCode.INVALID_ARGUMENT) -> str:
    with pytest.raises(grpc.RpcError) as error:
        reply = call(request, timeout=30)
        if hasattr(reply, "__next__"):
            list(reply)
    assert error.value.code() == code, error.value.details()
    return error.value.details()


def value(name, real):
    return NamedValue(name=name, value=Value(real=real))


INITIALIZE = [
    ({"step_size": NAN}, "step_size must be a finite number"),
    ({"step_size": -1.0}, "step_size must be > 0"),
    ({"step_size": INF}, "step_size must be a finite number"),
    ({"start_time": NAN}, "start_time must be a finite number"),
    ({"start_time": -5.0}, "start_time must be >= 0"),
    ({"stop_time": INF}, "stop_time must be a finite number"),
    ({"start_time": 10.0, "stop_time": 5.0}, "stop_time must be a finite number of seconds after"),
    ({"realtime_factor": -1.0}, "realtime_factor must be >= 0"),
    ({"realtime_factor": NAN}, "realtime_factor must be a finite number"),
    ({"overrun": "sometimes"}, "overrun must be one of skip, slow, stop"),
    ({"algorithm": "magic"}, "algorithm must be one of"),
    ({"record": ["spindle.speed", ""]}, "record[1] is empty"),
    ({"parameters": [NamedValue(name="", value=Value(real=1.0))]}, "parameters[0].name is empty"),
    ({"parameters": [NamedValue(name="spindle.wear_rate")]}, ("parameters[0] (spindle.wear_rate): "
                                                              "no value given")),
    ({"parameters": [value("spindle.wear_rate", NAN)]}, ("parameters[0] (spindle.wear_rate): nan "
                                                         "is not a finite number")),
    ({"live_inputs": [pb.LiveInput(name="")]}, "live_inputs[0].name is empty"),
    ({"live_inputs": [pb.LiveInput(name=SETPOINT, policy="guess")]},
     "live_inputs[0].policy must be one of hold, interpolate"),
    ({"live_inputs": [pb.LiveInput(name=SETPOINT, max_age=-1.0)]},
     "live_inputs[0].max_age must be >= 0"),
]


@pytest.mark.parametrize(("fields", "message"), INITIALIZE, ids=[m for _, m in INITIALIZE])
def test_initialize_fields(orchestrator, fields, message):
    stub, created, _ = orchestrator
    details = refused(stub.Initialize, pb.InitializeSystemRequest(system_id=created, **fields))
    assert message in details
    status = next(s for s in stub.ListSystems(pb.ListSystemsRequest(), timeout=10).systems
              if s.system_id == created)
    assert status.state == pb.SYSTEM_STATE_CREATED


def test_ids(orchestrator):
    stub, _, running = orchestrator
    for call, request in [(stub.Initialize, pb.InitializeSystemRequest()),
                          (stub.Step, pb.StepSystemRequest(steps=1)),
                          (stub.RunUntil, pb.RunUntilRequest(time=1.0)),
                          (stub.GetValues, pb.GetValuesRequest()),
                          (stub.Snapshot, pb.SystemRequest()),
                          (stub.Terminate, pb.SystemRequest())]:
        assert "system_id is empty" in refused(call, request)
    details = refused(stub.Step, pb.StepSystemRequest(system_id="nope", steps=1),
                      grpc.StatusCode.NOT_FOUND)
    assert "system_id: no system 'nope'" in details
    details = refused(stub.Step, pb.StepSystemRequest(system_id="x" * 5000, steps=1))
    assert "system_id is 5000 characters long" in details
    assert "snapshot_id is empty" in refused(stub.Restore, pb.RestoreRequest(system_id=running))
    details = refused(stub.Restore, pb.RestoreRequest(system_id=running, snapshot_id="nope"),
                      grpc.StatusCode.NOT_FOUND)
    assert "snapshot_id" in details and "nope" in details


def test_running_fields(orchestrator):
    stub, _, running = orchestrator
    for steps in (0, -1, 10**12, 2**63 - 1):
        assert "steps must be 1 to 1000000000 per call" in refused(
            stub.Step, pb.StepSystemRequest(system_id=running, steps=steps))
    assert "steps: 101 steps from t=0 s would pass the stop time 100 s" in refused(
        stub.Step, pb.StepSystemRequest(system_id=running, steps=101))
    for time, message in [(NAN, "time must be a finite number"), (INF, "time must be a finite"),
                          (-1.0, "time must be >= 0"), (1e300, "after the stop time")]:
        assert message in refused(stub.RunUntil, pb.RunUntilRequest(system_id=running, time=time))
    assert "values[1].name is empty" in refused(stub.SetValues, pb.SetValuesRequest(
        system_id=running, values=[value(SETPOINT, 1.0), value("", 1.0)]))
    for bad in (NAN, INF, -INF):
        assert "values[0] (spindle.speed_setpoint)" in refused(stub.SetValues, pb.SetValuesRequest(
            system_id=running, values=[value(SETPOINT, bad)]))
    assert "names[0] is empty" in refused(stub.GetValues, pb.GetValuesRequest(
        system_id=running, names=[""]))
    assert "names[0] is empty" in refused(stub.StreamOutputs, pb.StreamOutputsRequest(
        system_id=running, names=[" "]))
    assert "names: not recorded: no.such" in refused(stub.StreamOutputs, pb.StreamOutputsRequest(
        system_id=running, names=["no.such"]))
    samples = [pb.InputSample(system_id=running, values=[value(SETPOINT, NAN)])]
    assert "values[0] (spindle.speed_setpoint): nan is not a finite number" in refused(
        stub.StreamInputs, iter(samples))
    # none of that moved or changed the system
    reply = stub.GetValues(pb.GetValuesRequest(system_id=running, names=[SETPOINT]), timeout=10)
    assert reply.time == 0.0 and reply.values[0].value.real == 9000.0


def test_create_fields(orchestrator):
    stub, _, _ = orchestrator
    assert "source: give the system as ssp (bytes) or path" in refused(
        stub.CreateSystem, pb.CreateSystemRequest())
    assert "ssp: the system file sent is empty" in refused(
        stub.CreateSystem, pb.CreateSystemRequest(ssp=b""))
    assert "path: the path is empty" in refused(stub.CheckSystem, pb.CreateSystemRequest(path=" "))


# -- the Twin service --------------------------------------------------------------------

@pytest.fixture(scope="module")
def twin():
    server = twin_server(twins.path("spindle")).start()
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    stub = twin_pb2_grpc.TwinStub(channel)
    session = stub.Instantiate(twin_pb2.InstantiateRequest(), timeout=30).session
    stub.Initialize(twin_pb2.InitializeRequest(session=session), timeout=30)
    stub.FinishInitialization(twin_pb2.SessionRequest(session=session), timeout=30)
    description = stub.Describe(twin_pb2.DescribeRequest(), timeout=30)
    inputs = {v.name: v.value_reference for v in description.variables if v.causality == "input"}
    yield stub, session, inputs
    channel.close()
    server.stop()


def test_twin_fields(twin):
    stub, session, inputs = twin
    for time, step_size, message in [(NAN, 0.01, "time must be a finite number"),
                                     (-1.0, 0.01, "time must be >= 0"),
                                     (INF, 0.01, "time must be a finite number"),
                                     (0.0, INF, "step_size must be a finite number"),
                                     (0.0, NAN, "step_size must be a finite number"),
                                     (0.0, 0.0, "step_size must be > 0")]:
        details = refused(stub.Step, twin_pb2.StepRequest(session=session, time=time,
                                                          step_size=step_size))
        assert message in details
    name, ref = next(iter(inputs.items()))
    details = refused(stub.SetInputs, twin_pb2.SetInputsRequest(
        session=session, inputs=values_pb2.Values(real_refs=[ref], reals=[NAN])))
    assert f"value reference {ref} ({name}): the value is not a finite number" in details
    fresh = stub.Instantiate(twin_pb2.InstantiateRequest(), timeout=30).session
    for fields, message in [({"start_time": NAN}, "start_time must be a finite number"),
                            ({"start_time": -1.0}, "start_time must be >= 0"),
                            ({"stop_time": -1.0}, "stop_time must be a finite number of seconds")]:
        assert message in refused(stub.Initialize, twin_pb2.InitializeRequest(session=fresh,
                                                                              **fields))
    assert "session is empty" in refused(stub.Step, twin_pb2.StepRequest(step_size=0.01))
    assert "session is empty" in refused(stub.Terminate, twin_pb2.SessionRequest())
    assert "no session 'nope'" in refused(stub.Terminate, twin_pb2.SessionRequest(session="nope"),
                                          grpc.StatusCode.NOT_FOUND)
    details = refused(stub.SetState, twin_pb2.SetStateRequest(session=session, data=b"garbage"))
    assert details.startswith("data: not a state of")
    assert "instance_name is 5000 characters long" in refused(
        stub.Instantiate, twin_pb2.InstantiateRequest(instance_name="x" * 5000))
    # the session still steps
    stub.Step(twin_pb2.StepRequest(session=session, time=0.0, step_size=0.01), timeout=30)
