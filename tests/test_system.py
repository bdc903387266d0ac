"""Composing systems: every rule checked on edit, structure analysis, and a run that fails."""

import csv
import re
import zipfile

import networkx as nx
import numpy as np
import pytest

import cosim
from cosim import System, algebraic_loops, execution_order, twins


@pytest.fixture
def line():
    """source, gain and conveyor, unconnected."""
    system = System("line")
    system.add("source", twins.path("source"))
    system.add("gain", twins.path("gain"))
    system.add("conveyor", twins.path("conveyor"))
    return system


# -- connect ------------------------------------------------------------------------------


def test_unknown_component_in_connect_suggests_close_names(line):
    with pytest.raises(cosim.SystemStructureError) as caught:
        line.connect("gian.y", "conveyor.part_flow_in")
    assert not isinstance(caught.value, cosim.InvalidConnectionError)
    assert "no element 'gian'" in str(caught.value)
    assert "did you mean 'gain'" in str(caught.value)
    with pytest.raises(cosim.SystemStructureError, match=r"no element 'conveyer' \(did you mean 'conveyor'\?\)"):
        line.connect("gain.y", "conveyer.part_flow_in")
    assert line.connections == []


def test_unknown_variable_in_connect_suggests_close_names(line):
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("gain.y", "conveyor.part_flow")
    message = str(caught.value)
    assert "component 'conveyor'" in message and "no variable 'part_flow'" in message
    assert "did you mean 'part_flow_in', 'part_flow_out'" in message
    with pytest.raises(cosim.InvalidConnectionError, match=r"no variable 'yy' \(did you mean 'y'\?\)"):
        line.connect("gain.yy", "conveyor.part_flow_in")
    assert line.connections == []


def test_a_reference_without_a_dot_is_refused(line):
    with pytest.raises(cosim.SystemStructureError, match="write 'component.variable'"):
        line.connect("gain", "conveyor.part_flow_in")


def test_output_to_output_names_the_causality(line):
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("gain.y", "source.y")
    assert re.search(r"source\.y is an? output, not an input", str(caught.value))


def test_input_to_input_names_the_causality(line):
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("conveyor.part_flow_in", "gain.u")
    assert re.search(r"conveyor\.part_flow_in is an? input, not an output", str(caught.value))


def test_parameters_cannot_be_connected(line):
    with pytest.raises(cosim.InvalidConnectionError, match=r"gain\.k is a parameter, not an output"):
        line.connect("gain.k", "conveyor.part_flow_in")
    with pytest.raises(cosim.InvalidConnectionError, match=r"gain\.k is a parameter, not an input"):
        line.connect("source.y", "gain.k")
    assert line.connections == []


def test_type_mismatch_names_both_types(line):
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("conveyor.jam", "gain.u")
    message = str(caught.value)
    assert "conveyor.jam (bool)" in message and "gain.u (float64)" in message
    assert "types differ" in message
    assert line.connections == []


def test_an_input_connected_twice_names_the_existing_source(line):
    line.connect("source.y", "gain.u")
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("conveyor.belt_speed", "gain.u")
    assert "gain.u is already connected to source.y" in str(caught.value)
    assert line.connections == [("source.y", "gain.u")]
    # One output may feed several inputs.
    line.connect("source.y", "conveyor.part_flow_in")
    assert sorted(line.connections) == [("source.y", "conveyor.part_flow_in"),
                                        ("source.y", "gain.u")]


# -- add and parameters ----------------------------------------------------------------


def test_duplicate_component_name(line):
    with pytest.raises(cosim.SystemStructureError, match="already has an element named 'gain'"):
        line.add("gain", twins.path("spindle"))
    assert line.model("gain").name == "gain"


@pytest.mark.parametrize("name", ["", 3, None, "line\nbreak", "tab\there", "nul\x00", "bell\x07"])
def test_invalid_component_names(name):
    system = System()
    with pytest.raises(cosim.SystemStructureError) as caught:
        system.add(name, twins.path("gain"))
    assert f"name {name!r} is not valid" in str(caught.value)
    assert system.components == {}


def test_valid_component_names():
    # SSP asks only for names that are non-empty and unique in their system.
    names = ("_x", "a1", "Gain_2", "a.b", "1x", "with space", "dash-ed", "DP Controller",
             "ünïcode", "'quoted'", 'say "hi"', "x=y")
    system = System()
    for name in names:
        system.add(name, twins.path("gain"))
    assert list(system.components) == list(names)
    for name in names:
        system.set_parameter((name, "k"), 2.0)
        assert system.parameters(name) == {"k": 2.0}


def test_a_parameter_that_does_not_exist():
    system = System()
    with pytest.raises(cosim.SystemStructureError) as caught:
        system.add("g", twins.path("gain"), parameters={"kk": 2.0})
    assert "component 'g' (gain) has no variable 'kk'" in str(caught.value)
    assert "did you mean 'k'" in str(caught.value)
    assert "g" not in system


@pytest.mark.parametrize("twin, name, value, words", [
    ("gain", "k", "2.0", ["g.k is float64", "'2.0' (str)"]),
    ("gain", "k", True, ["g.k is float64", "True (bool)"]),
    ("source", "waveform", 1.0, ["g.waveform is int32", "1.0 (float)"]),
    ("source", "waveform", True, ["g.waveform is int32", "True (bool)"]),
    ("source", "waveform", "1", ["g.waveform is int32", "'1' (str)"]),
    ("conveyor", "start_loaded", 1, ["g.start_loaded is bool", "1 (int)"]),
    ("gain", "u", "0", ["g.u is float64"]),                 # an input's start value
])
def test_a_parameter_value_of_the_wrong_type(twin, name, value, words):
    system = System()
    with pytest.raises(cosim.SystemStructureError) as caught:
        system.add("g", twins.path(twin), parameters={name: value})
    for word in words:
        assert word in str(caught.value)
    assert "g" not in system


def test_parameter_values_of_the_right_type_are_kept():
    system = System()
    system.add("g", twins.path("gain"), parameters={"k": 2, "b": np.float64(0.5), "u": 1.0})
    system.add("s", twins.path("source"), parameters={"waveform": np.int32(2)})
    system.add("c", twins.path("conveyor"), parameters={"start_loaded": np.bool_(True)})
    assert system.parameters("g") == {"k": 2, "b": 0.5, "u": 1.0}
    system.set_parameter("g.k", 3.0)
    assert system.parameters("g")["k"] == 3.0
    with pytest.raises(cosim.SystemStructureError, match=r"g\.k is float64"):
        system.set_parameter("g.k", "3")
    assert system.parameters("g")["k"] == 3.0


def test_an_output_cannot_be_given_a_value():
    system = System()
    with pytest.raises(cosim.SystemStructureError) as caught:
        system.add("g", twins.path("gain"), parameters={"y": 1.0})
    assert "g.y is a continuous output" in str(caught.value)
    assert "only parameters and inputs can be given values" in str(caught.value)
    system.add("g", twins.path("gain"))
    with pytest.raises(cosim.SystemStructureError, match=r"g\.y is a continuous output"):
        system.set_parameter("g.y", 1.0)
    system.add("g3", twins.path("gain", "3.0"))
    with pytest.raises(cosim.SystemStructureError, match="independent"):
        system.set_parameter("g3.time", 1.0)
    assert system.parameters("g") == {}


# -- remove, disconnect, graph ---------------------------------------------------------------


def test_remove_drops_the_component_and_its_connections(line):
    line.connect("source.y", "gain.u")
    line.connect("gain.y", "conveyor.part_flow_in")
    line.remove("gain")
    assert "gain" not in line
    assert list(line.components) == ["source", "conveyor"]
    assert line.connections == []
    assert line.source_of("conveyor.part_flow_in") is None
    line.connect("source.y", "conveyor.part_flow_in")      # the input is free again
    line.add("gain", twins.path("gain"))                    # and the name too
    assert line.connections == [("source.y", "conveyor.part_flow_in")]
    with pytest.raises(cosim.SystemStructureError, match=r"no element 'gian' \(did you mean 'gain'\?\)"):
        line.remove("gian")


def test_disconnect(line):
    line.connect("source.y", "gain.u")
    line.connect("gain.y", "conveyor.part_flow_in")
    line.disconnect("source.y", "gain.u")
    assert line.connections == [("gain.y", "conveyor.part_flow_in")]
    assert line.source_of("gain.u") is None
    with pytest.raises(cosim.SystemStructureError, match=r"there is no connection source\.y -> gain\.u"):
        line.disconnect("source.y", "gain.u")
    line.connect("conveyor.belt_speed", "gain.u")          # the input can take another source
    assert line.source_of("gain.u") == "conveyor.belt_speed"


def test_graph_is_a_multidigraph_of_components_and_connections():
    system = System("loop")
    system.add("setpoint", twins.path("source"), parameters={"waveform": 0})
    system.add("pi", twins.path("pi_controller"))
    system.add("spindle", twins.path("spindle"))
    system.connect("setpoint.y", "pi.setpoint")
    system.connect("pi.u", "spindle.speed_setpoint")
    system.connect("pi.u", "spindle.load_torque")          # a second edge between the same pair
    system.connect("spindle.speed", "pi.measurement")
    graph = system.graph
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.graph["name"] == "loop"
    assert list(graph.nodes) == ["setpoint", "pi", "spindle"]
    assert graph.nodes["setpoint"]["parameters"] == {"waveform": 0}
    assert graph.nodes["pi"]["model"].name == "pi_controller"
    assert graph.nodes["spindle"]["source"] == twins.path("spindle")
    edges = sorted((a, b, d["source"], d["target"]) for a, b, d in graph.edges(data=True))
    assert edges == [("pi", "spindle", "u", "load_torque"),
                     ("pi", "spindle", "u", "speed_setpoint"),
                     ("setpoint", "pi", "y", "setpoint"),
                     ("spindle", "pi", "speed", "measurement")]
    assert graph.number_of_edges("pi", "spindle") == 2
    assert graph.has_edge("spindle", "pi", key=("speed", "measurement"))
    system.disconnect("pi.u", "spindle.load_torque")
    assert graph.number_of_edges("pi", "spindle") == 1


# -- analysis ---------------------------------------------------------------------------------


def gain_ring(path_a=None, path_b=None):
    system = System("ring")
    system.add("a", path_a or twins.path("gain"))
    system.add("b", path_b or twins.path("gain"))
    system.connect("a.y", "b.u")
    system.connect("b.y", "a.u")
    return system


def test_algebraic_loops_finds_a_ring_of_gains():
    assert algebraic_loops(gain_ring()) == [["a.u", "a.y", "b.u", "b.y"]]


def test_a_gain_fed_back_to_itself_is_a_loop():
    system = System()
    system.add("g", twins.path("gain"))
    system.connect("g.y", "g.u")
    assert algebraic_loops(system) == [["g.u", "g.y"]]


def test_execution_order_keeps_the_members_of_a_loop_together():
    ring = gain_ring()
    ring.add("c", twins.path("gain"))
    ring.connect("b.y", "c.u")
    assert execution_order(ring) == ["a", "b", "c"]


def speed_loop():
    system = System("speed_loop")
    system.add("pi", twins.path("pi_controller"), parameters={"kp": 0.01, "ki": 0.1})
    system.add("spindle", twins.path("spindle"))
    system.connect("pi.u", "spindle.speed_setpoint")
    system.connect("spindle.speed", "pi.measurement")
    return system


def test_pi_controller_and_spindle_feedback_is_no_algebraic_loop():
    system = speed_loop()
    # The spindle's speed does not feed through from its setpoint (fmus/spindle/model.toml).
    assert system.model("spindle").dependencies["speed"] == ()
    assert "speed_setpoint" in system.model("spindle").dependencies["motor_torque"]
    assert "measurement" in system.model("pi").dependencies["u"]
    assert algebraic_loops(system) == []


def test_execution_order_of_the_pi_spindle_feedback():
    assert sorted(execution_order(speed_loop())) == ["pi", "spindle"]


def test_the_pi_spindle_feedback_runs():
    result = speed_loop().simulate(stop_time=0.2, step_size=0.01)
    assert result.time[-1] == pytest.approx(0.2)


def test_execution_order_puts_a_feedthrough_consumer_after_its_source():
    system = System()
    system.add("g2", twins.path("gain"))
    system.add("g1", twins.path("gain"))
    system.add("src", twins.path("source"))
    system.connect("src.y", "g1.u")
    system.connect("g1.y", "g2.u")
    assert execution_order(system) == ["src", "g1", "g2"]
    assert list(system.components) == ["g2", "g1", "src"]      # unchanged


def test_execution_order_keeps_the_order_of_addition_for_ties():
    system = System()
    for name in ("c", "a", "b"):
        system.add(name, twins.path("gain"))
    assert execution_order(system) == ["c", "a", "b"]


# -- a run that fails ----------------------------------------------------------------------------


def failing_system(test_fmus, fmi_version, names=("fg",)):
    system = System("failing")
    system.add("source", twins.path("source", fmi_version))
    for name in names:
        system.add(name, test_fmus("failing_gain", fmi_version), parameters={"fail_time": 1.25})
        system.connect("source.y", f"{name}.u")
    return system


def test_a_failure_mid_run_names_component_and_time_and_keeps_the_results(
        test_fmus, fmi_version, tmp_path):
    out = tmp_path / "out.csv"
    with pytest.raises(cosim.FmiCallError) as caught:
        failing_system(test_fmus, fmi_version).simulate(stop_time=2.0, step_size=0.1,
                                                         output_file=out)
    error = caught.value
    assert error.instance == "fg"
    assert error.function == f"fmi{fmi_version[0]}DoStep"
    assert error.time == pytest.approx(1.2)
    assert "failing on purpose: fail_time=1.25" in error.message
    assert "component 'fg'" in str(error) and "t=1.2 s" in str(error)
    assert len(error.failures) == 1
    partial = error.partial_result
    assert partial.time[-1] == 12 * 0.1
    np.testing.assert_array_equal(partial.time, np.arange(13) * 0.1)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "source.y", "fg.y"]
    assert len(rows) == 14
    assert float(rows[-1][0]) == 12 * 0.1
    np.testing.assert_allclose(np.array(rows[1:], dtype=float)[:, 1], partial["source.y"])


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_two_failures_in_one_step_are_reported_together(test_fmus, algorithm):
    system = failing_system(test_fmus, "2.0", names=("fg1", "fg2"))
    with pytest.raises(cosim.FmiCallError) as caught:
        system.simulate(stop_time=2.0, step_size=0.1, algorithm=algorithm)
    error = caught.value
    assert len(error.failures) == 2
    assert [f.instance for f in error.failures] == ["fg1", "fg2"]
    assert all(f.time == pytest.approx(1.2) for f in error.failures)
    assert str(error).startswith("2 components failed at t=1.2 s")
    assert "component 'fg1'" in str(error) and "component 'fg2'" in str(error)
    assert error.partial_result.time[-1] == 12 * 0.1


def test_a_failure_later_than_the_run_does_not_happen(test_fmus):
    system = failing_system(test_fmus, "2.0")
    result = system.simulate(stop_time=1.2, step_size=0.1)
    assert result.time[-1] == pytest.approx(1.2)
    assert result["fg.y"][-1] == 1.0


# -- edge cases -----------------------------------------------------------------------------------


def test_only_a_reversed_connection_gets_the_reverse_hint(line):
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("gain.y", "source.y")
    assert "did you mean" not in str(caught.value)
    assert "source.y is an output, not an input" in str(caught.value)
    with pytest.raises(cosim.InvalidConnectionError) as caught:
        line.connect("gain.u", "source.y")
    hint = re.search(r"did you mean to connect (\S+) -> (\S+)\?", str(caught.value))
    assert hint and (hint.group(1), hint.group(2)) == ("source.y", "gain.u")
    line.connect(hint.group(1), hint.group(2))


def test_an_integer_parameter_outside_int32_is_refused():
    system = System()
    with pytest.raises(cosim.SystemStructureError, match="waveform"):
        system.add("s", twins.path("source"), parameters={"waveform": 2**40})


# -- value types the master carries and cannot carry ------------------------------------------------------

TYPED = [("Float32", "f32", "float32"), ("Int64", "i64", "int64"), ("UInt8", "u8", "uint8"),
         ("String", "s", "string"), ("Binary", "b", "binary")]


def typed_gain(tmp_path):
    """The FMI 3 gain with an input and an output of each type in TYPED added to its
    modelDescription.xml (composing reads only the description)."""
    lines = []
    for vr, (tag, name, _) in enumerate(TYPED, start=100):
        start = '><Start value=""/></{0}>'.format(tag) if tag in ("String", "Binary") \
            else ' start="0"/>'
        lines.append(f'    <{tag} name="{name}_in" valueReference="{vr}" causality="input" '
                     f'variability="discrete"{start}\n')
        lines.append(f'    <{tag} name="{name}_out" valueReference="{vr + 50}" causality="output" '
                     'variability="discrete"/>\n')
    target = tmp_path / "typed.fmu"
    with zipfile.ZipFile(twins.path("gain", "3.0")) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = data.replace(b"  </ModelVariables>",
                                    "".join(lines).encode() + b"  </ModelVariables>")
            zout.writestr(item, data)
    return target


@pytest.mark.parametrize("name, type_", [(name, type_) for _, name, type_ in TYPED
                                         if type_ in ("string", "binary")])
def test_string_and_binary_connections_are_accepted_without_transformations(tmp_path, name,
                                                                            type_):
    system = System("typed")
    system.add("a", typed_gain(tmp_path))
    system.add("b", typed_gain(tmp_path))
    with pytest.raises(cosim.InvalidConnectionError,
                       match=rf"cannot connect a\.{name}_out -> b\.{name}_in: linear "
                             rf"transformations apply to float64 values, not {type_}"):
        system.connect(f"a.{name}_out", f"b.{name}_in", factor=2.0)
    assert system.connections == []
    system.connect(f"a.{name}_out", f"b.{name}_in")
    assert [(c.source, c.target) for c in system.connection_details] == \
        [(f"a.{name}_out", f"b.{name}_in")]


def test_connections_of_different_types_are_refused_naming_both(tmp_path):
    system = System("typed")
    system.add("a", typed_gain(tmp_path))
    system.add("b", typed_gain(tmp_path))
    with pytest.raises(cosim.InvalidConnectionError,
                       match=r"cannot connect a\.f32_out \(float32\) -> b\.i64_in \(int64\): "
                             "the types differ"):
        system.connect("a.f32_out", "b.i64_in")
