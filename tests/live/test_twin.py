"""LiveTwin on the real twin FMUs: bindings, comparisons, alerts, bad data and what-if forks."""

import math
import threading

import numpy as np
import pytest

from cosim import ConfigurationError, System, twins
from cosim.live.twin import Alert, AlertEvent, Binding, Comparison, LiveTwin

HEAT_MAX_POWER = 250e3          # furnace model.toml: heat_zone_max_power


def furnace(*, step_size=1.0, stop_time=None, record=None, **parameters):
    """A started simulation of one furnace (open loop unless told otherwise)."""
    system = System("line")
    system.add("furnace", twins.path("furnace"), parameters={"closed_loop": False, **parameters})
    return system.start(step_size=step_size, stop_time=stop_time, record=record)


@pytest.fixture
def open_loop():
    sim = furnace()
    yield sim
    sim.stop()


def command_binding(**options):
    return Binding("cmd", "furnace.heat_zone_command", **options)


def follow(twin, samples, until):
    """Push ``{signal: [(t, v), ...]}`` and step the twin to ``until``; returns
    {t: value of the bound command as the FMU has it} at each point."""
    for signal, pairs in samples.items():
        for t, v in pairs:
            twin.store.push(signal, t, v)
    seen = {}
    while twin.time < until - 1e-9:
        t = twin.time
        twin.step()
        seen[t] = twin.simulation.get("furnace.heat_zone_command")
    return seen


# -- binding semantics ------------------------------------------------------------------------


def test_hold_sets_the_latest_sample_at_or_before_each_point(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding()])
    seen = follow(twin, {"cmd": [(2.0, 0.2), (4.5, 0.6), (6.0, 0.8)]}, until=9.0)
    assert seen == {0.0: 0.5, 1.0: 0.5,     # before the first sample: the start value
                    2.0: 0.2, 3.0: 0.2, 4.0: 0.2,
                    5.0: 0.6, 6.0: 0.8, 7.0: 0.8, 8.0: 0.8}     # after the last: held
    # The bound value reached the FMU and drove its burner at once.
    assert open_loop.get("furnace.heat_zone_power") == pytest.approx(0.8 * HEAT_MAX_POWER)
    status = twin.status[0]
    assert (status.points, status.stale_points, status.stale) == (9, 2, False)
    assert status.value == 0.8 and status.age == 2.0


def test_interpolation_between_samples_and_hold_after_the_last(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding(policy="interpolate")])
    seen = follow(twin, {"cmd": [(2.0, 0.2), (6.0, 0.6), (7.0, 0.9)]}, until=10.0)
    expected = {0.0: 0.5, 1.0: 0.5, 2.0: 0.2, 3.0: 0.3, 4.0: 0.4, 5.0: 0.5, 6.0: 0.6,
                7.0: 0.9, 8.0: 0.9, 9.0: 0.9}
    assert seen.keys() == expected.keys()
    for t in expected:
        assert seen[t] == pytest.approx(expected[t], abs=1e-12), t
    times, inputs = twin.inputs.window(-math.inf)
    np.testing.assert_array_equal(times, np.arange(10.0))
    np.testing.assert_allclose(inputs[:, 0], [math.nan, math.nan] + [expected[t] for t in times[2:]])


def test_a_late_older_sample_changes_the_next_points(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding()])
    seen = follow(twin, {"cmd": [(0.0, 0.1), (5.0, 0.5)]}, until=3.0)
    assert seen == {0.0: 0.1, 1.0: 0.1, 2.0: 0.1}
    # A sample stamped 1.5 s arrives now: too late for t=2, used from t=3.
    seen = follow(twin, {"cmd": [(1.5, 0.3), (1.5, 0.35)]}, until=6.0)
    assert seen == {3.0: 0.35, 4.0: 0.35, 5.0: 0.5}
    stats = twin.store.stats()["cmd"]
    assert (stats.out_of_order, stats.duplicates, stats.late) == (1, 1, 2)


def test_stale_after_max_age_holds_or_uses_stale_value(open_loop):
    twin = LiveTwin(open_loop, bindings=[
        command_binding(max_age=2.5),
        Binding("soak", "furnace.soak_zone_command", max_age=2.5, stale_value=0.05),
    ])
    samples = [(0.0, 0.7), (1.0, 0.6)]
    follow(twin, {"cmd": samples, "soak": samples}, until=4.0)
    assert [s.stale for s in twin.status] == [False, False]     # t=3: age 2 s
    twin.step()                                                 # t=4: age 3 s
    hold, safe = twin.status
    assert hold.stale and hold.stale_points == 1 and hold.age == 3.0
    assert open_loop.get("furnace.heat_zone_command") == 0.6
    assert safe.stale and safe.value == 0.05
    assert open_loop.get("furnace.soak_zone_command") == 0.05
    assert open_loop.get("furnace.soak_zone_power") == pytest.approx(0.05 * 100e3)
    # A fresh sample ends the staleness.
    follow(twin, {"cmd": [(5.0, 0.9)], "soak": [(5.0, 0.9)]}, until=6.0)
    assert [s.stale for s in twin.status] == [False, False]
    assert open_loop.get("furnace.soak_zone_command") == 0.9
    assert [s.stale_points for s in twin.status] == [1, 1]
    assert "soak -> furnace.soak_zone_command: stale at 1 of 6 points" in twin.report()


def test_stale_value_before_the_first_sample(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding(stale_value=0.0)])
    twin.step()
    assert open_loop.get("furnace.heat_zone_command") == 0.0
    assert twin.status[0].stale and twin.status[0].stale_points == 1


def test_a_signal_that_never_arrives_leaves_its_input_alone(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding(),
                                         Binding("flow", "furnace.part_mass_flow")])
    follow(twin, {"flow": [(0.0, 0.25)]}, until=3.0)
    assert open_loop.get("furnace.heat_zone_command") == 0.5
    assert open_loop.get("furnace.part_mass_flow") == 0.25
    assert [s.stale_points for s in twin.status] == [3, 0]
    assert "cmd -> furnace.heat_zone_command: stale at 3 of 3 points" in twin.report()


@pytest.mark.parametrize("unit, scale, offset, sample, expected", [
    ("degF", 1.0, 0.0, 1652.0, 900.0),
    ("degF", 1.0, 0.0, 32.0, 0.0),
    ("K", 1.0, 0.0, 1223.15, 950.0),
    ("degF", 2.0, 32.0, 810.0, 900.0),      # 2*810 + 32 = 1652 degF
    (None, 0.5, 100.0, 1600.0, 900.0),
])
def test_unit_conversion_and_linear_transformation(unit, scale, offset, sample, expected):
    sim = furnace(closed_loop=True)
    try:
        twin = LiveTwin(sim, bindings=[Binding("sp", "furnace.heat_zone_setpoint", unit=unit,
                                               scale=scale, offset=offset)])
        twin.store.push("sp", 0.0, sample)
        twin.step()
        assert sim.get("furnace.heat_zone_setpoint") == pytest.approx(expected, abs=1e-9)
        assert twin.status[0].value == pytest.approx(expected, abs=1e-9)
    finally:
        sim.stop()


def test_units_on_other_twins():
    system = System("cell")
    system.add("spindle", twins.path("spindle"))
    system.add("conveyor", twins.path("conveyor"))
    system.add("furnace", twins.path("furnace"))
    with system.start(step_size=0.01) as sim:
        twin = LiveTwin(sim, bindings=[
            Binding("speed", "spindle.speed_setpoint", unit="rad/s"),
            Binding("belt", "conveyor.belt_speed_command", unit="m/min"),
            Binding("flow", "furnace.part_mass_flow", unit="kg/h"),
        ])
        for signal, value in (("speed", 100 * math.pi), ("belt", 30.0), ("flow", 720.0)):
            twin.store.push(signal, 0.0, value)
        twin.run_until(1.0)
        assert sim.get("spindle.speed_setpoint") == pytest.approx(3000.0)
        assert sim.get("conveyor.belt_speed_command") == pytest.approx(0.5)
        assert sim.get("furnace.part_mass_flow") == pytest.approx(0.2)
        # The spindle follows the bound setpoint: it was at rest.
        assert sim.get("spindle.speed") > 1000.0


def test_a_bound_setpoint_changes_what_the_twin_computes():
    runs = {}
    for bound in (False, True):
        sim = furnace(closed_loop=True, step_size=10.0)
        twin = LiveTwin(sim, bindings=[Binding("sp", "furnace.heat_zone_setpoint")])
        if bound:
            twin.store.push("sp", 0.0, 950.0)
        twin.run_until(600.0)
        runs[bound] = sim.get("furnace.heat_zone_temperature")
        sim.stop()
    assert runs[False] == pytest.approx(900.0, abs=0.5)
    assert runs[True] > 930.0


def test_a_tunable_parameter_can_be_bound(open_loop):
    twin = LiveTwin(open_loop, bindings=[Binding("hA", "furnace.heat_zone_transfer")])
    twin.store.push("hA", 0.0, 1234.0)
    twin.step()
    assert open_loop.get("furnace.heat_zone_transfer") == 1234.0


@pytest.mark.parametrize("binding, message", [
    (Binding("x", "furnace.heat_zone_temperature"), "furnace.heat_zone_temperature is an output"),
    (Binding("x", "furnace.heat_zone_capacity"), "furnace.heat_zone_capacity is a fixed parameter"),
    (Binding("x", "furnace.no_such_input"), "no variable 'no_such_input'"),
    (Binding("x", "oven.heat_zone_command"), "no element 'oven'"),
    (Binding("x", "furnace.heat_zone_command", policy="nearest"),
     "binding x -> furnace.heat_zone_command: policy must be one of hold, interpolate, got 'nearest'"),
    (Binding("x", "furnace.heat_zone_command", max_age=0.0), "max_age must be > 0, got 0.0"),
    (Binding("x", "furnace.heat_zone_command", max_age=-1.0), "max_age must be > 0"),
    (Binding("x", "furnace.heat_zone_command", unit="W"), "heat_zone_command has no unit"),
    (Binding("x", "furnace.heat_zone_setpoint", unit="kg"),
     "binding x -> furnace.heat_zone_setpoint: unit kg .* cannot be converted to degC"),
    (Binding("x", "furnace.heat_zone_setpoint", unit="furlong"), "binding x -> furnace.heat_zone_setpoint: unit 'furlong' is not defined"),
])
def test_bad_bindings(open_loop, binding, message):
    with pytest.raises(ConfigurationError, match=message):
        LiveTwin(open_loop, bindings=[binding])


def test_a_target_bound_twice(open_loop):
    with pytest.raises(ConfigurationError,
                       match="furnace.heat_zone_command is bound twice \\(to a and b\\)"):
        LiveTwin(open_loop, bindings=[Binding("a", "furnace.heat_zone_command"),
                                      Binding("b", "furnace.heat_zone_command")])


def test_a_connected_input_cannot_be_bound():
    system = System("two")
    system.add("src", twins.path("source"))
    system.add("furnace", twins.path("furnace"))
    system.connect("src.y", "furnace.part_mass_flow")
    with system.start(step_size=1.0) as sim:
        with pytest.raises(ConfigurationError, match="furnace.part_mass_flow is driven by src.y"):
            LiveTwin(sim, bindings=[Binding("flow", "furnace.part_mass_flow")])


def test_a_variable_step_simulation_is_refused():
    system = System("one")
    system.add("furnace", twins.path("furnace"))
    with system.start(step_size=1.0, stop_time=10.0, variable_step=True) as sim:
        assert sim.variable_step
        with pytest.raises(ConfigurationError, match="without variable_step"):
            LiveTwin(sim)


def test_pacing_a_twin_that_is_not_real_time_is_refused(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding()])
    with pytest.raises(ConfigurationError, match="start_pacing: the twin is not paced"):
        twin.start_pacing()
    assert twin.pacer is None and twin.time == 0.0


# -- bad data while running -------------------------------------------------------------------


def test_bad_samples_are_counted_and_the_twin_keeps_following(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding(),
                                         Binding("flow", "furnace.part_mass_flow")],
                    max_lead=30.0)
    store = twin.store
    store.push("cmd", 0.0, 0.3)
    store.push("flow", 0.0, 0.2)
    store.push("cmd", 1.0, "0.9")                   # text
    store.push("cmd", 1.0, math.nan)
    store.push("cmd", 1.0, math.inf)
    store.push("flow", 1e6, 5.0)                    # far future
    store.push("vibration", 1.0, 3.0)               # nobody asked for it
    store.push_many("flow", [1.0, 2.0], [0.1])      # malformed batch
    store.push_many("cmd", [1.0], [[0.1, 0.2]])     # not a scalar
    store.push(None, 1.0, 1.0)                      # no name
    for _ in range(3):
        twin.step()
    assert twin.time == 3.0
    assert open_loop.get("furnace.heat_zone_command") == 0.3
    assert open_loop.get("furnace.part_mass_flow") == 0.2
    assert store.rejected == {"non-numeric": 2, "non-finite": 2, "future": 1, "unknown": 2,
                              "malformed": 1}
    problems = "\n".join(store.problems)
    for name in ("'cmd'", "'flow'", "'vibration'", "None"):
        assert name in problems
    # Good samples still arrive after the bad ones.
    store.push("cmd", 3.0, 0.7)
    twin.step()
    assert open_loop.get("furnace.heat_zone_command") == 0.7
    report = twin.report()
    assert "samples: 3 kept, 1 future, 1 malformed, 2 non-finite, 2 non-numeric, 2 unknown" \
        in report


def test_concurrent_sources_while_the_twin_steps(open_loop):
    """Four threads push 10k samples each (some bad) while the twin steps;
    every sample is kept or rejected, none lost."""
    signals = ["cmd", "soak", "cool", "flow"]
    targets = ["furnace.heat_zone_command", "furnace.soak_zone_command",
               "furnace.cool_zone_command", "furnace.part_mass_flow"]
    twin = LiveTwin(open_loop, bindings=[Binding(s, t) for s, t in zip(signals, targets)],
                    max_lead=None, history=1e6)
    per_thread = 10_000
    started = threading.Barrier(len(signals) + 1)

    def produce(signal):
        started.wait()
        for i in range(per_thread):
            t = i * 1e-3
            if i % 1000 == 999:
                twin.store.push(signal, t, "bad")
            else:
                twin.store.push(signal, t, 0.25 + 0.5 * (i % 2))

    threads = [threading.Thread(target=produce, args=(s,)) for s in signals]
    for thread in threads:
        thread.start()
    started.wait()
    steps = 0
    while any(thread.is_alive() for thread in threads) or steps < 5:
        twin.step()
        steps += 1
    for thread in threads:
        thread.join()
    twin.store.drain(twin.time)
    stats = twin.store.stats()
    received = sum(stats[s].received for s in signals)
    assert received + sum(twin.store.rejected.values()) == per_thread * len(signals)
    assert twin.store.rejected == {"non-numeric": len(signals) * per_thread // 1000}
    # The last good sample of each signal is i = 9998 (value 0.25): from 10 s on it holds.
    assert all(stats[s].last_time == pytest.approx(9.998) for s in signals)
    assert twin.time >= 5.0
    twin.run_until(twin.time + 11.0)
    for target in targets:
        assert open_loop.get(target) == 0.25


# -- comparisons ------------------------------------------------------------------------------


def test_residuals_are_measured_minus_twin_in_the_output_unit():
    sim = furnace(record=["furnace.heat_zone_power", "furnace.heat_zone_temperature"])
    twin = LiveTwin(sim, bindings=[command_binding()], comparisons=[
        Comparison("power_kw", "furnace.heat_zone_power", unit="kW", interpolate=False),
        Comparison("temp", "furnace.heat_zone_temperature"),
    ])
    commands = [0.4, 0.4, 0.5, 0.2, 0.4]
    measured_kw = [101.0, 99.0, 128.0, 50.0, 100.0]
    for t, (c, p) in enumerate(zip(commands, measured_kw)):
        twin.store.push("cmd", float(t), c)
        twin.store.push("power_kw", float(t), p)
    twin.store.push_many("temp", [0.0, 4.0], [905.0, 909.0])
    twin.run_until(5.0)
    result = sim.stop()
    times, residuals = twin.residuals.window(-math.inf)
    np.testing.assert_array_equal(times, [0.0, 1.0, 2.0, 3.0, 4.0])
    # Power: the twin's burner gives command * 250 kW at once.
    np.testing.assert_allclose(residuals[:, 0], [1000.0, -1000.0, 3000.0, 0.0, 0.0], atol=1e-6)
    # Temperature: interpolated measurement minus the twin's zone temperature at each point.
    expected = 905.0 + np.arange(5.0) - result["furnace.heat_zone_temperature"][:5]
    np.testing.assert_allclose(residuals[:, 1], expected, atol=1e-9)
    _, measured = twin.measured.window(-math.inf)
    np.testing.assert_allclose(measured[:, 0], np.array(measured_kw) * 1e3)
    stats = twin.residual_stats()["power_kw"]
    assert stats["points"] == 5
    assert stats["mean"] == pytest.approx(600.0)
    assert stats["rms"] == pytest.approx(math.sqrt((1e6 + 1e6 + 9e6) / 5))
    assert stats["max_abs"] == pytest.approx(3000.0)
    # The last 2 s: the points at t=3 and t=4.
    recent = twin.residual_stats(window=2.0)["power_kw"]
    assert recent["points"] == 2 and recent["max_abs"] == pytest.approx(0.0, abs=1e-6)


def test_old_measurements_do_not_count_after_max_age(open_loop):
    twin = LiveTwin(open_loop, comparisons=[
        Comparison("power", "furnace.heat_zone_power", max_age=1.5, interpolate=False)])
    twin.store.push_many("power", [0.0, 1.0], [125e3 + 10.0, 125e3 + 20.0])
    twin.run_until(5.0)
    _, residuals = twin.residuals.window(-math.inf)
    np.testing.assert_allclose(residuals[:, 0], [10.0, 20.0, 20.0, np.nan, np.nan], atol=1e-6)
    stats = twin.residual_stats()["power"]
    assert stats["points"] == 3 and stats["max_abs"] == pytest.approx(20.0, abs=1e-6)


def test_a_comparison_with_nothing_measured_has_no_statistics(open_loop):
    twin = LiveTwin(open_loop, comparisons=[Comparison("power", "furnace.heat_zone_power")])
    twin.run_until(3.0)
    stats = twin.residual_stats()["power"]
    assert stats["points"] == 0 and math.isnan(stats["rms"])


@pytest.mark.parametrize("comparison, message", [
    (Comparison("x", "furnace.nothing"), "no variable 'nothing'"),
    (Comparison("x", "furnace.heat_zone_power", unit="degC"), "cannot be converted to W"),
    (Comparison("x", "furnace.heat_zone_power", unit="parsec"), "comparison x ~ furnace.heat_zone_power: unit 'parsec' is not defined"),
])
def test_bad_comparisons(open_loop, comparison, message):
    with pytest.raises(ConfigurationError, match=message):
        LiveTwin(open_loop, comparisons=[comparison])


# -- alerts -----------------------------------------------------------------------------------


def test_an_alert_fires_once_per_crossing_and_rearms_past_the_hysteresis(open_loop):
    events = []
    twin = LiveTwin(open_loop, bindings=[command_binding()], alerts=[
        Alert("burner high", "furnace.heat_zone_power", above=125e3, hysteresis=25e3),
    ], on_alert=events.append)
    commands = [0.2, 0.6, 0.7, 0.45, 0.35, 0.7, 0.8]
    # 50, 150, 175 (fires), 112.5 (not back past 100), 87.5 (re-armed), 175 (fires), 200 kW
    twin.store.push_many("cmd", np.arange(len(commands), dtype=float), commands)
    twin.run_until(len(commands))
    assert [e.time for e in events] == [1.0, 5.0]
    assert all(isinstance(e, AlertEvent) for e in events)
    first = events[0]
    assert first.name == "burner high" and first.value == pytest.approx(150e3)
    assert first.message == ("burner high: furnace.heat_zone_power = 150000 is above 125000 "
                             "at t=1 s")
    assert twin.alerts_fired == events
    assert "ALERT burner high: furnace.heat_zone_power = 150000 is above 125000 at t=1 s" \
        in twin.report()


def test_below_alert_on_a_residual(open_loop):
    events = []
    twin = LiveTwin(open_loop, comparisons=[
        Comparison("power", "furnace.heat_zone_power", interpolate=False)],
        alerts=[Alert("plant burner weak", "residual:power", below=-10e3, hysteresis=1e3)],
        on_alert=events.append)
    # The twin burns 125 kW; the plant measures less, then recovers, then drops again.
    # Residuals (kW): -1, -7, -25 (fires), -10.5 (still below), -8 (back past -9), -35 (fires)
    for t, kw in enumerate([124.0, 118.0, 100.0, 114.5, 117.0, 90.0]):
        twin.store.push("power", float(t), kw * 1e3)
    twin.run_until(6.0)
    assert [(e.time, e.value) for e in events] == [(2.0, pytest.approx(-25e3)),
                                                   (5.0, pytest.approx(-35e3))]
    assert "below -10000" in events[0].message


def test_an_exception_in_on_alert_reaches_the_caller(open_loop):
    def broken(event):
        raise RuntimeError("pager is down")

    twin = LiveTwin(open_loop, alerts=[Alert("hot", "furnace.heat_zone_power", above=0.0)],
                    on_alert=broken)
    with pytest.raises(RuntimeError, match="pager is down"):
        twin.step()


@pytest.mark.parametrize("alert, message", [
    (Alert("a", "furnace.heat_zone_power"), "alert 'a' needs above= or below="),
    (Alert("a", "residual:nothing", above=1.0), "alert 'a': no comparison of signal 'nothing'"),
    (Alert("a", "estimate:furnace.heat_zone_transfer", above=1.0),
     "alert 'a': no estimator of 'furnace.heat_zone_transfer'"),
    (Alert("a", "furnace.nothing", above=1.0), "no variable 'nothing'"),
    (Alert("a", "residual:", above=1.0), "no element 'residual:'"),
])
def test_bad_alerts(open_loop, alert, message):
    with pytest.raises(ConfigurationError, match=message):
        LiveTwin(open_loop, comparisons=[Comparison("power", "furnace.heat_zone_power")],
                 alerts=[alert])


# -- report -----------------------------------------------------------------------------------


def test_report_sums_up_what_happened(open_loop):
    twin = LiveTwin(open_loop, bindings=[command_binding(max_age=1.5)],
                    comparisons=[Comparison("power", "furnace.heat_zone_power")],
                    alerts=[Alert("big residual", "residual:power", above=500.0)])
    twin.store.push("cmd", 0.0, 0.4)
    twin.store.push("cmd", 1.0, math.nan)
    twin.store.push("power", 0.0, 101e3)
    twin.store.push("smoke", 0.0, 1.0)
    twin.run_until(4.0)
    report = twin.report()
    assert report.startswith("live twin at t=4 s after 4 communication points")
    assert "samples: 2 kept, 1 non-finite, 1 unknown" in report
    assert "cmd -> furnace.heat_zone_command: stale at 2 of 4 points" in report
    assert "residual power: rms 1000, mean 1000, max |r| 1000 over 4 points" in report
    assert "ALERT big residual: residual:power = 1000 is above 500 at t=0 s" in report


# -- what-if ----------------------------------------------------------------------------------


def closed_loop_twin(stop_time=None):
    sim = furnace(closed_loop=True, step_size=10.0, stop_time=stop_time,
                  record=["furnace.heat_zone_temperature", "furnace.soak_zone_temperature",
                          "furnace.heat_zone_setpoint", "furnace.part_mass_flow"])
    twin = LiveTwin(sim, bindings=[Binding("flow", "furnace.part_mass_flow")])
    twin.store.push("flow", 0.0, 0.3)
    twin.run_until(600.0)
    return sim, twin


def test_a_what_if_starts_from_the_live_state_and_runs_beside_the_twin():
    sim, twin = closed_loop_twin()
    at_fork = {name: sim.get(name) for name in ("furnace.heat_zone_temperature",
                                                "furnace.soak_zone_temperature")}
    what_if = twin.what_if(stop_time=600.0 + 36_000.0,
                           changes={"furnace.heat_zone_setpoint": 1000.0})
    # The twin goes on following the plant while the scenario runs.
    before = twin.time
    for _ in range(20):
        twin.step()
    assert twin.time == before + 200.0
    result = what_if.result(timeout=60.0)
    assert what_if.done()
    assert result.time[0] == 600.0 and result.time[-1] == pytest.approx(36_600.0)
    for name, value in at_fork.items():
        assert result[name][0] == value
    assert result["furnace.heat_zone_setpoint"][1] == 1000.0
    # Bound inputs keep their live value in the fork.
    assert np.all(result["furnace.part_mass_flow"] == 0.3)
    assert result["furnace.heat_zone_temperature"][-1] == pytest.approx(1000.0, abs=1.0)
    assert sim.get("furnace.heat_zone_setpoint") == 900.0
    assert what_if.speedup > 1.0
    sim.stop()


def test_a_fork_can_be_stepped_by_hand():
    sim, twin = closed_loop_twin()
    fork = twin.fork(stop_time=1200.0, changes={"furnace.part_mass_flow": 0.0})
    try:
        assert fork.time == 600.0
        assert fork.get("furnace.part_mass_flow") == 0.0
        fork.run_until(700.0)
        assert fork.time == 700.0
        assert twin.time == 600.0
    finally:
        fork.stop()
        sim.stop()


def test_a_fork_with_an_unknown_change_leaves_the_twin_running():
    sim, twin = closed_loop_twin()
    with pytest.raises(ConfigurationError, match="no variable 'no_such_setpoint'"):
        twin.what_if(stop_time=1200.0, changes={"furnace.no_such_setpoint": 1.0})
    with pytest.raises(ConfigurationError, match="furnace.heat_zone_temperature is an output"):
        twin.fork(stop_time=1200.0, changes={"furnace.heat_zone_temperature": 1.0})
    twin.step()
    assert twin.time == 610.0
    sim.stop()


def test_a_what_if_that_waits_too_little_says_so():
    sim, twin = closed_loop_twin()
    what_if = twin.what_if(stop_time=600.0 + 10.0 * 2_000_000)
    with pytest.raises(TimeoutError, match="still going after 0.01 s"):
        what_if.result(timeout=0.01)
    assert not what_if.done()
    what_if.result()
    sim.stop()
