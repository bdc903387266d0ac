"""Nested systems through the Python API: ports, flattening, runs, and the errors."""

import math

import numpy as np
import pytest

import cosim
from cosim import System, algebraic_loops, execution_order, flatten, twins

STOP, STEP = 25.0, 0.5          # long enough for parts to cross a 10 m belt (20 s)


def make_line(fmi_version="2.0"):
    """spindle, furnace and conveyor behind four ports."""
    line = System("line")
    line.add_port("feed_rate", "input", unit="1/s", start=0.3)
    line.add_port("speed", "input", unit="rpm")
    line.add_port("exit_temperature", "output", unit="degC")
    line.add_port("parts_out", "output", unit="1/s")
    line.add("spindle", twins.path("spindle", fmi_version))
    line.add("furnace", twins.path("furnace", fmi_version))
    line.add("conveyor", twins.path("conveyor", fmi_version))
    line.connect("feed_rate", "conveyor.part_flow_in")
    line.connect("speed", "spindle.speed_setpoint")
    line.connect("furnace.part_exit_temperature", "exit_temperature")
    line.connect("conveyor.part_flow_out", "parts_out")
    return line


def make_factory(line, fmi_version="2.0"):
    """Two instances of ``line``: line1 fed by a source, line2 fed by line1's output."""
    factory = System("factory")
    factory.add_port("speed", "input", unit="rpm", start=3000.0)
    factory.add_port("exit2", "output", unit="degC")
    factory.add_port("exit2_kelvin", "output", unit="K")
    factory.add("feed", twins.path("source", fmi_version), parameters={"waveform": 0, "amplitude": 0.4})
    factory.add("line1", line)
    factory.add("line2", line, parameters={"furnace.cool_zone_setpoint": 550.0})
    factory.connect("feed.y", "line1.feed_rate")
    factory.connect("line1.parts_out", "line2.feed_rate")
    factory.connect("speed", "line1.speed")
    factory.connect("speed", "line2.speed")
    factory.connect("line2.exit_temperature", "exit2")
    factory.connect("line2.exit_temperature", "exit2_kelvin")
    return factory


def make_flat_by_hand(fmi_version="2.0"):
    """The factory written flat: the same components, values and connections."""
    flat = System("factory")
    flat.add("feed", twins.path("source", fmi_version), parameters={"waveform": 0, "amplitude": 0.4})
    for line in ("line1", "line2"):
        flat.add(f"{line}_spindle", twins.path("spindle", fmi_version),
                 parameters={"speed_setpoint": 3000.0})
        flat.add(f"{line}_furnace", twins.path("furnace", fmi_version),
                 parameters={"cool_zone_setpoint": 550.0} if line == "line2" else {})
        flat.add(f"{line}_conveyor", twins.path("conveyor", fmi_version))
    flat.connect("feed.y", "line1_conveyor.part_flow_in")
    flat.connect("line1_conveyor.part_flow_out", "line2_conveyor.part_flow_in")
    return flat


def snapshot(system):
    """Everything that describes a system, to check that it did not change."""
    return (system.name, list(system.components), sorted(system.subsystems), system.ports,
            system.connection_details,
            {n: system.parameters(n) for n in [*system.components, *system.subsystems]},
            dict(system.default_experiment))


# -- flatten ---------------------------------------------------------------------------------


def test_flatten_names_components_by_path():
    flat = flatten(make_factory(make_line()))
    assert list(flat.components) == ["feed", "line1.spindle", "line1.furnace", "line1.conveyor",
                                     "line2.spindle", "line2.furnace", "line2.conveyor"]
    assert flat.subsystems == {} and flat.ports == {}
    assert not flat.is_composite
    assert flat.model("line2.furnace").name == "furnace"
    assert flat.source("line1.spindle") == twins.path("spindle")


def test_flatten_composes_connections_through_ports():
    flat = flatten(make_factory(make_line()))
    assert sorted(flat.connections) == [("feed.y", "line1.conveyor.part_flow_in"),
                                        ("line1.conveyor.part_flow_out", "line2.conveyor.part_flow_in")]
    assert all((c.scale, c.shift) == (1.0, 0.0) for c in flat.connection_details)
    assert flat.source_of("line2.conveyor.part_flow_in") == "line1.conveyor.part_flow_out"
    assert flat.split("line2.conveyor.part_flow_in") == ("line2.conveyor", "part_flow_in")


def test_flatten_applies_values_per_instance():
    line = make_line()
    flat = flatten(make_factory(line))
    assert flat.parameters("line2.furnace") == {"cool_zone_setpoint": 550.0}
    assert flat.parameters("line1.furnace") == {}
    # The factory's speed port start reaches both spindles; line2's feed_rate port is
    # driven, so its start value (0.3) is not used.
    assert flat.parameters("line1.spindle") == {"speed_setpoint": 3000.0}
    assert flat.parameters("line2.spindle") == {"speed_setpoint": 3000.0}
    assert flat.parameters("line2.conveyor") == {}
    assert flat.parameters("feed") == {"waveform": 0, "amplitude": 0.4}


def test_an_undriven_input_port_gives_its_start_value():
    line = make_line()
    factory = System("factory")
    factory.add("line1", line)
    flat = flatten(factory)
    assert flat.parameters("line1.conveyor") == {"part_flow_in": 0.3}
    # speed has no start value: the spindle keeps its own.
    assert flat.parameters("line1.spindle") == {}


def test_flatten_leaves_the_composed_systems_unchanged():
    line = make_line()
    factory = make_factory(line)
    before_line, before_factory = snapshot(line), snapshot(factory)
    flat = flatten(factory)
    flat.connect("line1.furnace.part_exit_temperature", "line2.conveyor.belt_speed_command",
                 suppress_unit_conversion=True, factor=0.0)        # editing the flat copy
    flat.parameters("line2.furnace")["kp"] = 1.0
    factory.simulate(stop_time=1.0, step_size=0.5)
    assert snapshot(line) == before_line
    assert snapshot(factory) == before_factory
    assert line.parameters("furnace") == {}
    assert factory.subsystems["line1"] is line and factory.subsystems["line2"] is line
    assert factory.parameters("line2") == {"furnace.cool_zone_setpoint": 550.0}


def test_flatten_of_a_plain_system_is_the_system_itself():
    plain = System()
    plain.add("g", twins.path("gain"))
    assert not plain.is_composite
    assert flatten(plain) is plain


def test_port_map_of_the_top_level_ports():
    flat = flatten(make_factory(make_line()))
    assert flat.port_map["speed"] == {"kind": "input", "targets": [
        ("line1.spindle.speed_setpoint", 1.0, 0.0), ("line2.spindle.speed_setpoint", 1.0, 0.0)]}
    assert flat.port_map["exit2"] == {"kind": "output", "source": "line2.furnace.part_exit_temperature",
                                      "scale": 1.0, "shift": 0.0}
    assert flat.port_map["exit2_kelvin"] == {"kind": "output",
                                             "source": "line2.furnace.part_exit_temperature",
                                             "scale": 1.0, "shift": 273.15}


# -- runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_factory_of_lines_runs_like_the_same_system_written_flat(fmi_version, algorithm):
    nested = make_factory(make_line(fmi_version), fmi_version).simulate(
        stop_time=STOP, step_size=STEP, algorithm=algorithm)
    by_hand = make_flat_by_hand(fmi_version).simulate(stop_time=STOP, step_size=STEP,
                                                      algorithm=algorithm)
    leaf_names = [n for n in nested.names if n.count(".") == 2 or n.startswith("feed.")]
    assert [n.replace(".", "_", 1) if n.count(".") == 2 else n for n in leaf_names] == by_hand.names
    np.testing.assert_array_equal(nested.time, by_hand.time)
    for name in leaf_names:
        hand = name.replace(".", "_", 1) if name.count(".") == 2 else name
        assert np.array_equal(nested[name], by_hand[hand]), name
    # The run is not trivial: parts crossed line1's belt into line2, and the
    # two furnaces run at their own setpoints.
    assert nested["line1.conveyor.part_flow_out"][-1] == pytest.approx(0.4)
    assert nested["line2.conveyor.parts_on_belt"][-1] > 0.0
    assert nested["line2.furnace.part_exit_temperature"][0] < \
        nested["line1.furnace.part_exit_temperature"][0] - 20.0


def test_results_are_named_by_path_and_output_ports_by_their_name():
    result = make_factory(make_line()).simulate(stop_time=1.0, step_size=0.5)
    for name in ("feed.y", "line1.spindle.speed", "line2.furnace.part_exit_temperature",
                 "line2.conveyor.jam", "exit2", "exit2_kelvin"):
        assert name in result.names, name
    assert "speed" not in result.names                  # input ports are not recorded
    np.testing.assert_array_equal(result["exit2"], result["line2.furnace.part_exit_temperature"])
    np.testing.assert_allclose(result["exit2_kelvin"], result["exit2"] + 273.15, rtol=1e-15)
    assert np.all(result["exit2"] != result["line1.furnace.part_exit_temperature"])


def test_output_ports_can_be_recorded_by_name_alone():
    result = make_factory(make_line()).simulate(stop_time=1.0, step_size=0.5,
                                                record=["exit2_kelvin", "line2.furnace.part_exit_temperature"])
    assert result.names == ["exit2_kelvin", "line2.furnace.part_exit_temperature"]
    np.testing.assert_allclose(result["exit2_kelvin"],
                               result["line2.furnace.part_exit_temperature"] + 273.15, rtol=1e-15)


def test_recording_an_input_port_is_refused():
    with pytest.raises(cosim.ConfigurationError, match="'speed' is an input port"):
        make_factory(make_line()).simulate(stop_time=1.0, step_size=0.5, record=["speed"])


def test_sim_set_on_an_input_port_sets_every_input_it_drives():
    with make_factory(make_line()).start(step_size=0.01, stop_time=1.0) as sim:
        assert sim.get("line1.spindle.speed_setpoint") == 3000.0
        sim.set("speed", 4500.0)
        assert sim.get("line1.spindle.speed_setpoint") == 4500.0
        assert sim.get("line2.spindle.speed_setpoint") == 4500.0
        sim.step(20)
        assert sim.get("line1.spindle.speed") > 3000.0      # both spindles follow the new setpoint
        assert sim.get("line2.spindle.speed") == pytest.approx(sim.get("line1.spindle.speed"))


def test_sim_set_on_an_input_port_applies_the_port_chain_transformation():
    cell = System("cell")
    cell.add_port("omega", "input", unit="rad/s", start=100.0)
    cell.add("spindle", twins.path("spindle"))
    cell.connect("omega", "spindle.speed_setpoint")
    with cell.start(step_size=0.01, stop_time=1.0) as sim:
        assert sim.get("spindle.speed_setpoint") == pytest.approx(100.0 * 30 / math.pi, rel=1e-14)
        sim.set("omega", 200.0)
        assert sim.get("spindle.speed_setpoint") == pytest.approx(200.0 * 30 / math.pi, rel=1e-14)


def test_sim_get_of_an_output_port():
    with make_factory(make_line()).start(step_size=0.5, stop_time=2.0) as sim:
        sim.step(2)
        leaf = sim.get("line2.furnace.part_exit_temperature")
        assert 500.0 < leaf < 600.0
        assert sim.get("exit2") == leaf
        assert sim.get("exit2_kelvin") == pytest.approx(leaf + 273.15, rel=1e-15)
        with pytest.raises(cosim.ConfigurationError, match="input port"):
            sim.get("speed")
        with pytest.raises(cosim.ConfigurationError):
            sim.get("exit3")


# -- port-to-port connections ------------------------------------------------------------------


def make_relay(in_unit="degC", out_unit="K"):
    """An input port connected straight to an output port (no component)."""
    relay = System("relay")
    relay.add_port("x", "input", unit=in_unit)
    relay.add_port("y", "output", unit=out_unit)
    relay.connect("x", "y")
    return relay


def test_port_to_port_pass_through_reaches_the_leaves_with_units_converted():
    relay = make_relay("degC", "K")
    [inside] = relay.connection_details
    assert (inside.source, inside.target, inside.scale, inside.shift) == ("x", "y", 1.0, 273.15)
    top = System("top")
    top.add_port("out", "output", unit="K")
    top.add("furnace", twins.path("furnace"))
    top.add("r1", relay)
    top.add("r2", make_relay("K", "K"))
    top.add("gain", twins.path("gain"))
    top.connect("furnace.part_exit_temperature", "r1.x")
    top.connect("r1.y", "r2.x", offset=-273.15)            # back to a degC value, labelled K
    top.connect("r2.y", "out")
    top.connect("r1.y", "gain.u")                          # gain.u has no unit: plain value
    flat = flatten(top)
    assert list(flat.components) == ["furnace", "gain"]
    [connection] = flat.connection_details
    assert (connection.source, connection.target) == ("furnace.part_exit_temperature", "gain.u")
    assert (connection.scale, connection.shift) == (1.0, 273.15)
    assert flat.port_map["out"]["source"] == "furnace.part_exit_temperature"
    assert flat.port_map["out"]["scale"] == 1.0
    assert flat.port_map["out"]["shift"] == pytest.approx(0.0, abs=1e-12)
    result = top.simulate(stop_time=20.0, step_size=10.0, algorithm="gauss-seidel")
    celsius = result["furnace.part_exit_temperature"]
    np.testing.assert_allclose(result["gain.y"], celsius + 273.15, rtol=1e-15)
    np.testing.assert_allclose(result["out"], celsius, rtol=1e-14)


def test_a_pass_through_inside_a_line_carries_a_setpoint_to_the_next_line():
    line = make_line()
    line.add_port("speed_echo", "output", unit="rpm")
    line.connect("speed", "speed_echo")
    factory = System("factory")
    factory.add_port("speed", "input", unit="rpm", start=2500.0)
    factory.add("line1", line)
    factory.add("line2", line)
    factory.connect("speed", "line1.speed")
    factory.connect("line1.speed_echo", "line2.speed", factor=2.0)
    flat = flatten(factory)
    assert flat.connections == []
    assert flat.parameters("line1.spindle")["speed_setpoint"] == 2500.0
    assert flat.parameters("line2.spindle")["speed_setpoint"] == 5000.0
    assert flat.port_map["speed"]["targets"] == [("line1.spindle.speed_setpoint", 1.0, 0.0),
                                                 ("line2.spindle.speed_setpoint", 2.0, 0.0)]
    with factory.start(step_size=0.01, stop_time=1.0) as sim:
        sim.set("speed", 1000.0)
        assert sim.get("line2.spindle.speed_setpoint") == 2000.0


def test_ports_connected_in_a_circle_are_refused_by_flatten():
    top = System("top")
    top.add("r1", make_relay("K", "K"))
    top.add("r2", make_relay("K", "K"))
    top.add("gain", twins.path("gain"))
    top.connect("r1.y", "r2.x")
    top.connect("r2.y", "r1.x")
    top.connect("r2.y", "gain.u")
    with pytest.raises(cosim.SystemStructureError, match="ports are connected in a circle"):
        flatten(top)


# -- errors while composing -----------------------------------------------------------------------


def test_a_system_cannot_be_nested_in_itself():
    line = make_line()
    with pytest.raises(cosim.SystemStructureError, match="'line' cannot be nested in itself"):
        line.add("again", line)
    assert "again" not in line


def test_a_system_cannot_be_nested_in_itself_indirectly():
    plant, line, cell = System("plant"), System("line"), System("cell")
    plant.add("line", line)
    line.add("cell", cell)
    with pytest.raises(cosim.SystemStructureError, match="cannot be nested in itself"):
        line.add("plant", plant)
    with pytest.raises(cosim.SystemStructureError, match="cannot be nested in itself"):
        cell.add("plant", plant)
    assert cell.subsystems == {} and list(line.subsystems) == ["cell"]
    cell.add("other", System("other"))                       # a fresh system is fine


def test_connecting_to_an_unknown_port_suggests_close_names():
    factory = make_factory(make_line())
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        factory.connect("feed.y", "line2.feed_rat")
    message = str(caught.value)
    assert "'line2'" in message and "no variable 'feed_rat'" in message
    assert "did you mean 'feed_rate'" in message
    with pytest.raises(cosim.SystemStructureError) as caught:
        factory.connect("line1.exit_temperature", "exit")
    assert "no element 'exit'" in str(caught.value)
    assert "did you mean 'exit2'" in str(caught.value)
    with pytest.raises(cosim.SystemStructureError, match=r"no element 'lin1' \(did you mean 'line1'"):
        factory.connect("lin1.exit_temperature", "exit2")
    assert len(factory.connections) == 6


def test_an_output_port_driven_twice_names_the_existing_source():
    factory = make_factory(make_line())
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        factory.connect("line1.exit_temperature", "exit2")
    assert "exit2 is already connected to line2.exit_temperature" in str(caught.value)
    line = make_line()
    with pytest.raises(cosim.InvalidConnectionError, match="parts_out is already connected to "
                                                           "conveyor.part_flow_out"):
        line.connect("conveyor.belt_speed", "parts_out")
    assert factory.source_of("exit2") == "line2.exit_temperature"


@pytest.mark.parametrize("args, options, words", [
    (("p", "inout"), {}, ["port 'p'", "kind must be input or output", "'inout'"]),
    (("p", "parameter"), {}, ["kind must be input or output"]),
    (("p", "input"), {"type": "string"}, ["port 'p'", "type must be float64, int32 or bool"]),
    (("p", "input"), {"type": "float32"}, ["type must be float64, int32 or bool"]),
    (("p", "input"), {"start": "hot"}, ["is float64", "'hot' (str)"]),
    (("p", "input"), {"start": True}, ["is float64", "True (bool)"]),
    (("p", "input"), {"type": "int32", "start": 2.5}, ["is int32", "2.5 (float)"]),
    (("p", "input"), {"type": "bool", "start": 1}, ["is bool", "1 (int)"]),
    (("p\nq", "input"), {}, ["name 'p\\nq' is not valid", "control character"]),
    (("", "input"), {}, ["name '' is not valid", "non-empty"]),
    (("speed", "input"), {}, ["already has an element named 'speed'"]),
])
def test_port_kind_type_and_start_are_validated(args, options, words):
    line = make_line()
    before = dict(line.ports)
    with pytest.raises(cosim.SystemStructureError) as caught:
        line.add_port(*args, **options)
    for word in words:
        assert word in str(caught.value), word
    assert line.ports == before


def test_ports_of_each_kind_accept_values_of_their_type():
    system = System()
    system.add_port("count", "input", type="int32", start=3)
    system.add_port("flag", "input", type="bool", start=True)
    system.add_port("x", "input", start=1.5)
    assert system.ports["count"].type == "int32" and system.ports["count"].start == 3
    assert system.ports["flag"].variability == "discrete"
    assert system.ports["x"].variability == "continuous"


def test_port_directions_of_nested_systems_are_enforced():
    factory = make_factory(make_line())
    with pytest.raises(cosim.InvalidConnectionError, match=r"line1\.speed is an input, not an output"):
        factory.connect("line1.speed", "line2.speed")
    with pytest.raises(cosim.InvalidConnectionError, match=r"line2\.parts_out is an output, not an input"):
        factory.connect("feed.y", "line2.parts_out")
    assert len(factory.connections) == 6


def test_an_own_output_port_is_no_source():
    system = System("s")
    system.add_port("out", "output")
    system.add("g", twins.path("gain"))
    with pytest.raises(cosim.InvalidConnectionError,
                       match="out is an output port of this system, not an input port of this system"):
        system.connect("out", "g.u")


def test_an_own_input_port_is_no_target():
    system = System("s")
    system.add_port("inp", "input", start=2.0)
    system.add("g", twins.path("gain"))
    with pytest.raises(cosim.InvalidConnectionError,
                       match="inp is an input port of this system, not an output port of this system"):
        system.connect("g.y", "inp")


def test_port_types_must_match_what_they_connect():
    system = System()
    system.add_port("jam", "output", type="float64")
    system.add_port("flag", "output", type="bool")
    system.add("conveyor", twins.path("conveyor"))
    with pytest.raises(cosim.InvalidConnectionError, match=r"conveyor\.jam \(bool\) -> jam \(float64\)"):
        system.connect("conveyor.jam", "jam")
    system.connect("conveyor.jam", "flag")
    assert system.connections == [("conveyor.jam", "flag")]


def test_a_port_with_an_incompatible_unit_is_refused():
    line = make_line()
    line.add_port("power", "output", unit="K")
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("spindle.motor_power", "power")
    assert "spindle.motor_power [W]" in str(caught.value) and "power [K]" in str(caught.value)


def test_set_parameter_paths_into_subsystems():
    line = make_line()
    factory = make_factory(line)
    factory.set_parameter("line1.spindle.initial_wear", 0.4)
    factory.set_parameter("speed", 2000.0)                   # an own input port's start
    assert factory.parameters("line1") == {"spindle.initial_wear": 0.4}
    assert factory.ports["speed"].start == 2000.0
    assert line.parameters("spindle") == {}                  # the shared line is not touched
    flat = flatten(factory)
    assert flat.parameters("line1.spindle") == {"initial_wear": 0.4, "speed_setpoint": 2000.0}
    assert "initial_wear" not in flat.parameters("line2.spindle")


@pytest.mark.parametrize("path, value, words", [
    ("line2.furnace.cool_zone_setpont", 1.0, ["has no variable 'cool_zone_setpont'",
                                                "did you mean 'cool_zone_setpoint'"]),
    ("line2.furnce.cool_zone_setpoint", 1.0, ["no element 'furnce'", "did you mean 'furnace'"]),
    ("line3.furnace.cool_zone_setpoint", 1.0, ["no element 'line3'"]),
    ("line2.furnace.cool_zone_setpoint", "hot", ["furnace.cool_zone_setpoint is float64"]),
    ("line2.furnace.part_exit_temperature", 1.0, ["continuous output"]),
    ("line2.exit_temperature", 1.0, ["'exit_temperature' is not an input port of 'line2'"]),
    ("line2", 1.0, ["names no variable"]),
])
def test_set_parameter_into_a_subsystem_checks_the_path(path, value, words):
    factory = make_factory(make_line())
    with pytest.raises(cosim.SystemStructureError) as caught:
        factory.set_parameter(path, value)
    for word in words:
        assert word in str(caught.value), word
    assert factory.parameters("line2") == {"furnace.cool_zone_setpoint": 550.0}


def test_per_instance_values_for_unknown_variables_are_refused_on_add():
    factory = make_factory(make_line())
    with pytest.raises(cosim.SystemStructureError) as caught:
        factory.add("line3", make_line(), parameters={"furnace.cool_zone_setpont": 500.0})
    assert "did you mean 'cool_zone_setpoint'" in str(caught.value)
    assert "line3" not in factory


# -- structure analysis on composite systems ------------------------------------------------------


def make_amplifier():
    """A gain (direct feedthrough) behind an input and an output port."""
    amp = System("amp")
    amp.add_port("u", "input")
    amp.add_port("y", "output")
    amp.add("g", twins.path("gain"))
    amp.connect("u", "g.u")
    amp.connect("g.y", "y")
    return amp


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_an_algebraic_loop_through_ports_is_detected_and_solved(algorithm):
    amp = make_amplifier()
    ring = System("ring")
    ring.add("a", amp, parameters={"g.k": 0.5, "g.b": 1.0})
    ring.add("b", amp, parameters={"g.k": 0.5})
    ring.connect("a.y", "b.u")
    ring.connect("b.y", "a.u")
    assert algebraic_loops(ring) == [["a.g.u", "a.g.y", "b.g.u", "b.g.y"]]
    # ya = 0.5*yb + 1 and yb = 0.5*ya
    result = ring.simulate(stop_time=0.3, step_size=0.1, algorithm=algorithm)
    assert result["a.y"] == pytest.approx([4 / 3] * 4, rel=1e-9)
    assert result["b.y"] == pytest.approx([2 / 3] * 4, rel=1e-9)


def test_a_feedback_through_ports_without_feedthrough_is_no_loop():
    # The plant's interface says its output depends on its input, but the spindle's
    # speed does not feed through from its setpoint: the leaves decide.
    plant = System("plant")
    plant.add_port("setpoint", "input", unit="rpm")
    plant.add_port("speed", "output", unit="rpm")
    plant.add("spindle", twins.path("spindle"))
    plant.connect("setpoint", "spindle.speed_setpoint")
    plant.connect("spindle.speed", "speed")
    assert plant.interface().dependencies == {"speed": ("setpoint",)}
    loop = System("loop")
    loop.add("target", twins.path("source"), parameters={"waveform": 0, "amplitude": 1000.0})
    loop.add("pi", twins.path("pi_controller"), parameters={"kp": 1.0, "ki": 10.0})
    loop.add("plant", plant)
    loop.connect("target.y", "pi.setpoint")
    loop.connect("pi.u", "plant.setpoint")
    loop.connect("plant.speed", "pi.measurement")
    assert algebraic_loops(loop) == []
    assert sorted(execution_order(loop)) == ["pi", "plant.spindle", "target"]
    result = loop.simulate(stop_time=0.5, step_size=0.01)
    assert result["plant.spindle.speed"][-1] > 0.0


# -- three levels --------------------------------------------------------------------------------


def make_cell():
    cell = System("cell")
    cell.add_port("speed", "input", unit="rpm", start=4000.0)
    cell.add_port("vibration", "output", unit="mm/s")
    cell.add("spindle", twins.path("spindle"))
    cell.connect("speed", "spindle.speed_setpoint")
    cell.connect("spindle.vibration", "vibration")
    return cell


def make_cell_line(cell):
    line = System("line")
    line.add_port("speed", "input", unit="rad/s")
    line.add_port("worst_vibration", "output", unit="m/s")
    line.add("cell1", cell)
    line.add("cell2", cell, parameters={"spindle.initial_wear": 0.2})
    line.connect("speed", "cell2.speed")                 # cell1 keeps its port start
    line.connect("cell2.vibration", "worst_vibration")
    return line


def test_three_levels_of_nesting():
    cell = make_cell()
    line = make_cell_line(cell)
    plant = System("plant")
    plant.add_port("speed", "input", unit="rpm", start=6000.0)
    plant.add_port("vibration", "output", unit="mm/s")
    plant.add("line1", line)
    plant.add("line2", line, parameters={"cell1.spindle.initial_wear": 0.5})
    plant.connect("speed", "line1.speed")
    plant.connect("speed", "line2.speed")
    plant.connect("line2.worst_vibration", "vibration")
    plant.set_parameter("line1.cell2.spindle.initial_wear", 0.3)   # overrides the line's 0.2
    flat = flatten(plant)
    assert list(flat.components) == ["line1.cell1.spindle", "line1.cell2.spindle",
                                     "line2.cell1.spindle", "line2.cell2.spindle"]
    assert flat.parameters("line1.cell1.spindle") == {"speed_setpoint": 4000.0}
    assert flat.parameters("line1.cell2.spindle") == pytest.approx(
        {"initial_wear": 0.3, "speed_setpoint": 6000.0}, rel=1e-14)   # rpm -> rad/s -> rpm
    assert flat.parameters("line2.cell1.spindle") == {"initial_wear": 0.5, "speed_setpoint": 4000.0}
    assert flat.parameters("line2.cell2.spindle")["initial_wear"] == 0.2
    assert flat.port_map["vibration"]["source"] == "line2.cell2.spindle.vibration"
    assert flat.port_map["vibration"]["scale"] == pytest.approx(1.0, rel=1e-15)   # mm/s -> m/s -> mm/s
    result = plant.simulate(stop_time=0.2, step_size=0.02)
    assert result["line1.cell2.spindle.wear"][0] == pytest.approx(0.3)
    assert result["line2.cell1.spindle.wear"][0] == pytest.approx(0.5)
    assert result["line2.cell2.spindle.wear"][0] == pytest.approx(0.2)
    assert result["line1.cell1.spindle.wear"][0] == pytest.approx(0.0)
    np.testing.assert_allclose(result["vibration"], result["line2.cell2.spindle.vibration"], rtol=1e-12)
    # Same setpoint (the cell's port start), different wear: the worn spindle vibrates more.
    assert result["line2.cell1.spindle.vibration"][-1] > result["line1.cell1.spindle.vibration"][-1]
    assert cell.parameters("spindle") == {} and line.parameters("cell1") == {}


# -- edge cases ------------------------------------------------------------------------------------


def test_an_integer_start_value_on_a_float_port_is_converted():
    cell = System("cell")
    cell.add_port("omega", "input", unit="rad/s", start=100)        # accepted: float64 takes ints
    cell.add("spindle", twins.path("spindle"))
    cell.connect("omega", "spindle.speed_setpoint")
    speed_setpoint = flatten(cell).parameters("spindle")["speed_setpoint"]
    assert speed_setpoint == pytest.approx(100 * 30 / math.pi)        # 954.9 rpm, not 100 rpm


def test_sim_set_of_an_integer_on_a_float_port_is_converted():
    cell = System("cell")
    cell.add_port("omega", "input", unit="rad/s", start=100.0)
    cell.add("spindle", twins.path("spindle"))
    cell.connect("omega", "spindle.speed_setpoint")
    with cell.start(step_size=0.01, stop_time=1.0) as sim:
        sim.set("omega", 200)
        assert sim.get("spindle.speed_setpoint") == pytest.approx(200 * 30 / math.pi)


def test_set_parameter_on_a_flattened_system():
    flat = flatten(make_factory(make_line()))
    flat.set_parameter("line1.furnace.kp", 1.0)
    assert flat.parameters("line1.furnace") == {"kp": 1.0}


def test_an_input_port_of_a_nested_instance_takes_a_value_by_path():
    cell = System("cell")
    cell.add_port("omega", "input", unit="rad/s")
    cell.add("spindle", twins.path("spindle"))
    cell.connect("omega", "spindle.speed_setpoint")
    plant = System("plant")
    plant.add("c1", cell, parameters={"omega": 100.0})
    plant.add("c2", cell)
    plant.set_parameter("c2.omega", 50)            # an int for a float64 port converts too
    flat = flatten(plant)
    assert flat.parameters("c1.spindle")["speed_setpoint"] == pytest.approx(100.0 * 30 / math.pi)
    assert flat.parameters("c2.spindle")["speed_setpoint"] == pytest.approx(50.0 * 30 / math.pi)
    with pytest.raises(cosim.SystemStructureError, match="float64"):
        plant.set_parameter("c2.omega", "fast")
