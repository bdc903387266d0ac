"""A live twin paced on the wall clock, locally and hosted on the Orchestrator,
and the two live examples run end to end (real processes, a real broker)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import cosim
from cosim import twins
from cosim.errors import RealtimeOverrun
from cosim.live import Binding, LiveTwin
from cosim.rpc import Client, orchestrator_server

ROOT = Path(__file__).resolve().parents[2]


def spindle_simulation(step=0.01, stop=None):
    system = cosim.System("bench")
    system.add("spindle", twins.path("spindle"))
    return system.start(step_size=step, stop_time=stop)


def test_a_live_twin_keeps_to_the_wall_clock_and_applies_samples_as_they_come():
    sim = spindle_simulation()
    twin = LiveTwin(sim, bindings=[Binding("rpm", "spindle.speed_setpoint")], realtime=2.0)
    twin.store.push("rpm", 0.0, 5000.0)
    twin.store.push("rpm", 0.5, 7000.0)
    began = time.perf_counter()
    with twin:
        twin.run_until(1.0)            # 1 s of simulation at twice real time: 0.5 s
    wall = time.perf_counter() - began
    stats = twin.pacer.stats()
    assert stats.steps == 100          # every point after the anchor was waited on
    # Half a second of wall time and how late the last point woke; a busy
    # machine makes that later, the twin's own work adds little.
    assert 0.5 <= stats.wall_duration <= wall <= stats.wall_duration + 0.1
    assert stats.wall_duration == pytest.approx(0.5 + twin.pacer.records()[1][-1], abs=1e-6)
    assert stats.lateness_max >= stats.lateness_p99 >= stats.lateness_p50 >= 0
    assert sim.get("spindle.speed_setpoint") == 7000.0
    assert "real time x2" in twin.report()
    sim.stop()


def test_a_live_twin_that_cannot_keep_up_stops_under_the_stop_policy():
    # Points of 0.25 s, so the limit (one point of wall time) is well above the
    # stalls of a busy machine, and the slow correction well above the limit.
    sim = spindle_simulation(step=0.25)
    slow = []

    def on_alert(event):                   # a deliberately slow correction step
        slow.append(event)
        time.sleep(1.0)

    from cosim.live import Alert
    twin = LiveTwin(sim, realtime=1.0, overrun="stop", on_alert=on_alert,
                    alerts=[Alert("fast", "spindle.speed", above=100.0)])
    with twin, pytest.raises(RealtimeOverrun, match="real-time overrun") as err:
        twin.run_until(10.0)
    assert slow, "the alert fired"
    # The overrun is the point after the slow correction, late by about its length.
    assert err.value.time == pytest.approx(slow[0].time + 0.25)
    assert err.value.lateness > err.value.limit == 0.25
    assert 0 < sim.time < 10.0             # the twin stopped early, its state kept
    sim.stop()


def test_the_orchestrator_runs_a_live_system_in_real_time(tmp_path):
    system = cosim.System("bench")
    system.add("spindle", twins.path("spindle"))
    system.save(tmp_path / "bench.ssp")
    server = orchestrator_server(root=tmp_path).start()
    try:
        with Client(server.url, timeout=30) as client:
            hosted = client.create_system(path="bench.ssp")
            hosted.initialize(step_size=0.01, stop_time=5.0, realtime=1.0,
                              live_inputs=["spindle.load_torque"])
            hosted.stream_inputs([(0.0, {"spindle.load_torque": 12.0})])
            began = time.perf_counter()
            hosted.run_until(0.5)
            first = time.perf_counter() - began
            time.sleep(0.3)                 # a pause between runs is not an overrun
            began = time.perf_counter()
            hosted.run_until(1.0)
            second = time.perf_counter() - began
            report = hosted.live_report()
            # Each call takes its half second of wall time, later only by as much as
            # the machine woke the server late, and a round trip.
            late = report.lateness_max
            assert 0.5 <= first < 0.5 + late + 0.25 and 0.5 <= second < 0.5 + late + 0.25
            assert report.points == 100
            assert report.overruns == 0 or report.lateness_max > 0.01
            assert report.lateness_p99 >= report.lateness_p50 >= 0.0
            assert "real time x1" in report.text
            assert hosted.get("spindle.load_torque") == 12.0
            with pytest.raises(cosim.ServiceError, match="FAILED_PRECONDITION"):
                client.create_system(path="bench.ssp").live_report()
    finally:
        server.stop()


def run_example(*args, timeout=180):
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_hil_bench_example_runs_a_controller_process_against_the_twin():
    out = run_example(ROOT / "examples/hil_bench/hil_bench.py", "--seconds", "2")
    assert "controller: 200 cycles at 100 Hz over gRPC" in out
    assert "read latency (GetValues round trip): p50" in out
    assert "points of 2 ms in real time" in out
    applied = int(out.split("points of 2 ms in real time, ")[1].split()[0])
    assert applied > 100                   # the controller's commands reached the twin


def test_the_live_furnace_example_follows_the_plant_over_mqtt(broker):
    out = run_example(ROOT / "examples/live_furnace/live_furnace.py", "--seconds", "12",
                      "--broker", f"127.0.0.1:{broker.port}")
    assert "plant done: 12000 messages" in out
    assert "MQTT: 12000 messages" in out
    last = [line for line in out.splitlines() if line.strip().startswith("t=")][-1]
    error = float(last.split("error")[1].strip().rstrip("%"))
    assert abs(error) < 15.0               # the estimate follows the fouling
    assert "ALERT heat-up zone fouled" in out
    assert "what-if from the live state" in out
