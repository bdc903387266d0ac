"""Names as other tools write them: spaces, dashes, leading digits and dots in
component and system names, dots and brackets in variable names; references
to them plain, quoted and as tuples, through the API, files and the command line."""

from __future__ import annotations

import csv
import re

import numpy as np
import pyarrow.parquet as pq
import pytest

import cosim
from cosim import System, twins
from cosim.cli import main
from named_fmus import DOTTED_NAMES, rewrite_gain


@pytest.fixture
def dotted(tmp_path):
    return rewrite_gain(tmp_path / "dotted.fmu", names=DOTTED_NAMES)


@pytest.fixture
def plant(dotted):
    """Reference Generator -> DP Controller -> rollback-end -> stage.1, and 1st unconnected."""
    system = System("DP plant")
    system.add("Reference Generator", twins.path("source"),
               parameters={"waveform": 2, "amplitude": 1.0, "start_time": 0.0, "duration": 1.0})
    system.add("DP Controller", dotted, parameters={"k": 2.0})
    system.add("rollback-end", twins.path("gain"), parameters={"k": 3.0})
    system.add("stage.1", twins.path("gain"))
    system.add("1st", twins.path("gain"), parameters={"k": 5.0})
    system.set_parameter(("DP Controller", "b.c"), 1.0)
    system.set_parameter('"stage.1".b', 0.5)
    system.connect("Reference Generator.y", "DP Controller.in.u[1]")
    system.connect("DP Controller.der(out.y)", "rollback-end.u")
    system.connect("rollback-end.y", "stage.1.u")
    return system


def test_components_named_as_other_tools_name_them_connect_and_simulate(plant):
    assert list(plant.components) == ["Reference Generator", "DP Controller", "rollback-end",
                                      "stage.1", "1st"]
    assert plant.parameters("DP Controller") == {"k": 2.0, "b.c": 1.0}
    assert plant.parameters("stage.1") == {"b": 0.5}
    assert plant.connections == [("Reference Generator.y", "DP Controller.in.u[1]"),
                                 ("DP Controller.der(out.y)", "rollback-end.u"),
                                 ("rollback-end.y", "stage.1.u")]
    assert cosim.execution_order(plant)[:4] == ["Reference Generator", "DP Controller",
                                                "rollback-end", "stage.1"]
    result = plant.simulate(stop_time=0.5, step_size=0.1, algorithm="gauss-seidel")
    ramp = result["Reference Generator.y"]
    assert ramp[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(result["DP Controller.der(out.y)"], 2.0 * ramp + 1.0)
    np.testing.assert_allclose(result["rollback-end.y"], 3.0 * (2.0 * ramp + 1.0))
    np.testing.assert_allclose(result["stage.1.y"], 3.0 * (2.0 * ramp + 1.0) + 0.5)
    # every spelling of a reference reads the same column
    for spelled in ('"stage.1".y', "'stage.1'.y", ("stage.1", "y")):
        np.testing.assert_array_equal(result[spelled], result["stage.1.y"])
    assert ("DP Controller", "der(out.y)") in result


def test_get_and_set_through_every_spelling(plant):
    with plant.start(step_size=0.1, stop_time=1.0, algorithm="gauss-seidel") as sim:
        sim.set("1st.u", 2.0)
        sim.step(1)
        assert sim.get("1st.y") == 10.0
        sim.set(("1st", "u"), 3.0)
        sim.step(1)
        assert sim.get('"1st".y') == 15.0
        value = sim.get("stage.1.y")
        assert sim.get('"stage.1".y') == sim.get(("stage.1", "y")) == value
        assert sim.get("DP Controller.der(out.y)") == pytest.approx(2.0 * 0.2 + 1.0)
        with pytest.raises(cosim.ConfigurationError,
                           match=re.escape("is driven by DP Controller.der(out.y)")):
            sim.set("rollback-end.u", 1.0)
        with pytest.raises(cosim.ConfigurationError,
                           match=re.escape("component 'DP Controller' (gain) has no variable "
                                           "'in.u[2]' (did you mean 'in.u[1]'?)")):
            sim.get("DP Controller.in.u[2]")


def test_record_to_csv_and_parquet_keeps_the_names(plant, tmp_path):
    out = tmp_path / "plant.csv"
    record = ["DP Controller.der(out.y)", "'stage.1'.y", ("rollback-end", "y"), "1st.y"]
    result = plant.simulate(stop_time=0.3, step_size=0.1, record=record, output_file=out)
    names = ["DP Controller.der(out.y)", "stage.1.y", "rollback-end.y", "1st.y"]
    assert result.names == names
    with open(out, newline="") as f:
        header = next(csv.reader(f))
    assert header == ["time", *names]
    result.to_parquet(tmp_path / "plant.parquet")
    table = pq.read_table(tmp_path / "plant.parquet")
    assert table.column_names == ["time", *names]
    np.testing.assert_array_equal(table.column("stage.1.y").to_numpy(), result["stage.1.y"])


@pytest.fixture
def ambiguous(dotted, tmp_path):
    """Component ``a`` with variable ``b.c`` and component ``a.b`` with variable ``c``."""
    system = System("ambiguous")
    system.add("a", dotted)
    system.add("a.b", rewrite_gain(tmp_path / "c.fmu", names={"u": "c"}))
    return system


def test_a_reference_with_two_readings_names_both_and_how_to_write_each(ambiguous):
    with pytest.raises(cosim.AmbiguousReferenceError) as caught:
        ambiguous.set_parameter("a.b.c", 2.0)
    message = str(caught.value)
    assert "'a.b.c' is ambiguous in system 'ambiguous'" in message
    assert "component 'a.b', variable 'c' (write '\"a.b\".c', or ('a.b', 'c') in Python)" in message
    assert "component 'a', variable 'b.c' (write '\"a\".b.c', or ('a', 'b.c') in Python)" in message
    with pytest.raises(cosim.AmbiguousReferenceError):
        ambiguous.connect("a.der(out.y)", "a.b.c")
    # Either reading, written so that it means only that.
    ambiguous.set_parameter('"a".b.c', 2.0)
    ambiguous.set_parameter(("a.b", "c"), 4.0)
    ambiguous.set_parameter("'a.b'.k", 3.0)
    assert ambiguous.parameters("a") == {"b.c": 2.0}
    assert ambiguous.parameters("a.b") == {"c": 4.0, "k": 3.0}
    ambiguous.connect("a.der(out.y)", '"a.b".c')
    assert ambiguous.connections == [("a.der(out.y)", '"a.b".c')]
    with ambiguous.start(step_size=0.1, stop_time=1.0, algorithm="gauss-seidel") as sim:
        sim.set(("a", "in.u[1]"), 1.0)
        sim.step(1)
        assert sim.get('"a".der(out.y)') == 3.0            # 1*1 + 2
        assert sim.get(("a.b", "y")) == 9.0                # 3*3 + 0
        with pytest.raises(cosim.ConfigurationError, match="is ambiguous"):
            sim.get("a.b.c")
        assert sim.result.names == ["a.der(out.y)", '"a.b".y']


def test_quoting_and_tuples_address_names_with_dots_and_quotes(tmp_path):
    system = System()
    system.add('say "hi"', twins.path("gain"))
    system.add("'x'", twins.path("gain"))
    system.add("p.q", twins.path("gain"))
    system.set_parameter('say "hi".k', 2.0)                   # plain: the quote is inside
    system.set_parameter('"say ""hi""".b', 1.0)               # quoted, the quote doubled
    system.set_parameter("\"'x'\".k", 3.0)                    # a name that starts with a quote
    system.set_parameter(("p.q", "k"), 4.0)
    system.set_parameter("'p.q'.b", 5.0)
    assert system.parameters('say "hi"') == {"k": 2.0, "b": 1.0}
    assert system.parameters("'x'") == {"k": 3.0}
    assert system.parameters("p.q") == {"k": 4.0, "b": 5.0}
    system.connect("p.q.y", "\"'x'\".u")
    assert system.connections == [("p.q.y", "\"'x'\".u")]


@pytest.mark.parametrize("reference, words", [
    ("", "an empty reference names nothing"),
    ((), "is not a reference"),
    (("gain", ""), "is not a reference"),
    ('"gain.k', "the quote opening it is not closed"),
    ("gian.k", "has no element 'gian' (did you mean 'gain'?)"),
    ("gain.kk", "component 'gain' (gain) has no variable 'kk'"),
    ("gain", "'gain' names no variable"),
])
def test_bad_references_are_refused_clearly(reference, words):
    system = System()
    system.add("gain", twins.path("gain"))
    with pytest.raises(cosim.SystemStructureError) as caught:
        system.set_parameter(reference, 1.0)
    assert words in str(caught.value)


@pytest.mark.parametrize("name", ["", "two\nlines", "tab\there", "nul\x00"])
def test_names_that_cannot_be_addressed_are_refused(name):
    system = System()
    with pytest.raises(cosim.SystemStructureError, match="is not valid"):
        system.add(name, twins.path("gain"))
    with pytest.raises(cosim.SystemStructureError, match="is not valid"):
        system.add_port(name, "input")
    with pytest.raises(cosim.SystemStructureError, match="is not valid"):
        System("outer").add(name, System("inner"))


def test_nested_systems_with_such_names(dotted):
    line = System("Line 1")
    line.add("DP Controller", dotted)
    line.add("a.b", twins.path("gain"))
    line.add_port("set point", "input")
    line.add_port("out.put", "output")
    line.connect("set point", "DP Controller.in.u[1]")
    line.connect("DP Controller.der(out.y)", "a.b.u")
    line.connect("a.b.y", "out.put")
    factory = System("factory")
    factory.add("Line 1", line, parameters={"DP Controller.k": 2.0})
    factory.add("1st", twins.path("gain"))
    factory.set_parameter("Line 1.a.b.k", 3.0)
    factory.set_parameter('Line 1."a.b".b', 0.5)
    factory.set_parameter("Line 1.set point", 1.0)
    factory.connect("Line 1.out.put", "1st.u")
    assert factory.parameters("Line 1") == {"DP Controller.k": 2.0, "a.b.k": 3.0, "a.b.b": 0.5,
                                            "set point": 1.0}
    flat = cosim.flatten(factory)
    assert list(flat.components) == ["Line 1.DP Controller", "Line 1.a.b", "1st"]
    assert flat.parameters("Line 1.a.b") == {"k": 3.0, "b": 0.5}
    result = factory.simulate(stop_time=0.2, step_size=0.1, algorithm="gauss-seidel")
    assert result["Line 1.out.put"][-1] == pytest.approx(3.0 * (2.0 * 1.0 + 0.0) + 0.5)
    assert result['"Line 1.a.b".y'][-1] == result["Line 1.out.put"][-1]
    assert result["1st.y"][-1] == result["Line 1.out.put"][-1]
    with factory.start(step_size=0.1, stop_time=1.0) as sim:
        sim.step(1)
        assert sim.get('Line 1."a.b".y') == sim.get(("Line 1", "a.b", "y")) == sim.get("Line 1.out.put")
        assert sim.get('"Line 1".a.b.y') == sim.get("Line 1.out.put")


COLLISION = ("system 'line': component 'a.b' and component 'b' of the nested system 'a' both "
             "have the path 'a.b', so no reference can tell them apart; rename one")


def test_two_paths_that_read_alike_are_refused_when_added():
    inner = System("inner")
    inner.add("b", twins.path("gain"))
    line = System("line")
    line.add("a.b", twins.path("gain"))
    with pytest.raises(cosim.SystemStructureError) as caught:
        line.add("a", inner)
    assert COLLISION in str(caught.value)
    assert "a" not in line
    other = System("line")
    other.add("a", inner)
    with pytest.raises(cosim.SystemStructureError) as caught:
        other.add("a.b", twins.path("gain"))
    assert ("system 'line': component 'b' of the nested system 'a' and component 'a.b' both "
            "have the path 'a.b'") in str(caught.value)
    deep = System("deep")
    deep.add("x", other)
    with pytest.raises(cosim.SystemStructureError,
                       match="component 'b' of the nested system 'a' in 'x' and component 'x.a.b'"):
        deep.add("x.a.b", twins.path("gain"))


def test_two_paths_that_read_alike_by_a_later_change_are_refused_clearly():
    inner = System("inner")
    line = System("line")
    line.add("a.b", twins.path("gain"))
    line.add("a", inner)
    inner.add("b", twins.path("gain"))     # the nested system changed after it was added
    for spelled in (("a", "b", "u"), ("a.b", "u"), '"a.b".u', '"a"."b".u', "a.b.u"):
        with pytest.raises(cosim.SystemStructureError) as caught:
            line.set_parameter(spelled, 1.0)
        assert not isinstance(caught.value, cosim.AmbiguousReferenceError)
        assert COLLISION in str(caught.value)
    with pytest.raises(cosim.SystemStructureError) as caught:
        cosim.flatten(line)
    assert COLLISION in str(caught.value)
    with pytest.raises(cosim.SystemStructureError) as caught:
        line.simulate(stop_time=0.1, step_size=0.1)
    assert COLLISION in str(caught.value)


def test_nested_readings_are_written_two_ways_that_each_work(tmp_path):
    inner = System("inner")
    inner.add("b", rewrite_gain(tmp_path / "cd.fmu", names={"u": "c.d"}))
    inner.add("b.c", rewrite_gain(tmp_path / "d.fmu", names={"u": "d"}))
    outer = System("outer")
    outer.add("a", inner)
    with pytest.raises(cosim.AmbiguousReferenceError) as caught:
        outer.set_parameter("a.b.c.d", 1.0)
    message = str(caught.value)
    first, second = re.findall(r"\(write '([^']*)'", message)
    assert {first, second} == {'"a.b".c.d', '"a.b.c".d'}
    outer.set_parameter('"a.b".c.d', 2.0)
    outer.set_parameter('"a.b.c".d', 3.0)
    outer.set_parameter(("a", "b.c", "k"), 4.0)
    assert outer.parameters("a") == {'"b".c.d': 2.0, '"b.c".d': 3.0, '"b.c".k': 4.0}
    assert outer.split('"a.b".c.d') == ("a", '"b".c.d')
    assert outer.split('"a.b.c".d') == ("a", '"b.c".d')


def test_two_spellings_of_one_variable_record_one_column(tmp_path, capsys):
    system = System()
    system.add("it's", twins.path("gain"), parameters={"k": 2.0})
    system.add("other", twins.path("gain"))
    record = ["it's.y", "other.y", "'it''s'.y", ("it's", "y"), '"it\'s".y']
    result = system.simulate(stop_time=0.2, step_size=0.1, record=record)
    assert result.names == ["it's.y", "other.y"]
    ssd = tmp_path / "its.ssp"
    system.save(ssd)
    out = tmp_path / "its.csv"
    assert main(["run", str(ssd), "--stop-time", "0.2", "--step-size", "0.1", "-q", "-o", str(out),
                 "--record", "it's.y", "'it''s'.y", "other.y"]) == 0
    with open(out, newline="") as f:
        assert next(csv.reader(f)) == ["time", "it's.y", "other.y"]


def test_ssp_with_such_names_round_trips(plant, tmp_path):
    plant.save(tmp_path / "plant.ssp")
    loaded = cosim.load(tmp_path / "plant.ssp")
    assert list(loaded.components) == list(plant.components)
    assert loaded.connections == plant.connections
    assert loaded.parameters("DP Controller") == {"k": 2.0, "b.c": 1.0}


SSD = """<?xml version="1.0" encoding="UTF-8"?>
<ssd:SystemStructureDescription xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription"
    xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" version="1.0" name="plant">
  <ssd:System name="DP plant">
    <ssd:Elements>
      <ssd:Component name="Reference Generator" source="source.fmu">
        <ssd:Connectors><ssd:Connector name="y" kind="output"/></ssd:Connectors>
        <ssd:ParameterBindings><ssd:ParameterBinding><ssd:ParameterValues>
          <ssv:ParameterSet xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues"
              version="1.0" name="ramp"><ssv:Parameters>
            <ssv:Parameter name="waveform"><ssv:Integer value="2"/></ssv:Parameter>
            <ssv:Parameter name="start_time"><ssv:Real value="0"/></ssv:Parameter>
          </ssv:Parameters></ssv:ParameterSet>
        </ssd:ParameterValues></ssd:ParameterBinding></ssd:ParameterBindings>
      </ssd:Component>
      <ssd:Component name="DP Controller" source="dotted.fmu">
        <ssd:Connectors>
          <ssd:Connector name="in.u[1]" kind="input"/>
          <ssd:Connector name="der(out.y)" kind="output"/>
        </ssd:Connectors>
      </ssd:Component>
      <ssd:Component name="stage.1" source="gain.fmu">
        <ssd:Connectors><ssd:Connector name="u" kind="input"/></ssd:Connectors>
      </ssd:Component>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startElement="Reference Generator" startConnector="y"
                      endElement="DP Controller" endConnector="in.u[1]"/>
      <ssd:Connection startElement="DP Controller" startConnector="der(out.y)"
                      endElement="stage.1" endConnector="u"/>
    </ssd:Connections>
  </ssd:System>
</ssd:SystemStructureDescription>
"""


def test_cosim_run_of_an_ssd_with_such_names(dotted, tmp_path, capsys):
    (tmp_path / "gain.fmu").write_bytes(twins.path("gain").read_bytes())
    (tmp_path / "source.fmu").write_bytes(twins.path("source").read_bytes())
    (tmp_path / "plant.ssd").write_text(SSD)
    out = tmp_path / "out.csv"
    assert main(["run", str(tmp_path / "plant.ssd"), "-q", "-o", str(out), "--stop-time", "0.3",
                 "--step-size", "0.1", "--algorithm", "gauss-seidel",
                 "-p", "DP Controller.k=2", "-p", "'DP Controller'.b.c=1", "-p", '"stage.1".k=3',
                 "--record", "Reference Generator.y", "'DP Controller'.der(out.y)",
                 '"stage.1".y']) == 0, capsys.readouterr().err
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "Reference Generator.y", "DP Controller.der(out.y)", "stage.1.y"]
    t, ramp, controller, stage = map(float, rows[-1])
    assert (t, ramp) == (3 * 0.1, pytest.approx(0.3))
    assert controller == pytest.approx(2 * ramp + 1)
    assert stage == pytest.approx(3 * controller)


def test_cosim_run_refuses_an_ambiguous_parameter_naming_both(ambiguous, tmp_path, capsys):
    ambiguous.save(tmp_path / "ambiguous.ssp")
    assert main(["run", str(tmp_path / "ambiguous.ssp"), "--stop-time", "0.1",
                 "--step-size", "0.1", "-p", "a.b.c=1"]) == 1
    err = capsys.readouterr().err
    assert "'a.b.c' is ambiguous" in err and "'\"a.b\".c'" in err and "'\"a\".b.c'" in err
    assert main(["run", str(tmp_path / "ambiguous.ssp"), "-q", "--stop-time", "0.1",
                 "--step-size", "0.1", "-p", '"a".b.c=1', "-p", "'a.b'.c=2",
                 "-o", str(tmp_path / "out.csv")]) == 0


@pytest.mark.parametrize("stem", ["rollback-end", "my model v2", "1st", "a.b"])
def test_cosim_run_of_one_fmu_named_anything(stem, tmp_path, capsys):
    path = rewrite_gain(tmp_path / f"{stem}.fmu", names=DOTTED_NAMES, identifier=stem)
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "-q", "-o", str(out), "--stop-time", "0.2", "-p", "k=2",
                 "-p", "b.c=1", "--record", "der(out.y)", "in.u[1]"]) == 0, capsys.readouterr().err
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time", "der(out.y)", "in.u[1]"]
    assert [float(v) for v in rows[-1][1:]] == [1.0, 0.0]
    assert main(["run", str(path), "-q", "-o", str(out), "--stop-time", "0.2"]) == 0
    assert next(csv.reader(out.open())) == ["time", "der(out.y)"]


def test_a_live_twin_binds_replayed_columns_to_such_names(tmp_path):
    from cosim.live import Binding, LiveTwin, Replay
    recording = tmp_path / "plant.csv"
    recording.write_text("time,Spindle A.speed [rad/s]\n0.0,100.0\n1.0,200.0\n")
    bench = System("bench")
    bench.add("spindle.A", twins.path("spindle"))
    with bench.start(step_size=0.5, stop_time=2.0) as sim:
        twin = LiveTwin(sim, sources=[Replay(recording)],
                        bindings=[Binding("Spindle A.speed [rad/s]", '"spindle.A".speed_setpoint',
                                          unit="rad/s")])
        with twin:
            twin.run_until(1.5)        # the sample at t=1 was set at that point
        # rad/s converted into the model's own rpm unit (defined in the FMU)
        assert sim.get(("spindle.A", "speed_setpoint")) == pytest.approx(200.0 * 60 / (2 * np.pi))
