"""FMI 3 clock ticks between communication points, countdown clocks, and
clock schedules in saved states.

Test models (tests/fmus): ``clock_sampler`` samples its input u at each tick
of a periodic clock (0.3 s, first at 0.1 s) and stamps the ticks of its
triggered clock; ``clock_countdown`` winds its own countdown clock, the k-th
countdown (from 0) lasting ``first + k*increase``; ``clock_tunable`` has a
tunable clock of interval ``period``.  Expectations are computed by hand from
these equations; fmpy (which cannot tick clocks) steps the unclocked ramp
source on the same grid, which the cut steps must not move.
"""

import json
import math

import numpy as np
import pytest
from fmpy_driver import Driver

import cosim
from cosim import ConfigurationError, System
from cosim.execution.state import MAGIC

RAMP = {"waveform": 2, "amplitude": 100.0, "start_time": 0.0, "duration": 100.0}


@pytest.fixture(scope="module")
def fmu(test_fmus):
    return lambda name: test_fmus(name, "3.0")


def ramp_sampler(fmu):
    """A ramp y = t into the sampler's input."""
    system = System("sampling")
    system.add("ramp", cosim.twins.path("source", fmi_version="3.0"), parameters=RAMP)
    system.add("smp", fmu("clock_sampler"))
    system.connect("ramp.y", "smp.u")
    return system


def fmpy_ramp(stop_time, step_size):
    """The ramp source stepped by fmpy on the grid t0 + n*h."""
    driver = Driver(cosim.twins.path("source", fmi_version="3.0"))
    try:
        driver.set(**RAMP)        # before initialize, whose own start_time is the run's
        return driver.initialize().run(stop_time, step_size, ["y"])
    finally:
        driver.close()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_steps_are_cut_at_ticks_between_communication_points(fmu, algorithm):
    h = 0.25
    result = ramp_sampler(fmu).simulate(stop_time=2.0, step_size=h, algorithm=algorithm)
    # Communication points stay on the grid: the same times, bit for bit, as
    # fmpy's t0 + n*h, and the ramp gives the same values there.
    reference = fmpy_ramp(2.0, h)
    assert result.time.tolist() == reference["time"].tolist()
    np.testing.assert_array_equal(result["ramp.y"], reference["y"])
    ticks = [0.1 + 0.3 * k for k in range(7)]         # 0.1 ... 1.9; only 1.0 on the grid
    last = [max((tick for tick in ticks if tick < t - 1e-9), default=None) for t in result.time]
    assert list(result["smp.ticks"]) == [sum(1 for tick in ticks if tick < t - 1e-9)
                                         for t in result.time]
    # Each tick is taken at its own time on the values exchanged there: under
    # Jacobi the ramp's value at the tick; under Gauss-Seidel (the ramp steps
    # first) its value where the part of the step starting at the tick ends,
    # the next grid point (the next tick is 0.3 s away).
    if algorithm == "jacobi":
        sampled = [0.0 if tick is None else tick for tick in last]
    else:
        sampled = [0.0 if tick is None else (math.floor(tick / h + 1e-9) + 1) * h
                   for tick in last]
    np.testing.assert_allclose(result["smp.y"], sampled, rtol=0, atol=1e-12)


def test_cut_steps_are_counted_and_the_fmu_sees_each_tick_at_its_time(fmu):
    with ramp_sampler(fmu).start(stop_time=2.0, step_size=0.25) as sim:
        sim.run_until(2.0)
        assert sim.time == 2.0
        assert sim.clock_ticks("smp.tick") == 7
        assert sim.get("smp.y") == pytest.approx(1.9, abs=1e-12)
        # 8 steps of the grid, 6 of them cut once (the tick at 1.0 is on it)
        assert sim.stats["smp"].steps == sim.stats["ramp"].steps == 14
        assert sim.stats["smp"].events == 7


def test_a_tick_scheduled_off_the_grid_is_taken_at_its_time(fmu):
    with ramp_sampler(fmu).start(stop_time=1.0, step_size=0.1) as sim:
        sim.run_until(0.2)
        sim.tick("smp.trigger", at=0.93)
        sim.tick("smp.trigger", at=0.55)
        sim.run_until(0.6)
        assert sim.time == 6 * 0.1                   # t0 + n*h, on the grid
        assert sim.get("smp.hits") == 1
        assert sim.get("smp.hit_time") == 0.55          # the FMU's time at the tick
        sim.run_until(1.0)
        assert sim.get("smp.hits") == 2
        assert sim.get("smp.hit_time") == 0.93
        assert sim.clock_ticks("smp.trigger") == 2


def test_a_tick_at_a_time_not_ahead_is_refused(fmu):
    with ramp_sampler(fmu).start(stop_time=1.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        for at in (0.4, 1.0, 1.5, math.nan, "0.7", True):
            with pytest.raises(ConfigurationError, match=rf"tick smp.trigger at={at!r}: the "
                               r"time of a tick must be a number from the current time 0.5 s "
                               r"to before the stop time 1 s"):
                sim.tick("smp.trigger", at=at)
        with pytest.raises(ConfigurationError, match="smp.tick is not a triggered input clock"):
            sim.tick("smp.tick", at=0.7)
        sim.step(5)
        assert sim.get("smp.hits") == 0


def test_step_multiples_are_refused_beside_clocks(fmu):
    with pytest.raises(ConfigurationError, match=r"step_multiples: ramp cannot step in windows "
                       r"of several steps in a system with FMI 3 clocks \(components smp\)"):
        ramp_sampler(fmu).simulate(stop_time=1.0, step_size=0.1, step_multiples={"ramp": 2})


def countdown_ticks(first, increase, stop):
    """The alarms of clock_countdown up to ``stop``: each countdown runs from
    the previous alarm, the k-th lasting first + k*increase."""
    ticks, t, k = [], 0.0, 0
    while t + first + k * increase <= stop:
        t += first + k * increase
        ticks.append(t)
        k += 1
    return ticks


def test_countdown_clock_ticks_when_each_countdown_runs_out(fmu):
    system = System("alarm")
    system.add("cd", fmu("clock_countdown"))
    result = system.simulate(stop_time=2.0, step_size=0.1)
    ticks = countdown_ticks(0.15, 0.15, 2.0)
    assert ticks == pytest.approx([0.15, 0.45, 0.9, 1.5])
    assert list(result["cd.alarms"]) == [sum(1 for tick in ticks if tick < t - 1e-9)
                                         for t in result.time]
    times = [max((tick for tick in ticks if tick < t - 1e-9), default=-1.0) for t in result.time]
    np.testing.assert_allclose(result["cd.alarm_time"], times, rtol=0, atol=1e-9)


def test_countdown_with_an_interval_not_above_zero_is_refused(fmu):
    for first in (0.0, -0.1):
        system = System("alarm")
        system.add("cd", fmu("clock_countdown"), parameters={"first": first})
        with pytest.raises(ConfigurationError, match=rf"component 'cd': countdown clock alarm "
                           rf"was set to tick in {first!r} s; the interval must be > 0"):
            system.simulate(stop_time=1.0, step_size=0.1)


def test_a_countdown_set_in_an_event_not_above_zero_fails_the_run_naming_the_call(fmu):
    # The first alarm (0.15 s) sets the next countdown to 0.15 - 0.15 = 0 s.
    system = System("alarm")
    system.add("cd", fmu("clock_countdown"), parameters={"increase": -0.15})
    with pytest.raises(cosim.FmiCallError, match=r"component 'cd': fmi3GetIntervalDecimal "
                       r"returned error at t=0.15 s: fmi3GetIntervalDecimal gave a clock "
                       r"interval that is not > 0") as caught:
        system.simulate(stop_time=1.0, step_size=0.1)
    assert list(caught.value.partial_result["cd.alarms"]) == [0, 0]


def clocked_system(fmu):
    system = ramp_sampler(fmu)
    system.add("cd", fmu("clock_countdown"))
    system.add("clk", fmu("clock_tunable"))
    return system


def run_to_end(sim):
    sim.run_until(2.0)
    return (sim.result.time.copy(), {name: sim.result[name].copy() for name in sim.result.names},
            [sim.clock_ticks(c) for c in ("smp.tick", "smp.trigger", "cd.alarm", "clk.tick")])


def after(run, t):
    times, columns, ticks = run
    keep = times >= t - 1e-12
    return times[keep].tolist(), {n: c[keep].tolist() for n, c in columns.items()}, ticks


def prepare(sim):
    """Bring the run to 0.5 s with clocks in mid-schedule: a tick of the
    triggered clock waiting for 0.77 s, a changed interval of the tunable one."""
    sim.run_until(0.3)
    sim.set("clk.period", 0.35)
    sim.tick("smp.trigger", at=0.77)
    sim.run_until(0.5)


def test_saved_state_holds_the_clock_schedules(fmu):
    system = clocked_system(fmu)
    with system.start(stop_time=2.0, step_size=0.1) as sim:
        prepare(sim)
        saved = sim.save_state()
        snapshot = sim.snapshot()
        whole = run_to_end(sim)
        sim.restore(snapshot)
        assert after(run_to_end(sim), 0.5) == after(whole, 0.5)
    with system.start(stop_time=2.0, step_size=0.1) as sim:
        sim.load_state(saved)
        assert after(run_to_end(sim), 0.5) == after(whole, 0.5)
    # smp.tick at 0.1 + 0.3k; the trigger at 0.77; cd at 0.15, 0.45, 0.9, 1.5;
    # clk at 0, 0.2, 0.4 (period 0.2), then every 0.35 s from the event at 0.4
    # where it reported the new period: 0.75, 1.1, 1.45, 1.8
    assert whole[2] == [7, 1, 4, 7]


def header_of(data):
    """The JSON header of a saved state."""
    at = len(MAGIC)
    size = int.from_bytes(data[at + 4:at + 12], "little")
    return json.loads(data[at + 12:at + 12 + size])


def with_header(data, change, version=None):
    """``data`` with its JSON header changed by ``change`` (and its version
    number replaced): the checksum covers the blobs, not the header."""
    at = len(MAGIC)
    size = int.from_bytes(data[at + 4:at + 12], "little")
    header = header_of(data)
    change(header)
    text = json.dumps(header).encode()
    number = data[at:at + 4] if version is None else version.to_bytes(4, "little")
    return MAGIC + number + len(text).to_bytes(8, "little") + text + data[at + 12 + size:]


def as_version_7(data):
    """A state as the previous format wrote it: version 7, no clock schedules."""
    return with_header(data, lambda header: header.pop("clocks"), version=7)


def test_a_state_of_the_previous_format_loads_only_without_clocks(fmu):
    system = clocked_system(fmu)
    with system.start(stop_time=2.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        old = as_version_7(sim.save_state())
    with system.start(stop_time=2.0, step_size=0.1) as sim:
        with pytest.raises(ConfigurationError, match=r"it holds no schedule of the FMI 3 clocks "
                           r"of smp, cd, clk \(saved by a cosim before format version 8\)"):
            sim.load_state(old)
    plain = System("plain")
    plain.add("ramp", cosim.twins.path("source", fmi_version="3.0"), parameters=RAMP)
    with plain.start(stop_time=1.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        old = as_version_7(sim.save_state())
        sim.run_until(1.0)
        expected = sim.get("ramp.y")
    with plain.start(stop_time=1.0, step_size=0.1) as sim:
        sim.load_state(old)
        sim.run_until(1.0)
        assert sim.get("ramp.y") == expected


def test_clock_schedules_that_do_not_fit_or_are_malformed_are_refused(fmu):
    with clocked_system(fmu).start(stop_time=2.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        data = sim.save_state()
        index = sim._plan.names.index("smp")
        short = with_header(data, lambda header: header["clocks"][index].pop())
        with pytest.raises(ConfigurationError, match=r"does not fit this simulation: component "
                           r"'smp' has 2 FMI 3 clocks; the state holds the schedules of 1"):
            sim.load_state(short)
        for bad in (["timed", 1, 2, 0.3, 4, 5], ["timed", 1, 2, -0.3, 4, 5, []],
                    ["timed", 1, 2, 0.3, 4, 5, [0] * 65], ["timed", 1, 2.5, 0.3, 4, 5, []],
                    ["timed", 1, 2, 0.3, 4, True, []], ["weekly", 1, 2, 0.3, 4, 5, []]):
            def change(header, bad=bad):
                header["clocks"][index][0] = bad
            with pytest.raises(ConfigurationError, match="its header field 'clocks' is "
                               "missing or invalid"):
                sim.load_state(with_header(data, change))
        # smp's clocks: tick (timed: 0.1 + 0.3 j s, next 0.7 s) and trigger
        tick, trigger = header_of(data)["clocks"][index]
        assert tick == ["timed", 100_000_000, 2, 0.3, 700_000_000, 2, []]
        assert trigger[0] == "triggered"
        for position, schedule, fault in (
                (0, ["triggered"] + tick[1:], "clock 1: it is a timed clock; the state holds "
                                              "the schedule of a triggered clock"),
                (0, tick[:4] + [100_000_000] + tick[5:], r"clock 1: its next tick 100000000 "
                 r"ns does not follow from its schedule \(base 100000000 ns, tick 2, interval "
                 r"0.3 s\)"),
                (0, tick[:2] + [2**62] + tick[3:], "clock 1: its next tick"),
                (1, trigger[:6] + [[900_000_000, 800_000_000]],
                 "clock 2: its waiting ticks are not in order")):
            def change(header, position=position, schedule=schedule):
                header["clocks"][index][position] = schedule
            with pytest.raises(ConfigurationError, match=r"does not fit this simulation: "
                               rf"component 'smp', {fault}"):
                sim.load_state(with_header(data, change))
        assert sim.time == 0.5


def test_a_component_ending_the_run_at_a_cut_ends_it_there(fmu, test_fmus):
    # stp asks to end the run at 0.4 s, a tick of smp inside the step from
    # 0.25 s: the part of that step before the tick is the last one.
    system = ramp_sampler(fmu)
    system.add("stp", test_fmus("stopper", "3.0"), parameters={"end_at": 0.4})
    result = system.simulate(stop_time=2.0, step_size=0.25)
    assert result.time.tolist() == [0.0, 0.25, 0.4]
    assert result.terminated_by == ("stp",)
    assert result.end_time == 0.4
    assert result["stp.x"][-1] == pytest.approx(0.4)
    assert list(result["smp.ticks"]) == [0, 1, 1]        # the tick at 0.4 is not taken
