"""FMI 3 clocks in co-simulation, run by the native master in event mode.

Test models (tests/fmus): ``clock_sampler`` samples its input u at each tick
of a constant periodic clock (0.3 s, first at 0.1 s) and counts the ticks of
a triggered clock; ``clock_tunable`` has a tunable clock whose interval it
reports through fmi3GetIntervalDecimal; ``clock_threshold`` raises an output
clock each time its state crosses a multiple of 0.3.  The glue refuses
clocked values outside their clock's activity, so the master must set and
read them at ticks only.
"""


import numpy as np
import pytest

import cosim
from cosim import ConfigurationError, System
from cosim.errors import InvalidConnectionError


@pytest.fixture(scope="module")
def fmu(test_fmus):
    return lambda name: test_fmus(name, "3.0")


def ramp_sampler(fmu):
    """A ramp y = t into the sampler's input."""
    system = System("sampling")
    system.add("ramp", cosim.twins.path("source", fmi_version="3.0"),
               parameters={"waveform": 2, "amplitude": 100.0, "start_time": 0.0,
                           "duration": 100.0})
    system.add("smp", fmu("clock_sampler"))
    system.connect("ramp.y", "smp.u")
    return system


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_periodic_clock_ticks_on_time_and_samples_the_input(fmu, algorithm):
    result = ramp_sampler(fmu).simulate(stop_time=2.0, step_size=0.1, algorithm=algorithm)
    ticks = [0.1 + 0.3 * k for k in range(7)]          # 0.1 ... 1.9
    # A tick at a communication point is taken as the step from it starts:
    # the row at that point holds the values from before the tick.
    expected = [sum(1 for tick in ticks if tick < t - 1e-9) for t in result.time]
    assert list(result["smp.ticks"]) == expected
    last_tick = [max((tick for tick in ticks if tick < t - 1e-9), default=None) for t in result.time]
    # The sample is the input the FMU holds over the step starting at the tick:
    # the ramp's value at the tick under Jacobi, at the step's end under
    # Gauss-Seidel (the ramp steps first).
    lead = 0.1 if algorithm == "gauss-seidel" else 0.0
    sampled = [0.0 if tick is None else tick + lead for tick in last_tick]
    np.testing.assert_allclose(result["smp.y"], sampled, atol=1e-12)


def test_ticks_inside_a_step_cut_it(fmu):
    system = ramp_sampler(fmu)
    with system.start(stop_time=2.0, step_size=0.25) as sim:
        sim.run_until(2.0)
        assert sim.clock_ticks("smp.tick") == 7           # 0.1, 0.4, ..., 1.9
        assert sim.get("smp.ticks") == 7
        # the step is cut at the tick: the input is the ramp's value there
        assert sim.get("smp.y") == pytest.approx(1.9)
        assert sim.stats["smp"].events == 7


def test_tunable_clock_follows_the_interval_the_fmu_reports(fmu):
    system = System("tuned")
    system.add("clk", fmu("clock_tunable"))
    with system.start(stop_time=3.0, step_size=0.1) as sim:
        sim.run_until(1.0)
        assert sim.get("clk.ticks") == 5                  # 0, 0.2, 0.4, 0.6, 0.8
        sim.set("clk.period", 0.5)
        sim.run_until(2.05 - 0.05)
        # the tick at 1.0 still comes from the old schedule; the interval the
        # FMU reports there (changed) restarts it: 1.5, then 2.0 (not yet taken)
        assert sim.get("clk.ticks") == 7
        assert sim.get("clk.last_tick") == pytest.approx(1.5)
        sim.run_until(3.0)
        assert sim.get("clk.last_tick") == pytest.approx(2.5)


def test_output_clock_ticks_the_connected_triggered_clock(fmu):
    system = System("chain")
    system.add("thr", fmu("clock_threshold"))
    system.add("cnt", fmu("clock_sampler"))
    system.connect("thr.crossed", "cnt.trigger")
    with system.start(stop_time=2.0, step_size=0.1) as sim:
        sim.run_until(2.0)
        assert sim.get("thr.level") == 6                  # x = t crosses 0.3, 0.6, ..., 1.8
        assert sim.clock_ticks("thr.crossed") == 6
        assert sim.get("cnt.hits") == 6
        assert sim.clock_ticks("cnt.trigger") == 6
        assert sim.get("cnt.hit_time") == pytest.approx(1.8, abs=1e-9)


def test_tick_by_hand(fmu):
    system = System("manual")
    system.add("smp", fmu("clock_sampler"))
    with system.start(stop_time=1.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        assert sim.get("smp.hits") == 0
        sim.tick("smp.trigger")
        sim.step(1)
        assert sim.get("smp.hits") == 1
        assert sim.get("smp.hit_time") == pytest.approx(0.5)
        with pytest.raises(ConfigurationError, match="smp.tick is not a triggered input clock"):
            sim.tick("smp.tick")
        with pytest.raises(ConfigurationError, match="smp.trigger is a clock; tick it"):
            sim.set("smp.trigger", True)


def test_clocked_outputs_read_between_ticks_give_the_last_tick(fmu):
    # The FMU refuses fmi3GetInt32 on ticks outside the clock's activity; the
    # master fetched it at the tick and answers from there.
    with ramp_sampler(fmu).start(stop_time=1.0, step_size=0.1) as sim:
        sim.run_until(0.5)
        assert sim.get("smp.ticks") == 2
        assert sim.get("smp.y") == pytest.approx(0.4)


def test_clock_connected_to_a_real_is_refused_at_connect(fmu):
    system = System("bad")
    system.add("thr", fmu("clock_threshold"))
    system.add("smp", fmu("clock_sampler"))
    with pytest.raises(InvalidConnectionError, match=r"thr\.crossed \(clock\) -> smp\.u "
                                                     r"\(float64\).*a clock connects only"):
        system.connect("thr.crossed", "smp.u")
    with pytest.raises(InvalidConnectionError, match=r"smp\.tick is a constant clock"):
        system.connect("thr.crossed", "smp.tick")


def test_variable_step_is_refused_with_clocks(fmu):
    with pytest.raises(ConfigurationError, match="variable_step cannot be used"):
        ramp_sampler(fmu).simulate(stop_time=1.0, step_size=0.1, variable_step=True)
