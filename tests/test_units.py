"""Units: the conversion table, and unit-aware connections with linear transformations."""

import math

import numpy as np
import pytest

import cosim
from cosim import PythonComponent, System, twins
from cosim.units import CATALOG, UnitError, conversion


# -- cosim.units.conversion ---------------------------------------------------------------


@pytest.mark.parametrize("source, target, value, expected", [
    ("degC", "K", 0.0, 273.15),
    ("degC", "K", 600.0, 873.15),
    ("K", "degC", 273.15, 0.0),
    ("K", "degC", 0.0, -273.15),
    ("rpm", "rad/s", 60.0, 2 * math.pi),
    ("rpm", "rad/s", 6000.0, 200 * math.pi),
    ("rad/s", "rpm", math.pi, 30.0),
    ("mm/s", "m/s", 250.0, 0.25),
    ("W", "kW", 1500.0, 1.5),
    ("degF", "degC", 212.0, 100.0),
    ("degF", "degC", 32.0, 0.0),
    ("degF", "degC", -40.0, -40.0),
    ("K", "K", 5.0, 5.0),
])
def test_conversion_of_catalog_units(source, target, value, expected):
    scale, shift = conversion(CATALOG[source], CATALOG[target])
    assert scale * value + shift == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_conversion_returns_scale_and_shift():
    assert conversion(CATALOG["degC"], CATALOG["K"]) == (1.0, 273.15)
    assert conversion(CATALOG["K"], CATALOG["degC"]) == (1.0, -273.15)
    scale, shift = conversion(CATALOG["rpm"], CATALOG["rad/s"])
    assert scale == pytest.approx(math.pi / 30, rel=1e-15) and shift == 0.0
    assert conversion(CATALOG["mm/s"], CATALOG["m/s"]) == pytest.approx((1e-3, 0.0))
    assert conversion(CATALOG["W"], CATALOG["kW"]) == pytest.approx((1e-3, 0.0))
    scale, shift = conversion(CATALOG["degF"], CATALOG["degC"])
    assert scale == pytest.approx(5 / 9) and shift == pytest.approx(-160 / 9)


@pytest.mark.parametrize("source, target", [("W", "K"), ("degC", "rpm"), ("rpm", "1/s"),
                                            ("m/s", "m"), ("kg", "N")])
def test_incompatible_units_raise_unit_error_naming_both(source, target):
    with pytest.raises(UnitError) as caught:
        conversion(CATALOG[source], CATALOG[target])
    message = str(caught.value)
    assert source in message and target in message
    assert "cannot be converted" in message
    # A UnitError is a connection error, so callers catching those see it too.
    assert isinstance(caught.value, cosim.InvalidConnectionError)


def test_rpm_and_1_per_s_differ_by_the_radian():
    # rad is kept apart from dimensionless: a speed in rpm is not a rate in 1/s.
    with pytest.raises(UnitError) as caught:
        conversion(CATALOG["rpm"], CATALOG["1/s"])
    assert "rpm (s-1.rad)" in str(caught.value) and "1/s (s-1)" in str(caught.value)


# -- unit-aware connections ---------------------------------------------------------------------


class KelvinProbe(PythonComponent):
    """Passes a temperature in K through."""
    inputs = {"t_in": 0.0}
    outputs = {"t_out": ("t_in",)}
    units = {"t_in": "K", "t_out": "K"}

    def update_outputs(self):
        self["t_out"] = self["t_in"]

    def do_step(self, t, h):
        self.update_outputs()


class RadPerSecondProbe(PythonComponent):
    """Passes an angular speed in rad/s through."""
    inputs = {"w": 0.0}
    outputs = {"y": ("w",)}
    units = {"w": "rad/s", "y": "rad/s"}

    def update_outputs(self):
        self["y"] = self["w"]

    def do_step(self, t, h):
        self.update_outputs()


class PlainProbe(PythonComponent):
    """An input without a unit."""
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = self["u"]

    def do_step(self, t, h):
        self.update_outputs()


class FurlongProbe(PythonComponent):
    inputs = {"distance": 0.0}
    outputs = {"y": ("distance",)}
    units = {"distance": "furlongs"}

    def do_step(self, t, h):
        self["y"] = self["distance"]


class Discrete(PythonComponent):
    inputs = {"count_in": 0, "flag_in": False}
    outputs = {"count_out": (), "flag_out": ()}
    output_types = {"count_out": "int32", "flag_out": "bool"}

    def do_step(self, t, h):
        self["count_out"] = self["count_in"]
        self["flag_out"] = self["flag_in"]


def furnace_into(probe, fmi_version="2.0", **options):
    system = System("units")
    system.add("furnace", twins.path("furnace", fmi_version))
    system.add("probe", probe)
    system.connect("furnace.part_exit_temperature", "probe.t_in", **options)
    return system


def test_a_degC_output_arrives_in_kelvin(fmi_version):
    system = furnace_into(KelvinProbe, fmi_version)
    [connection] = system.connection_details
    assert (connection.scale, connection.shift) == (1.0, 273.15)
    assert (connection.factor, connection.offset) == (None, None)
    result = system.simulate(stop_time=30.0, step_size=10.0, algorithm="gauss-seidel")
    celsius = result["furnace.part_exit_temperature"]
    assert 500.0 < celsius[0] < 700.0          # hot start: about 608 degC
    np.testing.assert_allclose(result["probe.t_out"], celsius + 273.15, rtol=1e-14)


def test_an_rpm_output_arrives_in_rad_per_s(fmi_version):
    system = System("units")
    system.add("spindle", twins.path("spindle", fmi_version))
    system.add("probe", RadPerSecondProbe)
    system.connect("spindle.speed", "probe.w")
    [connection] = system.connection_details
    assert connection.scale == pytest.approx(math.pi / 30, rel=1e-15) and connection.shift == 0.0
    result = system.simulate(stop_time=0.1, step_size=0.01, algorithm="gauss-seidel")
    rpm = result["spindle.speed"]
    assert rpm[-1] > 1000.0                    # the spindle runs up towards 6000 rpm
    np.testing.assert_allclose(result["probe.y"], rpm * math.pi / 30, rtol=1e-13)


def test_without_a_unit_on_one_side_values_pass_unchanged():
    system = System()
    system.add("furnace", twins.path("furnace"))
    system.add("probe", PlainProbe)
    system.connect("furnace.part_exit_temperature", "probe.u")
    [connection] = system.connection_details
    assert (connection.scale, connection.shift) == (1.0, 0.0)


def test_incompatible_units_fail_at_connect_naming_units_and_variables():
    system = System()
    system.add("spindle", twins.path("spindle"))
    system.add("furnace", twins.path("furnace"))
    with pytest.raises(UnitError) as caught:
        system.connect("spindle.motor_power", "furnace.part_entry_temperature")
    message = str(caught.value)
    for word in ("spindle.motor_power", "furnace.part_entry_temperature", "[W]", "[degC]",
                 "cannot be converted"):
        assert word in message, word
    assert system.connections == []
    # Into a Python component declared in K, an rpm output is refused as well.
    system.add("probe", KelvinProbe)
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        system.connect("spindle.speed", "probe.t_in")
    message = str(caught.value)
    assert "spindle.speed" in message and "probe.t_in" in message
    assert "rpm" in message and "[K]" in message
    assert system.connections == []


def test_an_unknown_unit_fails_and_suggests_suppress_unit_conversion():
    system = System()
    system.add("conveyor", twins.path("conveyor"))
    system.add("probe", FurlongProbe)
    with pytest.raises(UnitError) as caught:
        system.connect("conveyor.belt_speed", "probe.distance")
    message = str(caught.value)
    assert "'furlongs'" in message and "probe.distance" in message
    assert "not defined" in message
    assert "suppress_unit_conversion=True" in message
    assert system.connections == []
    # The suggested way out works: the value passes as given, with an explicit factor.
    system.connect("conveyor.belt_speed", "probe.distance", suppress_unit_conversion=True,
                   factor=1 / 201.168)
    [connection] = system.connection_details
    assert (connection.scale, connection.shift) == (pytest.approx(1 / 201.168), 0.0)


def test_suppress_unit_conversion_applies_only_the_linear_transformation():
    system = furnace_into(KelvinProbe, factor=2.0, offset=1.0, suppress_unit_conversion=True)
    [connection] = system.connection_details
    assert connection.suppress_unit_conversion is True
    assert (connection.factor, connection.offset) == (2.0, 1.0)
    assert (connection.scale, connection.shift) == (2.0, 1.0)         # no +273.15
    result = system.simulate(stop_time=20.0, step_size=10.0, algorithm="gauss-seidel")
    np.testing.assert_allclose(result["probe.t_out"],
                               2.0 * result["furnace.part_exit_temperature"] + 1.0, rtol=1e-14)


def test_suppress_unit_conversion_without_a_transformation_passes_the_value_as_is():
    system = furnace_into(KelvinProbe, suppress_unit_conversion=True)
    [connection] = system.connection_details
    assert (connection.scale, connection.shift) == (1.0, 0.0)
    result = system.simulate(stop_time=10.0, step_size=10.0, algorithm="gauss-seidel")
    np.testing.assert_array_equal(result["probe.t_out"], result["furnace.part_exit_temperature"])


def test_a_transformation_is_applied_before_the_unit_conversion():
    # target = convert(factor*source + offset): degC -> K adds 273.15 after the transformation.
    system = furnace_into(KelvinProbe, factor=2.0, offset=1.0)
    [connection] = system.connection_details
    assert connection.suppress_unit_conversion is False
    assert connection.scale == 2.0
    assert connection.shift == pytest.approx(1.0 + 273.15, rel=1e-15)
    result = system.simulate(stop_time=20.0, step_size=10.0, algorithm="gauss-seidel")
    exit_temperature = result["furnace.part_exit_temperature"]
    np.testing.assert_allclose(result["probe.t_out"], (2.0 * exit_temperature + 1.0) + 273.15,
                               rtol=1e-14)
    # Units first would give 2*(x + 273.15) + 1, hundreds of kelvin away.
    assert np.all(np.abs(result["probe.t_out"] - (2.0 * (exit_temperature + 273.15) + 1.0)) > 200)


def test_a_transformation_composes_with_a_scaling_unit_conversion():
    # rpm -> rad/s scales the transformed value: (pi/30) * (factor*x + offset).
    system = System()
    system.add("spindle", twins.path("spindle"))
    system.add("probe", RadPerSecondProbe)
    system.connect("spindle.speed", "probe.w", factor=0.5, offset=60.0)
    [connection] = system.connection_details
    assert connection.scale == pytest.approx(0.5 * math.pi / 30, rel=1e-15)
    assert connection.shift == pytest.approx(60.0 * math.pi / 30, rel=1e-15)
    result = system.simulate(stop_time=0.05, step_size=0.01, algorithm="gauss-seidel")
    np.testing.assert_allclose(result["probe.y"],
                               (0.5 * result["spindle.speed"] + 60.0) * math.pi / 30, rtol=1e-13)


def test_offset_alone_keeps_a_unit_factor():
    system = furnace_into(KelvinProbe, offset=-100.0)
    [connection] = system.connection_details
    assert (connection.factor, connection.offset) == (None, -100.0)
    assert connection.scale == 1.0 and connection.shift == pytest.approx(173.15)


@pytest.mark.parametrize("options", [{"factor": 2.0}, {"offset": 1.0}, {"factor": 1.0, "offset": 0.0}])
def test_a_linear_transformation_on_an_integer_connection_is_refused(options):
    system = System()
    system.add("a", Discrete)
    system.add("b", Discrete)
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        system.connect("a.count_out", "b.count_in", **options)
    message = str(caught.value)
    assert "a.count_out -> b.count_in" in message
    assert "linear transformations apply to float64" in message and "int32" in message
    assert system.connections == []
    system.connect("a.count_out", "b.count_in")          # plain is fine
    assert system.connections == [("a.count_out", "b.count_in")]


@pytest.mark.parametrize("options", [{"factor": 2.0}, {"offset": 1.0}])
def test_a_linear_transformation_on_a_bool_connection_is_refused(options):
    system = System()
    system.add("conveyor", twins.path("conveyor"))
    system.add("b", Discrete)
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        system.connect("conveyor.jam", "b.flag_in", **options)
    assert "float64" in str(caught.value) and "bool" in str(caught.value)
    assert system.connections == []
