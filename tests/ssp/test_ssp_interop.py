"""SSP files as other tools write them: reversed connections, parameter connectors,
values for variables the system does not have, SSP 2.0 files; strict mode."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from cosim import SspError, flatten, twins
from cosim.cli import main
from cosim.ssp import load, read, save

NS = ('xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
      'xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" '
      'xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues" '
      'xmlns:ssm="http://ssp-standard.org/SSP1/SystemStructureParameterMapping"')


def ssd(system: str, *, version="1.0", extra="") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ssd:SystemStructureDescription {NS} name="cell" version="{version}">\n'
            f'{system}\n{extra}</ssd:SystemStructureDescription>\n')


def write(folder: Path, text: str, name="cell.ssd") -> Path:
    for fmu in ("source", "gain"):
        shutil.copy(twins.path(fmu), folder / f"{fmu}.fmu")
    path = folder / name
    path.write_text(text)
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return lines[nth - 1]


def inline(values: dict, version="1.0") -> str:
    rows = "".join(f'<ssv:Parameter name="{p}"><ssv:{kind} value="{v}"/></ssv:Parameter>'
                   for p, (kind, v) in values.items())
    return ('<ssd:ParameterBindings><ssd:ParameterBinding><ssd:ParameterValues>'
            f'<ssv:ParameterSet version="{version}" name="values"><ssv:Parameters>{rows}'
            '</ssv:Parameters></ssv:ParameterSet></ssd:ParameterValues></ssd:ParameterBinding>'
            '</ssd:ParameterBindings>')


SOURCE = inline({"waveform": ("Integer", 0), "amplitude": ("Real", 2.0)})


def run(system, **options):
    return system.simulate(stop_time=0.3, step_size=0.1, **options)


# -- connections written from the input to the output -----------------------------------------------

REVERSED = f"""  <ssd:System name="cell">
    <ssd:Connectors>
      <ssd:Connector name="level" kind="input"><ssc:Real/></ssd:Connector>
      <ssd:Connector name="out" kind="output"><ssc:Real/></ssd:Connector>
    </ssd:Connectors>
    {inline({"level": ("Real", 0.5)})}
    <ssd:Elements>
      <ssd:Component name="src" source="source.fmu">{SOURCE}</ssd:Component>
      <ssd:Component name="amp" source="gain.fmu">{inline({"k": ("Real", 3.0)})}</ssd:Component>
      <ssd:Component name="bias" source="gain.fmu"/>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startElement="amp" startConnector="u" endElement="src" endConnector="y"/>
      <ssd:Connection startElement="bias" startConnector="u" endConnector="level"/>
      <ssd:Connection startConnector="out" endElement="amp" endConnector="y"/>
    </ssd:Connections>
  </ssd:System>"""


def test_reversed_connections_are_turned_round_with_a_warning(tmp_path):
    path = write(tmp_path, ssd(REVERSED))
    report = read(path)
    assert report.errors == []
    warnings = [(p.location, p.message) for p in report.warnings]
    lines = [line_of(path, needle) for needle in
             ('startConnector="u" endElement="src"', 'endConnector="level"', 'startConnector="out"')]
    assert [w[0] for w in warnings] == [f"{path}:{line} <Connection>" for line in lines]
    assert "connection written from amp.u (receives data) to src.y (provides data); " \
           "read as src.y -> amp.u" in warnings[0][1]
    assert "read as level -> bias.u" in warnings[1][1]
    assert "read as amp.y -> out" in warnings[2][1]
    system = report.system
    assert sorted(system.connections) == [("amp.y", "out"), ("level", "bias.u"), ("src.y", "amp.u")]
    result = run(system)
    np.testing.assert_allclose(result["amp.y"][1:], 6.0)
    np.testing.assert_allclose(result["out"][1:], 6.0)
    np.testing.assert_allclose(result["bias.y"], 0.5)


def test_reversed_connections_are_errors_when_strict(tmp_path, capsys):
    path = write(tmp_path, ssd(REVERSED))
    with pytest.raises(SspError) as caught:
        load(path, strict=True)
    assert len(caught.value.problems) == 3
    assert all("accepted without strict" in p.message for p in caught.value.problems)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 warnings:") and "read as src.y -> amp.u" in out
    assert main(["validate", "--strict", str(path)]) == 1
    assert capsys.readouterr().out.startswith("3 errors:")


@pytest.mark.parametrize("ends, words", [
    (('amp', 'u', 'bias', 'u'), "cannot connect amp.u and bias.u: both are inputs"),
    (('src', 'y', 'amp', 'y'), "cannot connect src.y and amp.y: both are outputs"),
    ((None, 'level', 'amp', 'y'), "cannot connect level and amp.y: both are outputs (or input "
                                  "connectors of this system)"),
])
def test_a_connection_between_two_inputs_or_two_outputs_is_an_error(tmp_path, ends, words):
    a, x, b, y = ends
    start = f'startElement="{a}" startConnector="{x}"' if a else f'startConnector="{x}"'
    text = ssd(REVERSED.replace(
        "    </ssd:Connections>",
        f'      <ssd:Connection {start} endElement="{b}" endConnector="{y}"/>\n'
        "    </ssd:Connections>"))
    path = write(tmp_path, text)
    report = read(path)
    assert len(report.errors) == 1, report.problems
    error = report.errors[0]
    assert error.location == f"{path}:{line_of(path, '<ssd:Connection ', 4)} <Connection>"
    assert words in error.message


# -- parameter connectors of a system ---------------------------------------------------------------------

PARAMETERS = f"""  <ssd:System name="cell">
    <ssd:Connectors>
      <ssd:Connector name="gain_k" kind="parameter"><ssc:Real/></ssd:Connector>
      <ssd:Connector name="bias_b" kind="calculatedParameter"><ssc:Real/></ssd:Connector>
    </ssd:Connectors>
    {inline({"gain_k": ("Real", 4.0), "bias_b": ("Real", 0.25)})}
    <ssd:Elements>
      <ssd:Component name="src" source="source.fmu">{SOURCE}</ssd:Component>
      <ssd:Component name="amp" source="gain.fmu">{inline({"k": ("Real", 1.0)})}</ssd:Component>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startElement="src" startConnector="y" endElement="amp" endConnector="u"/>
      <ssd:Connection startConnector="gain_k" endElement="amp" endConnector="k"/>
      <ssd:Connection startElement="amp" startConnector="b" endConnector="bias_b">
        <ssc:LinearTransformation factor="2.0" offset="0.5"/>
      </ssd:Connection>
    </ssd:Connections>
  </ssd:System>"""


def test_a_system_parameter_reaches_the_connected_component_parameters(tmp_path):
    path = write(tmp_path, ssd(PARAMETERS))
    report = read(path)
    assert report.problems == []
    system = report.system
    # The connection wins over the component's own value; a transformation applies.
    assert system.parameters("amp") == {"k": 4.0, "b": 2 * 0.25 + 0.5}
    result = run(system)
    np.testing.assert_allclose(result["amp.y"][1:], 4.0 * 2.0 + 1.0)


def test_a_parameter_bound_higher_up_reaches_inside_a_nested_system(tmp_path):
    cell = PARAMETERS.replace('<ssd:System name="cell">', '<ssd:System name="cell1">')
    top = f"""  <ssd:System name="line">
    <ssd:Connectors>
      <ssd:Connector name="line_k" kind="parameter"><ssc:Real/></ssd:Connector>
    </ssd:Connectors>
    {inline({"cell1.gain_k": ("Real", 5.0), "line_k": ("Real", 3.0)})}
    <ssd:Elements>
{cell}
{PARAMETERS.replace('<ssd:System name="cell">', '<ssd:System name="cell2">')}
{PARAMETERS.replace('<ssd:System name="cell">', '<ssd:System name="cell3">')}
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startConnector="line_k" endElement="cell3" endConnector="gain_k">
        <ssc:LinearTransformation factor="2.0"/>
      </ssd:Connection>
    </ssd:Connections>
  </ssd:System>"""
    path = write(tmp_path, ssd(top))
    report = read(path)
    assert report.problems == []
    result = run(report.system)
    np.testing.assert_allclose(result["cell1.amp.y"][1:], 5.0 * 2.0 + 1.0)
    np.testing.assert_allclose(result["cell2.amp.y"][1:], 4.0 * 2.0 + 1.0)
    np.testing.assert_allclose(result["cell3.amp.y"][1:], 6.0 * 2.0 + 1.0)    # line_k, doubled
    # Written back (as SSP 1.0, the values on the parameters) and read again: the same run.
    again = load(save(report.system, tmp_path / "again.ssd"))
    rerun = run(again)
    for name in ("cell1.amp.y", "cell2.amp.y", "cell3.amp.y"):
        np.testing.assert_array_equal(rerun[name], result[name])


def test_a_parameter_connector_without_a_value_leaves_the_parameter_alone(tmp_path):
    text = ssd(PARAMETERS.replace(inline({"gain_k": ("Real", 4.0), "bias_b": ("Real", 0.25)}), ""))
    system = load(write(tmp_path, text))
    assert system.parameters("amp") == {"k": 1.0}


def test_a_parameter_connector_connected_to_an_output_is_an_error(tmp_path):
    text = ssd(PARAMETERS.replace('endElement="amp" endConnector="k"', 'endElement="amp" endConnector="y"'))
    path = write(tmp_path, text)
    report = read(path)
    line = line_of(path, 'endConnector="y"')
    assert [p.location for p in report.errors] == [f"{path}:{line} <Connection>"]
    assert "cannot connect a parameter connector to amp.y: its causality is output" \
        in report.errors[0].message


# -- values for variables the system does not have ---------------------------------------------------------

def test_values_naming_nothing_are_ignored_with_a_warning(tmp_path):
    (tmp_path / "values.ssv").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ssv:ParameterSet {NS} version="1.0" name="v">\n'
        '  <ssv:Parameters>\n'
        '    <ssv:Parameter name="amp.k"><ssv:Real value="3.0"/></ssv:Parameter>\n'
        '    <ssv:Parameter name="amp.kk"><ssv:Real value="9.0"/></ssv:Parameter>\n'
        '    <ssv:Parameter name="mixer.k"><ssv:Real value="9.0"/></ssv:Parameter>\n'
        '    <ssv:Parameter name="gain_b"><ssv:Real value="0.5"/></ssv:Parameter>\n'
        '    <ssv:Parameter name="gain_z"><ssv:Real value="0.5"/></ssv:Parameter>\n'
        '  </ssv:Parameters>\n</ssv:ParameterSet>\n')
    (tmp_path / "names.ssm").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ssm:ParameterMapping {NS} version="1.0">\n'
        '  <ssm:MappingEntry source="gain_b" target="amp.b"/>\n'
        '  <ssm:MappingEntry source="gain_z" target="amp.z"/>\n'
        '</ssm:ParameterMapping>\n')
    system = f"""  <ssd:System name="cell">
    <ssd:ParameterBindings>
      <ssd:ParameterBinding source="values.ssv"><ssd:ParameterMapping source="names.ssm"/></ssd:ParameterBinding>
    </ssd:ParameterBindings>
    <ssd:Elements>
      <ssd:Component name="amp" source="gain.fmu">{inline({"bb": ("Real", 1.0)})}</ssd:Component>
    </ssd:Elements>
  </ssd:System>"""
    path = write(tmp_path, ssd(system))
    values = tmp_path / "values.ssv"
    report = read(path)
    assert report.errors == []
    assert [(p.location, p.message.split(" (SSP")[0]) for p in report.warnings] == [
        (f"{path}:{line_of(path, '<ssv:Parameter name=')} <Parameter name='bb'>",
         "parameter 'amp.bb' is ignored: component 'amp' (gain) has no variable 'bb' "
         "(did you mean 'b'?)"),
        (f"{values}:5 <Parameter name='amp.kk'>",
         "parameter 'amp.kk' is ignored: component 'amp' (gain) has no variable 'kk' "
         "(did you mean 'k'?)"),
        (f"{values}:6 <Parameter name='mixer.k'>",
         "parameter 'mixer.k' is ignored: system 'cell' has no element 'mixer'"),
        (f"{values}:8 <Parameter name='gain_z'>",
         "parameter 'amp.z' is ignored: component 'amp' (gain) has no variable 'z'"),
    ]
    assert report.system.parameters("amp") == {"k": 3.0, "b": 0.5}
    with pytest.raises(SspError) as caught:
        load(path, strict=True)
    assert len(caught.value.problems) == 4
    assert f"{values}:6 <Parameter name='mixer.k'>: error:" in str(caught.value)


# -- SSP 2.0 -----------------------------------------------------------------------------------------

def ssp_files(folder: Path, version: str, real: str, integer: str) -> Path:
    """A cell with a typed port, values in an .ssv with an .ssm mapping, in one SSP version."""
    (folder / "values.ssv").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ssv:ParameterSet {NS} version="{version}" name="v">\n  <ssv:Parameters>\n'
        f'    <ssv:Parameter name="src.waveform"><ssv:{integer} value="0"/></ssv:Parameter>\n'
        f'    <ssv:Parameter name="src.amplitude"><ssv:{real} value="2.5"/></ssv:Parameter>\n'
        f'    <ssv:Parameter name="gain"><ssv:{real} value="1.5"/></ssv:Parameter>\n'
        '  </ssv:Parameters>\n</ssv:ParameterSet>\n')
    (folder / "names.ssm").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ssm:ParameterMapping {NS} version="{version}">\n'
        '  <ssm:MappingEntry source="gain" target="amp.k">'
        '<ssc:LinearTransformation factor="2.0" offset="0.0"/></ssm:MappingEntry>\n'
        '</ssm:ParameterMapping>\n')
    system = f"""  <ssd:System name="cell">
    <ssd:Connectors>
      <ssd:Connector name="bias" kind="input"><ssc:{real}/></ssd:Connector>
      <ssd:Connector name="out" kind="output"><ssc:{real}/></ssd:Connector>
    </ssd:Connectors>
    <ssd:ParameterBindings>
      <ssd:ParameterBinding source="values.ssv"><ssd:ParameterMapping source="names.ssm"/></ssd:ParameterBinding>
    </ssd:ParameterBindings>
    <ssd:Elements>
      <ssd:Component name="src" source="source.fmu">
        <ssd:Connectors><ssd:Connector name="y" kind="output"><ssc:{real}/></ssd:Connector></ssd:Connectors>
      </ssd:Component>
      <ssd:Component name="amp" source="gain.fmu"/>
      <ssd:Component name="offset" source="gain.fmu"/>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startElement="src" startConnector="y" endElement="amp" endConnector="u"/>
      <ssd:Connection startElement="amp" startConnector="y" endConnector="out"/>
      <ssd:Connection startConnector="bias" endElement="offset" endConnector="u"/>
    </ssd:Connections>
  </ssd:System>"""
    return write(folder, ssd(system, version=version))


def test_an_ssp_2_0_file_runs_like_its_ssp_1_0_twin(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = ssp_files(tmp_path / "one", "1.0", "Real", "Integer")
    two = ssp_files(tmp_path / "two", "2.0", "Float64", "Int32")
    assert read(one).problems == []
    report = read(two)
    assert report.problems == []
    system = report.system
    assert system.parameters("amp") == {"k": 3.0}
    assert system.parameters("src") == {"waveform": 0, "amplitude": 2.5}
    assert isinstance(system.parameters("src")["waveform"], int)
    assert system.ports["bias"].type == "float64"
    ours, theirs = run(load(one)), run(system)
    assert theirs.names == ours.names
    for name in ours.names:
        np.testing.assert_array_equal(theirs[name], ours[name])
    np.testing.assert_allclose(theirs["out"][1:], 7.5)


@pytest.mark.parametrize("kind, value, fmu, target, expected", [
    ("Float32", "0.5", "conveyor", "length", 0.5), ("UInt8", "3", "source", "waveform", 3),
    ("Int64", "2", "source", "waveform", 2), ("Boolean", "true", "conveyor", "start_loaded", True)])
def test_ssp_2_0_value_types(tmp_path, kind, value, fmu, target, expected):
    shutil.copy(twins.path(fmu), tmp_path / f"{fmu}.fmu")
    system = f"""  <ssd:System name="cell">
    <ssd:Elements>
      <ssd:Component name="c" source="{fmu}.fmu">{inline({target: (kind, value)}, "2.0")}</ssd:Component>
    </ssd:Elements>
  </ssd:System>"""
    path = tmp_path / "one.ssd"
    path.write_text(ssd(system, version="2.0"))
    report = read(path)
    assert report.problems == []
    assert report.system.parameters("c") == {target: expected}
    assert type(report.system.parameters("c")[target]) is type(expected)


def test_an_unknown_ssp_version_is_read_as_2_0_with_a_warning(tmp_path):
    path = write(tmp_path, ssd(PARAMETERS, version="3.1"))
    report = read(path)
    assert [(p.severity, p.location) for p in report.problems] == [
        ("warning", f"{path}:2 <SystemStructureDescription name='cell'>")]
    assert "SSP version '3.1'" in report.problems[0].message
    assert load(path).parameters("amp")["k"] == 4.0
    with pytest.raises(SspError, match="SSP version '3.1'"):
        load(path, strict=True)


def test_a_file_read_with_tolerated_defects_is_written_as_valid_ssp_1_0(tmp_path):
    path = write(tmp_path, ssd(REVERSED, version="2.0"))
    system = load(path)
    written = save(system, tmp_path / "clean.ssd")
    text = written.read_text()
    assert 'version="1.0"' in text
    assert read(written).problems == []         # no reversed connection left, schema-valid
    assert sorted(load(written).connections) == sorted(system.connections)
    flat = flatten(load(written))
    assert flat.parameters("amp") == {"k": 3.0}
