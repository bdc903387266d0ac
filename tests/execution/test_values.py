"""Simulation.writer and Simulation.reader: names checked once, values batched."""

import math

import numpy as np
import pytest

from cosim import ConfigurationError, System, twins


@pytest.fixture
def typed(test_fmus, fmi_version):
    """Two 'types' components (float64, int32 and bool inputs) and a furnace."""
    system = System("typed")
    system.add("a", test_fmus("types", fmi_version))
    system.add("b", test_fmus("types", fmi_version), parameters={"gain": -1.0})
    system.add("furnace", twins.path("furnace", fmi_version))
    sim = system.start(step_size=0.5)
    yield sim
    sim.stop()


def test_writer_sets_every_name_in_one_call(typed):
    names = ["a.x", "b.x", "a.n", "a.flag", "b.n", "furnace.heat_zone_setpoint"]
    write = typed.writer(names)
    write([1.5, 2.5, 7.0, 1.0, -3.0, 950.0])
    expected = {"a.x": 1.5, "b.x": 2.5, "a.n": 7, "a.flag": True, "b.n": -3,
                "furnace.heat_zone_setpoint": 950.0}
    for name, value in expected.items():
        assert typed.get(name) == value, name
    # Outputs that feed through follow at once.
    assert typed.get("a.y") == 3.0 and typed.get("b.y") == -2.5
    assert typed.get("a.m") == 17 and typed.get("b.m") == 7
    assert typed.get("a.both") is True
    # A numpy array works as well as a list, and a second write replaces the first.
    write(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 900.0]))
    assert typed.get("a.x") == 0.0 and typed.get("a.flag") is False


@pytest.mark.parametrize("value, integer, boolean", [
    (2.4, 2, True), (2.6, 3, True), (-2.5, -2, True), (0.0, 0, False), (-0.2, 0, True),
])
def test_integers_are_rounded_and_booleans_are_nonzero(typed, value, integer, boolean):
    typed.writer(["a.n", "a.flag"])([value, value])
    assert typed.get("a.n") == integer
    assert typed.get("a.flag") is boolean


def test_reader_reads_outputs_inputs_and_parameters_as_float64(typed):
    typed.writer(["a.x", "a.n", "a.flag", "b.x"])([2.0, 5.0, 1.0, 4.0])
    read = typed.reader(["a.y", "a.m", "a.both", "b.y", "a.gain", "a.x",
                         "furnace.heat_zone_temperature"])
    values = read()
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [4.0, 15.0, 1.0, -4.0, 2.0, 2.0, 900.0])
    # The reader reads the current values each time it is called.
    typed.step(3)
    assert read()[[0, 1]].tolist() == [4.0, 15.0]
    assert typed.reader(["a.steps"])()[0] == 3.0


def test_reader_and_writer_agree_with_get_and_set(typed):
    names = ["a.x", "b.x", "furnace.part_mass_flow", "furnace.heat_zone_transfer"]
    values = [0.25, -7.0, 0.3, 1750.0]
    typed.writer(names)(values)
    assert [typed.get(n) for n in names] == values
    assert typed.reader(names)().tolist() == values


def test_empty_writer_and_reader(typed):
    typed.writer([])([])
    out = typed.reader([])()
    assert out.shape == (0,) and out.dtype == np.float64


@pytest.mark.parametrize("name, message", [
    ("a.y", "a.y is an output; only inputs and tunable parameters can be set"),
    ("a.gain", "a.gain is a fixed parameter"),
    ("furnace.heat_zone_capacity", "furnace.heat_zone_capacity is a fixed parameter"),
    ("a.nothing", "no variable 'nothing'"),
    ("c.x", "no element 'c'"),
])
def test_writer_refuses_what_cannot_be_set(typed, name, message):
    with pytest.raises(ConfigurationError, match=message):
        typed.writer(["a.x", name])


@pytest.mark.parametrize("name, message", [
    ("a.label", r"a.label is string; only number and bool \(float64, float32, int8 to uint64, "
                r"bool\) values can be read"),
    ("a.nothing", "no variable 'nothing'"),
])
def test_reader_refuses_unknown_and_string_variables(typed, name, message):
    with pytest.raises(ConfigurationError, match=message):
        typed.reader(["a.y", name])


def test_a_connected_input_cannot_be_written():
    system = System("chain")
    system.add("src", twins.path("source"))
    system.add("g", twins.path("gain"))
    system.connect("src.y", "g.u")
    with system.start(step_size=0.1) as sim:
        with pytest.raises(ConfigurationError, match="g.u is driven by src.y"):
            sim.writer(["g.u"])


def test_ports_of_the_system_go_through_their_transformation():
    cell = System("cell")
    cell.add_port("omega", "input", unit="rad/s", start=100.0)
    cell.add_port("power_kw", "output", unit="kW")
    cell.add("spindle", twins.path("spindle"))
    cell.connect("omega", "spindle.speed_setpoint")
    cell.connect("spindle.motor_power", "power_kw")
    with cell.start(step_size=0.01) as sim:
        sim.writer(["omega"])([200.0])
        assert sim.get("spindle.speed_setpoint") == pytest.approx(200.0 * 30 / math.pi,
                                                                  rel=1e-14)
        sim.step(50)
        watts, kilowatts = sim.reader(["spindle.motor_power", "power_kw"])()
        assert watts > 0.0
        assert kilowatts == pytest.approx(watts / 1e3, rel=1e-14)


def test_writer_and_reader_refuse_a_stopped_simulation(test_fmus):
    system = System("one")
    system.add("a", test_fmus("types"))
    sim = system.start(step_size=0.5)
    write, read = sim.writer(["a.x"]), sim.reader(["a.y"])
    sim.stop()
    with pytest.raises(ConfigurationError, match="the simulation has stopped"):
        write([1.0])
    with pytest.raises(ConfigurationError, match="the simulation has stopped"):
        read()
