"""The Orchestrator under pressure: quotas, full queues, clients that go away,
Terminate of a busy system, and a server stopped while systems step.

A busy system is the line twin stepping a Step of many steps (about 20 us
each); every test ends it (Terminate, the client's deadline, or the server's
stop) well before it would finish.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cosim.rpc import orchestrator_server
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc
from cosim.v1.values_pb2 import NamedValue, Value

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line

SETPOINT = "spindle.speed_setpoint"
FOREVER = 100_000_000            # steps: far longer than any test runs
RECORD = ["spindle.speed"]


@pytest.fixture
def line_bytes(tmp_path):
    path = tmp_path / "line.ssp"
    build_line().save(path)
    return path.read_bytes()


class Host:
    """An in-process Orchestrator with the given quotas, and a stub of it."""

    def __init__(self, root, **quotas):
        self.server = orchestrator_server(root=root, **quotas).start()
        self.channel = grpc.insecure_channel(self.server.url.removeprefix("grpc://"))
        self.stub = orchestrator_pb2_grpc.OrchestratorStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    @property
    def service(self):
        return self.server.service

    def running_line(self, ssp: bytes, *, record=RECORD) -> str:
        system_id = self.stub.CreateSystem(pb.CreateSystemRequest(ssp=ssp), timeout=60).system_id
        self.stub.Initialize(pb.InitializeSystemRequest(system_id=system_id, step_size=1.0,
                                                        record=record), timeout=60)
        return system_id

    def subscribed(self, system_id: str, **request):
        """A StreamOutputs call, returned once the server has subscribed it."""
        rows = self.stub.StreamOutputs(pb.StreamOutputsRequest(system_id=system_id, **request),
                                       timeout=120)
        deadline = time.monotonic() + 10
        while not self.service._systems[system_id].subscribers:
            assert time.monotonic() < deadline, "the stream was not subscribed"
            time.sleep(0.02)
        return rows

    def close(self):
        self.channel.close()
        self.server.stop()


@pytest.fixture
def host(tmp_path):
    hosts = []

    def make(**quotas):
        hosts.append(Host(tmp_path, **quotas))
        return hosts[-1]

    yield make
    for h in hosts:
        h.close()


def in_thread(call, *args, **kwargs):
    """Run ``call`` in a thread; returns (thread, outcome) where outcome["result"]
    or outcome["error"] is filled when it ends."""
    outcome: dict = {}

    def run():
        began = time.monotonic()
        try:
            outcome["result"] = call(*args, **kwargs)
        except grpc.RpcError as error:
            outcome["error"] = error
        outcome["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def busy(h: Host, system_id: str, *, timeout: float = 60.0):
    """Start a Step that would take hours; returns once it runs."""
    thread, outcome = in_thread(h.stub.Step, pb.StepSystemRequest(system_id=system_id,
                                                                   steps=FOREVER), timeout=timeout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        steps = h.stub.ListSystems(pb.ListSystemsRequest(), timeout=5).systems[0].steps
        if steps > 0:
            return thread, outcome
        time.sleep(0.05)
    raise AssertionError("the Step did not start")


def get_setpoint(h: Host, system_id: str, **kwargs):
    return h.stub.GetValues(pb.GetValuesRequest(system_id=system_id, names=[SETPOINT]), **kwargs)


def set_setpoint(h: Host, system_id: str, value: float, **kwargs):
    return h.stub.SetValues(pb.SetValuesRequest(
        system_id=system_id, values=[NamedValue(name=SETPOINT, value=Value(real=value))]), **kwargs)


# -- responsive under load ---------------------------------------------------------------

def test_server_calls_never_wait_behind_a_busy_system(host, line_bytes):
    h = host()
    system_id = h.running_line(line_bytes)
    step, _ = busy(h, system_id)
    # More callers wait on the system than the server has threads for system calls.
    waiting = [in_thread(get_setpoint, h, system_id, timeout=30) for _ in range(60)]
    time.sleep(1.0)
    for _ in range(5):
        began = time.monotonic()
        assert len(h.stub.ListSystems(pb.ListSystemsRequest(), timeout=2).systems) == 1
        reply = h.health.Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert time.monotonic() - began < 0.5
    began = time.monotonic()
    h.stub.Terminate(pb.SystemRequest(system_id=system_id), timeout=5)
    assert time.monotonic() - began < 2.0
    step.join(10)
    refused = 0
    for thread, outcome in waiting:
        thread.join(10)
        code = outcome["error"].code()
        assert code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED), outcome
        refused += code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused >= 60 - 16       # all but --max-queued-calls were refused at once


def test_a_full_queue_answers_resource_exhausted_at_once(host, line_bytes):
    h = host(max_queued_calls=2)
    system_id = h.running_line(line_bytes)
    step, _ = busy(h, system_id)              # one call running
    queued, queued_outcome = in_thread(get_setpoint, h, system_id, timeout=30)   # one waiting
    time.sleep(0.5)
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        get_setpoint(h, system_id, timeout=30)
    assert time.monotonic() - began < 0.5
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = refused.value.details()
    assert "--max-queued-calls" in details and "the limit is 2" in details and system_id in details
    h.stub.Terminate(pb.SystemRequest(system_id=system_id), timeout=5)
    step.join(10)
    queued.join(10)
    assert queued_outcome["error"].code() == grpc.StatusCode.ABORTED


def test_a_call_whose_client_has_gone_is_dropped_before_it_runs(host, line_bytes):
    h = host()
    system_id = h.running_line(line_bytes)
    # The Step's own deadline ends it (at its next slice, not after FOREVER steps).
    step, step_outcome = busy(h, system_id, timeout=3.0)
    with pytest.raises(grpc.RpcError) as late:
        set_setpoint(h, system_id, 1234.0, timeout=0.5)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    step.join(10)
    assert step_outcome["error"].code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert step_outcome["seconds"] < 4.0
    reply = get_setpoint(h, system_id, timeout=10)
    assert reply.values[0].value.real == 9000.0          # the SetValues never ran
    status = h.stub.ListSystems(pb.ListSystemsRequest(), timeout=5).systems[0]
    assert 0 < status.steps < FOREVER
    assert h.service._systems[system_id].dropped_calls == 1


def test_terminate_of_a_busy_system_returns_within_2_s(host, line_bytes):
    h = host()
    system_id = h.running_line(line_bytes)
    step, step_outcome = busy(h, system_id)
    began = time.monotonic()
    status = h.stub.Terminate(pb.SystemRequest(system_id=system_id), timeout=10)
    assert time.monotonic() - began < 2.0
    assert status.state == pb.SYSTEM_STATE_TERMINATED
    step.join(5)
    assert step_outcome["error"].code() == grpc.StatusCode.ABORTED
    assert "terminated" in step_outcome["error"].details()
    assert not h.stub.ListSystems(pb.ListSystemsRequest(), timeout=5).systems
    with pytest.raises(grpc.RpcError) as gone:
        get_setpoint(h, system_id, timeout=5)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


def test_sigterm_stops_a_server_stepping_a_long_run_until_within_5_s(start_server, tmp_path,
                                                                     line_bytes):
    server = start_server("serve", "--root", tmp_path)
    channel = grpc.insecure_channel(server.url.removeprefix("grpc://"))
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    system_id = stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60).system_id
    stub.Initialize(pb.InitializeSystemRequest(system_id=system_id, step_size=1.0, record=RECORD),
                    timeout=60)
    progress = stub.RunUntil(pb.RunUntilRequest(system_id=system_id, time=1e9), timeout=120)
    next(progress)                      # the run is under way
    began = time.monotonic()
    assert server.terminate(timeout=10) == 0
    assert time.monotonic() - began < 5.0
    with pytest.raises(grpc.RpcError):
        for _ in progress:
            pass
    channel.close()


def test_calls_in_progress_are_bounded_server_wide_but_server_calls_are_not(host, line_bytes):
    h = host(max_calls=2)
    system_id = h.running_line(line_bytes)
    streams = [h.subscribed(system_id) for _ in range(2)]      # two calls held open
    while len(h.service._systems[system_id].subscribers) < 2:
        time.sleep(0.02)
    began = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        get_setpoint(h, system_id, timeout=10)
    assert time.monotonic() - began < 0.5
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-calls" in refused.value.details() and "the limit is 2" in refused.value.details()
    assert len(h.stub.ListSystems(pb.ListSystemsRequest(), timeout=2).systems) == 1
    for stream in streams:
        stream.cancel()
    deadline = time.monotonic() + 10
    while True:                 # the slots come back as the streams end
        try:
            assert get_setpoint(h, system_id, timeout=10).values[0].value.real == 9000.0
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() < deadline
            time.sleep(0.1)


# -- quotas ------------------------------------------------------------------------------

def test_max_systems_names_the_limit_and_the_flag(host, line_bytes):
    h = host(max_systems=1)
    h.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60)
    with pytest.raises(grpc.RpcError) as refused:
        h.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "the limit is 1" in refused.value.details()
    assert "--max-systems" in refused.value.details()


def test_total_unpacked_bytes_are_bounded_over_all_systems(host, line_bytes):
    probe = host()
    first = probe.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60).system_id
    one = probe.service.unpacked.used
    assert one > len(line_bytes)
    probe.stub.Terminate(pb.SystemRequest(system_id=first), timeout=10)
    assert probe.service.unpacked.used == 0           # given back
    probe.stub.CheckSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60)
    assert probe.service.unpacked.used == 0           # a check keeps nothing

    h = host(max_total_unpacked_bytes=int(1.5 * one))
    first = h.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60).system_id
    with pytest.raises(grpc.RpcError) as refused:
        h.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-total-unpacked-bytes" in refused.value.details()
    assert h.service.unpacked.used == one             # the refused one took nothing
    h.stub.Terminate(pb.SystemRequest(system_id=first), timeout=10)
    h.stub.CreateSystem(pb.CreateSystemRequest(ssp=line_bytes), timeout=60)


def test_a_system_keeps_at_most_max_rows_in_memory(host, line_bytes):
    h = host(max_rows=500)
    system_id = h.running_line(line_bytes)
    rows = h.subscribed(system_id)
    h.stub.Step(pb.StepSystemRequest(system_id=system_id, steps=5000), timeout=60)
    result = h.service._systems[system_id].sim.result
    assert len(result) == 500 and result.total == 5001
    assert result.time[0] == 4501.0 and result.time[-1] == 5000.0
    # A subscriber still got every row, in order.
    times = []
    for row in rows:
        times.append(row.time)
        if row.time == 5000.0:
            break
    assert times == [float(t) for t in range(1, 5001)]
    rows.cancel()


def test_the_stream_backlog_is_counted_in_rows(host, line_bytes):
    h = host(max_stream_backlog=10)
    system_id = h.running_line(line_bytes)
    h.stub.Step(pb.StepSystemRequest(system_id=system_id, steps=20_000), timeout=60)
    rows = h.subscribed(system_id)
    # A step's rows are offered in slices of many rows: the first is already too many.
    h.stub.Step(pb.StepSystemRequest(system_id=system_id, steps=20_000), timeout=60)
    with pytest.raises(grpc.RpcError) as ended:
        for _ in rows:
            pass
    assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "10 rows behind" in ended.value.details()
    assert "--max-stream-backlog" in ended.value.details()
    assert not h.service._systems[system_id].subscribers


def test_a_subscriber_that_never_reads_is_dropped_and_stepping_goes_on(host, line_bytes):
    h = host(max_stream_backlog=1000)
    system_id = h.running_line(line_bytes, record=[])    # every output: rows fill the transport
    stalled = h.subscribed(system_id)
    began = time.monotonic()
    for _ in range(20):
        h.stub.Step(pb.StepSystemRequest(system_id=system_id, steps=10_000), timeout=60)
    assert time.monotonic() - began < 60
    assert not h.service._systems[system_id].subscribers
    with pytest.raises(grpc.RpcError) as ended:
        for _ in stalled:
            pass
    assert ended.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED)


def test_quota_flags_are_checked(start_server, tmp_path):
    import subprocess
    for flag in ("--max-queued-calls", "--max-rows", "--max-stream-backlog", "--max-calls"):
        done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                               "--port", "0", flag, "0"], capture_output=True, text=True, check=False,
                              timeout=60)
        assert done.returncode == 1
        assert f"{flag} must be a whole number > 0" in done.stderr
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--port", "0",
                           "--max-total-unpacked-bytes", "lots"], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 1 and "--max-total-unpacked-bytes" in done.stderr
