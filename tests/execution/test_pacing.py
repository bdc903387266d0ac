"""Real-time pacing: the Pacer on its own, and real-time runs of FMU systems.

Each test runs at most a couple of seconds of wall clock.  The margins are
generous because the machines that run the suite are shared: a busy virtual
CPU can lose several milliseconds at a time.
"""

import math
import time

import numpy as np
import pytest

from cosim import (ConfigurationError, FmiCallError, PythonComponent, RealtimeOverrun, System,
                   simulate, twins)
from cosim.execution.pacing import Pacer, RealtimeStats


class Stamper(PythonComponent):
    """y = u; records the wall clock (perf_counter_ns) and the simulation time at
    each do step, and sleeps ``delay`` seconds in the steps starting in
    [slow_from, slow_until)."""

    parameters = {"delay": 0.0, "slow_from": 0.0, "slow_until": 0.0}
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}
    stamps: list = []       # shared by the copies a simulation makes of the prototype

    def update_outputs(self):
        self["y"] = self["u"]

    def do_step(self, t, h):
        type(self).stamps.append((t, time.perf_counter_ns()))
        if self["slow_from"] <= t < self["slow_until"]:
            time.sleep(self["delay"])
        self.update_outputs()


def spindle_line(**stamper):
    """A spindle twin FMU whose speed feeds a Stamper."""
    Stamper.stamps = []
    system = System("bench")
    system.add("spindle", twins.path("spindle"), parameters={})
    system.add("probe", Stamper, parameters=stamper)
    system.connect("spindle.speed", "probe.u")
    return system


# -- a real FMU system in real time -----------------------------------------------------------------

def test_two_seconds_at_100_hz_take_two_seconds_of_wall_clock():
    system = spindle_line()
    sim = system.start(stop_time=2.0, step_size=0.01, realtime=True)
    with sim:
        started = time.perf_counter()
        sim.run()
        measured = time.perf_counter() - started
        times, lateness, jitter = sim.pacer.records()
    stats = sim.result.realtime
    assert isinstance(stats, RealtimeStats) and stats == sim.realtime_stats
    # Never early; late only by the last point's lateness (what a busy machine
    # adds) and the little work before the first and after the last point.
    assert 2.0 + lateness[-1] <= measured <= 2.0 + lateness[-1] + 0.1
    # A busy machine may wake a point late enough that the next ones are batched.
    assert stats.steps + stats.skipped == 200 and stats.factor == 1.0
    assert len(sim.result.time) == 201 and sim.result.time[-1] == 2.0
    # The pacer's figures agree with the wall clock: the run ends when the last
    # point is due plus its lateness, which the caller saw as overshoot.
    assert stats.wall_duration == pytest.approx(2.0 + lateness[-1], abs=1e-6)
    assert stats.wall_duration <= measured
    assert lateness[-1] <= measured - 2.0
    assert len(times) == stats.steps and times[-1] == 2.0
    assert np.all(lateness >= 0) and np.all(jitter >= 0)
    assert stats.lateness_max == pytest.approx(lateness.max())
    assert 0 <= stats.lateness_p50 <= stats.lateness_p99 <= stats.lateness_max
    assert 0 <= stats.jitter_p50 <= stats.jitter_p99 <= stats.jitter_max
    assert stats.lateness_p50 < 0.01           # the median point is no overrun, even on a busy machine
    assert f"{stats.steps} communication points of 0.01 s" in stats.summary()


def test_no_step_starts_before_its_point_is_due():
    system = spindle_line()
    # A lenient "stop" keeps the schedule fixed (no batches, no shifts), so
    # every point's due time can be checked afterwards.
    with system.start(stop_time=0.5, step_size=0.01, realtime=True, overrun="stop",
                      max_lateness=1.0) as sim:
        sim.run()
        pacer = sim.pacer
        times, lateness, _ = pacer.records()
        # The probe steps from t_k right after the wait for t_k returned.
        stamps = [(t, wall) for t, wall in Stamper.stamps if t > 0]
        assert len(stamps) == 49
        for k, (t, wall) in enumerate(stamps):
            assert t == pytest.approx(times[k])
            assert wall >= pacer.due(t), f"step from t={t} started early"
            assert wall - pacer.due(t) >= lateness[k] * 1e9 - 1
    assert Stamper.stamps[0][0] == 0.0


def test_factor_10_runs_ten_times_faster():
    system = spindle_line()
    started = time.perf_counter()
    with system.start(stop_time=2.0, step_size=0.01, realtime=10) as sim:
        sim.run()
        measured = time.perf_counter() - started
        _, lateness, _ = sim.pacer.records()
    stats = sim.result.realtime
    assert stats.factor == 10.0
    assert stats.wall_duration == pytest.approx(0.2 + lateness[-1], abs=1e-6)
    assert stats.wall_duration <= measured <= stats.wall_duration + 0.1
    assert stats.steps + stats.skipped == 200
    assert stats.max_lateness == pytest.approx(0.001)     # one step of wall time


def test_unpaced_run_has_no_realtime_stats():
    system = spindle_line()
    with system.start(stop_time=0.1, step_size=0.01) as sim:
        sim.run()
        assert sim.realtime_stats is None and sim.pacer is None
    assert sim.result.realtime is None


def test_paced_schedule_carries_across_run_until_calls():
    system = spindle_line()
    with system.start(step_size=0.01, realtime=True) as sim:   # no stop time
        started = time.perf_counter()
        for k in range(1, 6):
            sim.run_until(0.1 * k)
        sim.step(10)
        measured = time.perf_counter() - started
        assert sim.time == pytest.approx(0.6)
        stats = sim.realtime_stats
        assert stats.steps + stats.skipped == 60
        last = sim.pacer.records()[1][-1]
    # One schedule for all the calls: 0.6 s, plus how late the last point woke.
    assert 0.6 + last <= measured < 0.6 + last + 0.1


# -- overrun policies -------------------------------------------------------------------------

def test_stop_raises_naming_time_lateness_and_limit_and_keeps_the_result():
    system = spindle_line(delay=0.15, slow_from=0.3, slow_until=0.305)
    sim = system.start(stop_time=1.0, step_size=0.01, realtime=True, overrun="stop",
                       max_lateness=0.05)
    with sim:
        with pytest.raises(RealtimeOverrun) as caught:
            sim.run()
        error = caught.value
        assert error.time == pytest.approx(0.31)
        assert 0.135 <= error.lateness <= 0.3          # a 150 ms step in a 10 ms slot
        assert error.limit == 0.05
        assert "t=0.31 s" in str(error) and "ms after it was due" in str(error)
        assert "limit of 50.000 ms" in str(error)
        assert error.stats.overruns == 1 and error.stats.steps == 31
        assert error.partial_result is sim.result
        assert sim.result.time[-1] == pytest.approx(0.31)
        assert len(sim.result["probe.y"]) == 32
        # The simulation stays usable: the rest of the run follows a new schedule.
        started = time.perf_counter()
        sim.run()
        rest = time.perf_counter() - started
        last = sim.pacer.records()[1][-1]
        assert 0.69 + last <= rest < 0.69 + last + 0.1
        assert sim.result.time[-1] == 1.0
    assert sim.result.realtime.overruns == 1 and sim.result.realtime.steps == 100


def test_slow_shifts_the_schedule_by_the_overrun():
    system = spindle_line(delay=0.3, slow_from=0.3, slow_until=0.305)
    started = time.perf_counter()
    with system.start(stop_time=1.0, step_size=0.01, realtime=True, overrun="slow") as sim:
        sim.run()
        measured = time.perf_counter() - started
        times, lateness, _ = sim.pacer.records()
    stats = sim.result.realtime
    assert stats.skipped == 0 and stats.steps == 100 and stats.overruns >= 1
    stalled = lateness[np.searchsorted(times, 0.31 - 1e-9)]
    assert 0.285 <= stalled < 0.4              # a 300 ms step in a 10 ms slot
    # Every overrun shifted the schedule by its lateness; the run ends that much later.
    assert stats.slowdown == pytest.approx(lateness[lateness > 0.01].sum(), abs=1e-6)
    assert stats.slowdown >= stalled
    assert stats.wall_duration == pytest.approx(1.0 + stats.slowdown + lateness[-1], abs=1e-6)
    assert measured >= 1.0 + stalled


def test_skip_batches_the_overdue_points_and_catches_up():
    system = spindle_line(delay=0.3, slow_from=0.3, slow_until=0.305)
    with system.start(stop_time=1.0, step_size=0.01, realtime=True, overrun="skip") as sim:
        sim.run()
        times, lateness, _ = sim.pacer.records()
    result = sim.result
    stats = result.realtime
    k = np.searchsorted(times, 0.31 - 1e-9)
    assert lateness[k] >= 0.285 and stats.overruns >= 1 and stats.slowdown == 0.0
    # The ~29 points due during the stall were stepped in one batch.
    assert times[k + 1] - times[k] >= 0.26
    assert stats.skipped >= 25 and stats.steps + stats.skipped == 100
    # Back on schedule: the run ends when 1 s is due, not the stall's length later.
    assert stats.wall_duration == pytest.approx(1.0 + lateness[-1], abs=1e-6)
    assert stats.wall_duration < 1.0 + lateness[k]
    # Skipped points were still computed and recorded, just not waited on.
    np.testing.assert_allclose(result.time, np.linspace(0.0, 1.0, 101), atol=1e-12)
    assert len(Stamper.stamps) == 100


def test_failing_fmu_in_a_realtime_run_keeps_the_partial_result(test_fmus):
    system = System("failing")
    system.add("g", test_fmus("failing_gain"), parameters={"fail_time": 0.25})
    with pytest.raises(FmiCallError) as caught:
        simulate(system, stop_time=1.0, step_size=0.05, realtime=True)
    partial = caught.value.partial_result
    assert "g" in str(caught.value) and caught.value.time == pytest.approx(0.25)
    assert partial.time[-1] == pytest.approx(0.25)
    assert partial.realtime.steps == 5


# -- bad inputs -------------------------------------------------------------------------------

@pytest.mark.parametrize("realtime, message", [
    (0, "factor must be a finite number > 0"),
    (-2.0, "factor must be a finite number > 0"),
    (math.nan, "factor must be a finite number > 0"),
    (math.inf, "factor must be a finite number > 0"),
    ("fast", "realtime must be True, False or a real-time factor"),
    ([1.0], "realtime must be True, False or a real-time factor"),
])
def test_bad_realtime_factor_is_refused_before_loading(realtime, message):
    with pytest.raises(ConfigurationError, match=message):
        spindle_line().start(stop_time=1.0, step_size=0.01, realtime=realtime)


def test_unknown_overrun_policy_and_bad_limit_are_refused():
    with pytest.raises(ConfigurationError, match="overrun must be one of skip, slow, stop, got 'hurry'"):
        spindle_line().start(stop_time=1.0, step_size=0.01, realtime=True, overrun="hurry")
    with pytest.raises(ConfigurationError, match="max_lateness must be a finite number >= 0"):
        spindle_line().start(stop_time=1.0, step_size=0.01, realtime=True, max_lateness=-1)


def test_realtime_with_variable_step_is_refused():
    with pytest.raises(ConfigurationError, match="cannot be combined with variable_step"):
        spindle_line().start(stop_time=1.0, step_size=0.01, realtime=2.0, variable_step=True)


# -- the Pacer on its own ---------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"step_size": 0.01, "factor": 0}, "factor must be a finite number > 0"),
    ({"step_size": 0.01, "factor": True}, "factor must be a finite number > 0"),
    ({"step_size": 0.01, "factor": "1"}, "factor must be a finite number > 0"),
    ({"step_size": 0}, "step_size must be a finite number > 0"),
    ({"step_size": 0.01, "overrun": "drop"}, "overrun must be one of skip, slow, stop"),
    ({"step_size": 0.01, "spin": -1e-4}, "spin must be a finite number >= 0"),
    ({"step_size": 0.01, "max_lateness": math.nan}, "max_lateness must be a finite number >= 0"),
])
def test_pacer_refuses_bad_options(options, message):
    with pytest.raises(ConfigurationError, match=message):
        Pacer(**options)


def test_pacer_refuses_waits_before_start_and_out_of_order():
    pacer = Pacer(step_size=0.001, factor=100)
    with pytest.raises(ConfigurationError, match=r"before Pacer.start\(\)"):
        pacer.wait(0.001)
    pacer.start(1.0)
    pacer.wait(1.001)
    with pytest.raises(ConfigurationError, match="does not come after the previous one"):
        pacer.wait(1.001)
    with pytest.raises(ConfigurationError, match="finite number of seconds"):
        pacer.resume(math.nan)
    pacer.resume(0.5)                 # after a rollback: a new anchor, the same statistics
    pacer.wait(0.501)
    assert pacer.stats().steps == 2


def test_pacer_overdue_counts_the_points_a_late_caller_can_batch():
    pacer = Pacer(step_size=0.1, overrun="skip")
    pacer.start(0.0)
    assert pacer.overdue() == 0
    time.sleep(0.25)                  # the work before t=0.1 took 2.5 intervals (or more)

    def behind(t: float, call):
        """call() and the whole intervals since ``t`` was due, before and after it."""
        before = time.perf_counter_ns() - pacer.due(t)
        value = call()
        after = time.perf_counter_ns() - pacer.due(t)
        return value, before, after

    # t=0.1 and t=0.2 are due (t=0.3 too if the sleep overslept that much).
    overdue, before, after = behind(0.0, pacer.overdue)
    assert before // 100_000_000 <= overdue <= after // 100_000_000 and overdue >= 2
    lateness, before, after = behind(0.1, lambda: pacer.wait(0.1))
    assert before / 1e9 <= lateness <= after / 1e9 and lateness >= 0.15
    overdue, before, after = behind(0.1, pacer.overdue)
    assert before // 100_000_000 <= overdue <= after // 100_000_000 and overdue >= 1
    # The caller steps t=0.2 with t=0.3 and waits for t=0.3: still ahead of it
    # unless the machine made the work before it late too.
    late_again, before, after = behind(0.3, lambda: pacer.wait(0.3))
    stats = pacer.stats()
    assert (stats.steps, stats.skipped) == (2, 1)
    assert (stats.late, stats.overruns) == ((1, 1) if before < 0 else (2, 1 + (late_again > 0.1)))
    assert stats.wall_duration == pytest.approx(0.3 + late_again, abs=1e-6)


def test_pacer_records_grow_past_their_first_capacity():
    pacer = Pacer(step_size=1e-3, factor=1000.0, spin=0.0)      # points 1 us apart
    pacer.start(0.0)
    for k in range(1, 10_001):
        pacer.wait(k * 1e-3)
    times, lateness, jitter = pacer.records()
    assert len(lateness) == len(jitter) == 10_000 == pacer.stats().steps
    assert times[0] == 1e-3 and times[-1] == 10.0
    assert np.all(lateness >= 0) and np.all(jitter >= 0)


def test_pacer_without_points_reports_nan():
    stats = Pacer(step_size=0.01).stats()
    assert stats.steps == 0 and math.isnan(stats.lateness_p50) and math.isnan(stats.jitter_max)
    assert "n/a" in stats.summary()
