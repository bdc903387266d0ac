"""Live inputs on the Orchestrator: timestamped samples on the input stream
feed a hosted system's inputs, read at each communication point by policy.

End-to-end cases run against a real `cosim serve` process; refusals use an
in-process server.  Expected values are computed by hand from the samples.
"""

from __future__ import annotations

import pytest

import cosim
from cosim import twins
from cosim.errors import ServiceError
from cosim.rpc import Client, orchestrator_server

SETPOINT = "spindle.speed_setpoint"
LOAD = "spindle.load_torque"


@pytest.fixture
def spindle_ssp(tmp_path):
    system = cosim.System("bench")
    system.add("spindle", twins.path("spindle"))
    system.save(tmp_path / "bench.ssp")
    return tmp_path / "bench.ssp"


@pytest.fixture
def in_process(tmp_path, spindle_ssp):
    server = orchestrator_server(root=tmp_path).start()
    client = Client(server.url, timeout=30)
    yield client
    client.close()
    server.stop()


def test_timestamped_samples_follow_hold_and_interpolation(start_server, tmp_path, spindle_ssp):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        system = client.create_system(path="bench.ssp")
        system.initialize(step_size=1.0, stop_time=100.0,
                          live_inputs=[SETPOINT, {"name": LOAD, "policy": "interpolate"}])
        taken = system.stream_inputs([
            (0.0, {SETPOINT: 5000.0, LOAD: 2.0}),
            (10.0, {SETPOINT: 8000.0, LOAD: 12.0}),
            (20.0, {SETPOINT: 6000.0, LOAD: 12.0}),
        ])
        assert taken == (3, 6)
        system.run_until(5.0)
        # At the point t=4 (the last read before t=5): hold gives the t=0 sample,
        # interpolation 2 + (12-2)*4/10.
        assert system.get(SETPOINT) == 5000.0
        assert system.get(LOAD) == pytest.approx(6.0)
        system.run_until(15.0)
        assert system.get(SETPOINT) == 8000.0
        assert system.get(LOAD) == 12.0
        system.run_until(30.0)       # past the last sample: held
        assert system.get(SETPOINT) == 6000.0
        report = system.live_report()
        assert report.points == 30
        assert report.samples == 6
        assert not report.rejected
        assert report.stale_inputs == []


def test_bad_samples_are_counted_and_the_stream_goes_on(in_process):
    system = in_process.create_system(path="bench.ssp")
    system.initialize(step_size=1.0, stop_time=50.0, live_inputs=[{"name": SETPOINT, "max_age": 5.0}])
    system.stream_inputs([
        (0.0, {SETPOINT: 7000.0, "spindle.no_such_input": 1.0}),
        (1.0, {SETPOINT: "fast"}),
        (2.0, {SETPOINT: float("nan")}),
    ])
    system.run_until(3.0)
    assert system.get(SETPOINT) == 7000.0
    system.stream_inputs([(3.0, {SETPOINT: 7500.0})])    # a new stream after the bad one
    system.run_until(5.0)
    assert system.get(SETPOINT) == 7500.0
    system.run_until(20.0)                               # nothing since t=3: stale after 5 s
    report = system.live_report()
    assert dict(report.rejected) == {"unknown": 1, "non-numeric": 1, "non-finite": 1}
    assert any("spindle.no_such_input" in p for p in report.problems)
    assert any("'fast'" in p for p in report.problems)
    assert report.stale_inputs == [SETPOINT]
    assert "stale at" in report.text


def test_untimed_samples_still_set_values_at_once(in_process):
    system = in_process.create_system(path="bench.ssp")
    system.initialize(step_size=1.0, stop_time=10.0, live_inputs=[SETPOINT])
    system.stream_inputs([{LOAD: 9.0}])
    assert system.get(LOAD) == 9.0


def test_live_requests_that_cannot_work_are_refused(in_process):
    plain = in_process.create_system(path="bench.ssp")
    plain.initialize(step_size=1.0, stop_time=10.0)
    with pytest.raises(ServiceError, match="FAILED_PRECONDITION.*no live inputs"):
        plain.stream_inputs([(0.0, {SETPOINT: 1.0})])
    with pytest.raises(ServiceError, match="FAILED_PRECONDITION.*neither live nor real time"):
        plain.live_report()

    cases = [
        ({"live_inputs": ["spindle.speed"]}, "spindle.speed is an output"),
        ({"live_inputs": ["spindle.nope"]}, "nope"),
        ({"live_inputs": [{"name": SETPOINT, "policy": "cubic"}]}, "policy must be one of"),
        ({"live_inputs": [SETPOINT, SETPOINT]}, "bound twice"),
        ({"realtime": -1.0}, "realtime_factor must be >= 0"),
    ]
    for options, message in cases:
        system = in_process.create_system(path="bench.ssp")
        with pytest.raises(ServiceError, match="INVALID_ARGUMENT") as err:
            system.initialize(step_size=1.0, stop_time=10.0, **options)
        assert message in str(err.value)
        # The refused system can still be initialized properly.
        system.initialize(step_size=1.0, stop_time=10.0, live_inputs=[SETPOINT])
        assert system.step(2) == 2.0


def test_steps_of_a_live_system_stop_at_the_stop_time(in_process):
    system = in_process.create_system(path="bench.ssp")
    system.initialize(step_size=1.0, stop_time=5.0, live_inputs=[SETPOINT])
    system.stream_inputs([(0.0, {SETPOINT: 4000.0})])
    assert system.step(5) == 5.0
    assert system.get(SETPOINT) == 4000.0
    with pytest.raises(ServiceError, match="pass the stop time"):
        system.step(1)
    assert system.live_report().points == 5


def test_batches_carry_many_samples_per_message(in_process):
    system = in_process.create_system(path="bench.ssp")
    system.initialize(step_size=1.0, stop_time=100.0,
                      live_inputs=[SETPOINT, {"name": LOAD, "policy": "interpolate"}])
    times = [float(t) for t in range(0, 50, 2)]
    taken = system.stream_batches([
        {SETPOINT: (times, [5000.0 + 100 * t for t in times]),
         LOAD: (times, [t / 2 for t in times])},
        {LOAD: ([60.0, 61.0], [1.0])},                 # lengths differ: malformed
    ])
    assert taken == (2, 51)
    system.run_until(10.0)
    # The point t=9 read the setpoint sample at t=8 (hold) and load at 9/2 (interpolated).
    assert system.get(SETPOINT) == 5800.0
    assert system.get(LOAD) == pytest.approx(4.5)
    report = system.live_report()
    assert report.samples == 50
    assert dict(report.rejected) == {"malformed": 1}
    assert any(LOAD in p for p in report.problems)


def test_a_sample_mixing_batches_and_untimed_values_is_refused(in_process):
    from cosim.v1 import orchestrator_pb2 as pb
    from cosim.v1.values_pb2 import NamedValue, Value

    system = in_process.create_system(path="bench.ssp")
    system.initialize(step_size=1.0, stop_time=10.0, live_inputs=[SETPOINT])
    mixed = pb.InputSample(system_id=system.id,
                           values=[NamedValue(name=LOAD, value=Value(real=3.0))],
                           batches=[pb.SampleBatch(name=SETPOINT, times=[0.0], values=[1.0])])
    with pytest.raises(ServiceError, match="INVALID_ARGUMENT.*mixes live and immediate"):
        in_process.call("StreamInputs", iter([mixed]), timeout=10)
