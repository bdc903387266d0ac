"""Reading OSP system structures (OspSystemStructure.xml) with the shipped twin FMUs."""

import logging
import shutil

import numpy as np
import pytest

from cosim import SspError, System, twins
from cosim.errors import FmiCallError, InvalidConnectionError
from cosim.ssp.osp import is_osp, load_osp, read_osp

NS = "http://opensimulationplatform.com/MSMI/OSPSystemStructure"
TWINS = ("gain", "source", "spindle", "conveyor")


@pytest.fixture
def folder(tmp_path):
    """A folder named 'line' holding copies of the twin FMUs."""
    where = tmp_path / "line"
    where.mkdir()
    for name in TWINS:
        shutil.copy(twins.path(name), where / f"{name}.fmu")
    return where


def document(body: str, *, settings: str = "<StartTime>0.0</StartTime>\n"
                                           "<BaseStepSize>0.1</BaseStepSize>\n"
                                           "<Algorithm>fixedStep</Algorithm>") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<OspSystemStructure xmlns="{NS}" version="0.1">\n{settings}\n{body}\n'
            f'</OspSystemStructure>\n')


def write(folder, text: str, name: str = "OspSystemStructure.xml"):
    path = folder / name
    path.write_text(text)
    return path


def line_of(path, marker: str, nth: int = 1) -> int:
    """1-based line of the nth line of ``path`` that contains ``marker``."""
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    return lines[nth - 1]


def attr(name: str, value: str) -> str:
    """The text name="value", for finding an element's line."""
    return f'{name}="{value}"'


def only(problems, severity="error"):
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


CHAIN = """
<Simulators>
    <Simulator name="src" source="source.fmu">
        <InitialValues>
            <InitialValue variable="waveform"><Integer value="0"/></InitialValue>
            <InitialValue variable="amplitude"><Real value="3"/></InitialValue>
        </InitialValues>
    </Simulator>
    <Simulator name="amp" source="gain.fmu">
        <InitialValues>
            <InitialValue variable="k"><Real value="2.5"/></InitialValue>
        </InitialValues>
    </Simulator>
</Simulators>
<Connections>
    <VariableConnection>
        <Variable simulator="src" name="y"/>
        <Variable simulator="amp" name="u"/>
    </VariableConnection>
</Connections>
"""


# -- what is read -------------------------------------------------------------------------

def test_chain_components_parameters_and_experiment(folder):
    system = load_osp(write(folder, document(CHAIN)))
    assert isinstance(system, System)
    assert system.name == "line"                      # named after its folder
    assert list(system.components) == ["src", "amp"]
    assert system.source("amp") == (folder / "gain.fmu").resolve()
    assert system.parameters("src") == {"waveform": 0, "amplitude": 3.0}
    assert isinstance(system.parameters("src")["waveform"], int)
    assert system.parameters("amp") == {"k": 2.5}
    assert system.connections == [("src.y", "amp.u")]
    assert system.default_experiment == {"start_time": 0.0, "step_size": 0.1, "algorithm": "jacobi"}


def test_source_gain_chain_gives_k_times_u(folder):
    system = load_osp(write(folder, document(CHAIN)))
    result = system.simulate(stop_time=1.0, record=["src.y", "amp.u", "amp.y"],
                             **{k: v for k, v in system.default_experiment.items()
                                if k in ("start_time", "step_size", "algorithm")})
    assert len(result) == 11
    np.testing.assert_allclose(result["src.y"], 3.0)
    np.testing.assert_allclose(result["amp.u"][1:], 3.0)
    np.testing.assert_allclose(result["amp.y"], 2.5 * result["amp.u"])
    assert result["amp.y"][-1] == pytest.approx(7.5)


def test_fixed_step_is_jacobi_one_step_behind(folder):
    """libcosim's fixedStep hands values over at communication points, as cosim's Jacobi."""
    body = CHAIN.replace('<Integer value="0"/>', '<Integer value="2"/>').replace(
        "</InitialValues>", '<InitialValue variable="start_time"><Real value="0"/></InitialValue>\n'
                            "</InitialValues>", 1)
    system = load_osp(write(folder, document(body)))
    assert system.parameters("src")["waveform"] == 2
    result = system.simulate(stop_time=1.0, step_size=0.1, algorithm=system.default_experiment["algorithm"],
                             record=["src.y", "amp.y"])
    np.testing.assert_allclose(result["src.y"], 3.0 * result.time, atol=1e-12)      # a ramp over 1 s
    np.testing.assert_allclose(result["amp.y"][1:], 2.5 * result["src.y"][:-1], atol=1e-12)


def test_start_and_end_time_become_the_default_experiment(folder):
    path = write(folder, document(CHAIN, settings="<StartTime>1.0</StartTime>\n<EndTime>3</EndTime>\n"
                                                   "<BaseStepSize>0.5</BaseStepSize>"))
    system = load_osp(path)
    assert system.default_experiment == {"start_time": 1.0, "stop_time": 3.0, "step_size": 0.5,
                                         "algorithm": "jacobi"}
    result = system.simulate(**system.default_experiment)
    np.testing.assert_allclose(result.time, [1.0, 1.5, 2.0, 2.5, 3.0])


def test_linear_transformation_is_applied(folder):
    body = CHAIN.replace('<Variable simulator="amp" name="u"/>',
                         '<Variable simulator="amp" name="u"/>\n'
                         '<LinearTransformation factor="2" offset="-1.5"/>')
    system = load_osp(write(folder, document(body)))
    (connection,) = system.connection_details
    assert (connection.factor, connection.offset) == (2.0, -1.5)
    assert (connection.scale, connection.shift) == (2.0, -1.5)
    result = system.simulate(stop_time=0.5, step_size=0.1, record=["amp.u", "amp.y"])
    np.testing.assert_allclose(result["amp.u"][1:], 2.0 * 3.0 - 1.5)
    np.testing.assert_allclose(result["amp.y"][1:], 2.5 * 4.5)


def test_linear_transformation_with_only_a_factor(folder):
    body = CHAIN.replace('<Variable simulator="amp" name="u"/>',
                         '<Variable simulator="amp" name="u"/><LinearTransformation factor="-4"/>')
    system = load_osp(write(folder, document(body)))
    (connection,) = system.connection_details
    assert (connection.factor, connection.offset, connection.scale, connection.shift) == \
        (-4.0, None, -4.0, 0.0)
    result = system.simulate(stop_time=0.3, step_size=0.1, record=["amp.y"])
    assert result["amp.y"][-1] == pytest.approx(2.5 * -12.0)


def test_connection_written_input_first_is_turned_round(folder):
    body = CHAIN.replace('<Variable simulator="src" name="y"/>\n        <Variable simulator="amp" name="u"/>',
                         '<Variable simulator="amp" name="u"/>\n        <Variable simulator="src" name="y"/>')
    assert '<Variable simulator="amp" name="u"/>\n        <Variable simulator="src"' in body
    report = read_osp(write(folder, document(body)))
    assert report.problems == []
    assert report.system.connections == [("src.y", "amp.u")]
    result = report.system.simulate(stop_time=0.3, step_size=0.1, record=["amp.y"])
    assert result["amp.y"][-1] == pytest.approx(7.5)


def test_units_pass_unconverted_as_in_libcosim(folder):
    """spindle.speed [rpm] -> conveyor.belt_speed_command [m/s]: cosim's own connect refuses
    the units; an OSP file is written for libcosim, which copies the value."""
    plain = System()
    plain.add("sp", folder / "spindle.fmu")
    plain.add("cv", folder / "conveyor.fmu")
    with pytest.raises(InvalidConnectionError, match="rpm"):
        plain.connect("sp.speed", "cv.belt_speed_command")
    path = write(folder, document("""
<Simulators>
    <Simulator name="sp" source="spindle.fmu"/>
    <Simulator name="cv" source="conveyor.fmu"/>
    <Simulator name="meter" source="spindle.fmu"/>
</Simulators>
<Connections>
    <VariableConnection>
        <Variable simulator="sp" name="speed"/>
        <Variable simulator="cv" name="belt_speed_command"/>
    </VariableConnection>
    <VariableConnection>
        <Variable simulator="sp" name="speed"/>
        <Variable simulator="meter" name="speed_setpoint"/>
    </VariableConnection>
</Connections>"""))
    report = read_osp(path)
    warning = only(report.problems, "warning")
    assert warning.location == f"{path}:{line_of(path, '<VariableConnection>')} <VariableConnection>"
    assert "sp.speed [rpm] -> cv.belt_speed_command [m/s]" in warning.message
    assert "unconverted" in warning.message
    assert report.errors == []
    details = {c.target: c for c in report.system.connection_details}
    assert details["cv.belt_speed_command"].suppress_unit_conversion
    assert (details["cv.belt_speed_command"].scale, details["cv.belt_speed_command"].shift) == (1.0, 0.0)
    result = report.system.simulate(stop_time=0.2, step_size=0.1, record=["sp.speed", "cv.belt_speed"])
    assert result["sp.speed"][-1] > 100        # rpm, far above the belt's 2 m/s limit
    assert result["cv.belt_speed"][-1] > 0.0


def test_initial_values_of_every_type(folder):
    path = write(folder, document("""
<Simulators>
    <Simulator name="cv" source="conveyor.fmu">
        <InitialValues>
            <InitialValue variable="start_loaded"><Boolean value="true"/></InitialValue>
            <InitialValue variable="capacity"><Integer value="12"/></InitialValue>
            <InitialValue variable="belt_speed_command"><Real value="1.25"/></InitialValue>
        </InitialValues>
    </Simulator>
    <Simulator name="src" source="source.fmu">
        <InitialValues>
            <InitialValue variable="waveform"><Integer value="3"/></InitialValue>
        </InitialValues>
    </Simulator>
</Simulators>"""))
    system = load_osp(path)
    values = system.parameters("cv")
    assert values == {"start_loaded": True, "capacity": 12.0, "belt_speed_command": 1.25}
    assert isinstance(values["capacity"], float)         # an Integer for a Real variable
    assert values["start_loaded"] is True
    assert system.parameters("src") == {"waveform": 3}
    result = system.simulate(stop_time=5.0, step_size=0.1, record=["cv.belt_speed"])
    assert result["cv.belt_speed"][-1] == pytest.approx(1.25, rel=0.05)


def test_file_uri_source_and_namespace_prefix(folder, tmp_path):
    """Sources may be file: URIs; elements match by local name whatever the prefix."""
    elsewhere = tmp_path / "configs"
    elsewhere.mkdir()
    uri = (folder / "gain.fmu").as_uri()
    path = write(elsewhere, f"""<?xml version="1.0"?>
<osp:OspSystemStructure xmlns:osp="{NS}" version="0.1">
    <osp:BaseStepSize>0.25</osp:BaseStepSize>
    <osp:Simulators>
        <osp:Simulator name="amp" source="{uri}">
            <osp:InitialValues>
                <osp:InitialValue variable="b"><osp:Real value="0.5"/></osp:InitialValue>
            </osp:InitialValues>
        </osp:Simulator>
    </osp:Simulators>
</osp:OspSystemStructure>
""", name="amplifier.xml")
    system = load_osp(path)
    assert system.name == "amplifier"                 # not OspSystemStructure.xml: its own stem
    assert system.source("amp") == folder / "gain.fmu"
    assert system.parameters("amp") == {"b": 0.5}
    assert system.default_experiment == {"step_size": 0.25, "algorithm": "jacobi"}
    assert is_osp(path)


def test_missing_algorithm_means_fixed_step(folder):
    system = load_osp(write(folder, document(CHAIN, settings="<BaseStepSize>0.1</BaseStepSize>")))
    assert system.default_experiment == {"step_size": 0.1, "algorithm": "jacobi"}


def test_is_osp(folder):
    osp = write(folder, document(CHAIN), name="plant.xml")
    other = write(folder, '<?xml version="1.0"?>\n<SystemStructureDescription version="1.0"/>\n',
                  name="other.xml")
    broken = write(folder, f'<OspSystemStructure xmlns="{NS}">\n<Simulators>\n', name="broken.xml")
    garbage = write(folder, "not XML at all", name="garbage.xml")
    assert is_osp(osp)
    assert is_osp(folder / "OspSystemStructure.xml")         # by its name, even before it exists
    assert not is_osp(other)
    assert not is_osp(garbage)
    # An OSP root with broken XML after it goes to the OSP reader, which says where.
    assert is_osp(broken)
    error = only(read_osp(broken).problems)
    assert error.location == f"{broken}:3" and error.message.startswith("malformed XML")
    assert not is_osp(twins.path("gain"))


# -- warnings --------------------------------------------------------------------------------

def test_own_step_size_is_ignored_with_a_warning(folder):
    body = CHAIN.replace('<Simulator name="src" source="source.fmu">',
                         '<Simulator name="src" source="source.fmu" stepSize="0.2">').replace(
        '<Simulator name="amp" source="gain.fmu">',
        '<Simulator name="amp" source="gain.fmu" stepSize="1e-1">')
    path = write(folder, document(body))
    report = read_osp(path)
    warning = only(report.problems, "warning")        # none for amp: 1e-1 is the base step
    assert report.errors == []
    assert warning.location == f"{path}:{line_of(path, attr('name', 'src'))} <Simulator name='src'>"
    assert "simulator 'src'" in warning.message
    assert "0.2 s" in warning.message and "ignored" in warning.message and "0.1 s" in warning.message


def test_load_logs_warnings_and_returns_the_system(folder, caplog):
    body = CHAIN.replace('source="gain.fmu"', 'source="gain.fmu" stepSize="0.05"')
    with caplog.at_level(logging.WARNING, logger="cosim"):
        system = load_osp(write(folder, document(body)))
    assert list(system.components) == ["src", "amp"]
    assert any("simulator 'amp'" in r.getMessage() and "0.05 s" in r.getMessage()
               for r in caplog.records)


def test_unknown_elements_and_version_are_warned_about(folder):
    text = document(CHAIN + "<Extras/>").replace('version="0.1"', 'version="0.2"')
    path = write(folder, text)
    report = read_osp(path)
    assert report.errors == []
    messages = {p.location: p.message for p in report.warnings}
    assert "0.2" in messages[f"{path}:2 <OspSystemStructure>"]
    assert "Extras" in messages[f"{path}:{line_of(path, '<Extras/>')} <Extras>"]
    strict = read_osp(path, strict=True)
    assert sorted(p.location for p in strict.errors) == sorted(messages)
    assert all(p.message.endswith("(accepted without strict)") for p in strict.errors)


# -- errors -----------------------------------------------------------------------------------

UNSUPPORTED = {
    "SignalConnection": """<SignalConnection>
        <Variable simulator="src" name="y"/>
        <Signal function="scale" name="in"/>
    </SignalConnection>""",
    "SignalGroupConnection": """<SignalGroupConnection>
        <SignalGroup function="sum" name="in"/>
        <VariableGroup simulator="amp" name="in"/>
    </SignalGroupConnection>""",
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_unsupported_connections(folder, kind):
    path = write(folder, document(CHAIN.replace("</Connections>", UNSUPPORTED[kind] + "\n</Connections>")))
    report = read_osp(path)
    error = only(report.problems)
    assert error.location == f"{path}:{line_of(path, f'<{kind}>')} <{kind}>"
    assert error.message.startswith(f"{kind} is not supported")
    assert report.system.connections == [("src.y", "amp.u")]      # the rest is still read
    with pytest.raises(SspError, match=kind):
        load_osp(path)


def test_functions_are_not_supported(folder):
    functions = """<Functions>
    <LinearTransformation name="scale" factor="2" offset="1"/>
    <Sum name="total" inputCount="2"/>
</Functions>"""
    path = write(folder, document(CHAIN.replace("<Connections>", functions + "\n<Connections>")))
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:{line_of(path, '<Functions>')} <Functions>"
    assert error.message.startswith("Functions is not supported")
    assert "LinearTransformation 'scale'" in error.message and "Sum 'total'" in error.message


@pytest.mark.parametrize("algorithm", ["ecco", "variableStep"])
def test_other_algorithms_are_errors(folder, algorithm):
    path = write(folder, document(CHAIN, settings=f"<BaseStepSize>0.1</BaseStepSize>\n"
                                                   f"<Algorithm>{algorithm}</Algorithm>"))
    report = read_osp(path)
    error = only(report.problems)
    assert error.location == f"{path}:{line_of(path, '<Algorithm>')} <Algorithm>"
    assert f"algorithm {algorithm!r} is not supported" in error.message
    assert "algorithm" not in report.system.default_experiment


@pytest.mark.parametrize("source, words", [
    ("proxy-fmu://localhost:9090?file=gain.fmu", "remote FMU proxies (proxy-fmu://) are not supported"),
    ("https://example.com/gain.fmu", "URI scheme 'https' are not supported"),
])
def test_sources_other_than_files_are_not_supported(folder, source, words):
    path = write(folder, document(CHAIN.replace('source="gain.fmu"', f'source="{source}"')))
    report = read_osp(path)
    error = only(report.problems)         # and no second error for the connection to amp
    assert error.location == f"{path}:{line_of(path, attr('name', 'amp'))} <Simulator name='amp'>"
    assert words in error.message
    assert list(report.system.components) == ["src"]
    assert report.system.connections == []


def test_missing_fmu(folder):
    path = write(folder, document(CHAIN.replace('source="gain.fmu"', 'source="models/gain.fmu"')))
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:{line_of(path, attr('name', 'amp'))} <Simulator name='amp'>"
    assert "models/gain.fmu" in error.message


def test_bad_xml_has_a_line_number(folder):
    text = document(CHAIN).replace('<Variable simulator="amp" name="u"/>',
                                   '<Variable simulator="amp" name="u">')      # never closed
    path = write(folder, text)
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:{line_of(path, '</VariableConnection>')}"
    assert error.message.startswith("malformed XML")
    with pytest.raises(SspError, match="malformed XML"):
        load_osp(path)


def test_not_an_osp_file(folder):
    path = write(folder, '<?xml version="1.0"?>\n\n<SystemStructureDescription version="1.0"/>\n',
                 name="system.xml")
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:3 <SystemStructureDescription>"
    assert "root element must be OspSystemStructure" in error.message


def test_file_not_found(tmp_path):
    report = read_osp(tmp_path / "OspSystemStructure.xml")
    assert report.system is None
    assert str(only(report.problems)) == f"{tmp_path / 'OspSystemStructure.xml'}: error: file not found"


def test_unknown_simulator_and_variable_in_a_connection(folder):
    path = write(folder, document(CHAIN.replace("</Connections>", """<VariableConnection>
        <Variable simulator="scr" name="y"/>
        <Variable simulator="amp" name="b"/>
    </VariableConnection>
    <VariableConnection>
        <Variable simulator="src" name="yy"/>
        <Variable simulator="amp" name="k"/>
    </VariableConnection>
</Connections>""")))
    report = read_osp(path)
    assert [p.severity for p in report.problems] == ["error", "error"]
    first, second = report.problems
    assert first.location == \
        f"{path}:{line_of(path, attr('simulator', 'scr'))} <Variable simulator='scr' name='y'>"
    assert first.message == "there is no simulator 'scr' (did you mean 'src'?)"
    assert second.location == \
        f"{path}:{line_of(path, attr('name', 'yy'))} <Variable simulator='src' name='yy'>"
    assert "has no variable 'yy'" in second.message and "'y'" in second.message
    assert report.system.connections == [("src.y", "amp.u")]


def test_connection_rules_are_reported_at_the_connection(folder):
    path = write(folder, document(CHAIN.replace("</Connections>", """<VariableConnection>
        <Variable simulator="src" name="y"/>
        <Variable simulator="amp" name="u"/>
    </VariableConnection>
    <VariableConnection>
        <Variable simulator="src" name="y"/>
        <Variable simulator="amp" name="y"/>
    </VariableConnection>
    <VariableConnection>
        <Variable simulator="src" name="y"/>
    </VariableConnection>
</Connections>""")))
    report = read_osp(path)
    assert [p.severity for p in report.problems] == ["error"] * 3
    twice, outputs, single = report.problems
    assert twice.location == f"{path}:{line_of(path, '<VariableConnection>', 2)} <VariableConnection>"
    assert "already connected to src.y" in twice.message
    assert outputs.location == f"{path}:{line_of(path, '<VariableConnection>', 3)} <VariableConnection>"
    assert "amp.y is an output, not an input" in outputs.message
    assert single.location == f"{path}:{line_of(path, '<VariableConnection>', 4)} <VariableConnection>"
    assert "two Variable elements, not 1" in single.message


def test_algebraic_loop_is_a_warning(folder):
    path = write(folder, document("""
<Simulators>
    <Simulator name="a" source="gain.fmu"/>
    <Simulator name="b" source="gain.fmu"/>
</Simulators>
<Connections>
    <VariableConnection>
        <Variable simulator="a" name="y"/><Variable simulator="b" name="u"/>
    </VariableConnection>
    <VariableConnection>
        <Variable simulator="b" name="y"/><Variable simulator="a" name="u"/>
    </VariableConnection>
</Connections>"""))
    warning = only(read_osp(path).problems, "warning")
    assert warning.severity == "warning" and warning.location == str(path)
    assert "algebraic loop" in warning.message and "a.y" in warning.message and "b.y" in warning.message


@pytest.mark.parametrize("settings, element, words", [
    ("<BaseStepSize>fast</BaseStepSize>", "BaseStepSize", "BaseStepSize must be a number, not 'fast'"),
    ("<BaseStepSize>-0.1</BaseStepSize>", "BaseStepSize", "BaseStepSize must be > 0"),
    ("<StartTime>2</StartTime><EndTime>1</EndTime>", "EndTime", "EndTime (1) must be after StartTime (2)"),
    ("<StartTime>nan</StartTime>", "StartTime", "StartTime must be finite"),
])
def test_bad_time_settings(folder, settings, element, words):
    path = write(folder, document(CHAIN, settings=settings))
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:{line_of(path, f'<{element}>')} <{element}>"
    assert words in error.message


@pytest.mark.parametrize("value, words", [
    ('<Real value="2.0"/>', "src.waveform is int32: give its value as <Integer>, not <Real>"),
    ('<Integer value="1.5"/>', "'1.5' is not a valid Integer value for src.waveform"),
    ('<Boolean value="true"/>', "src.waveform is int32: give its value as <Integer>, not <Boolean>"),
    ('<Integer/>', "the <Integer> of src.waveform has no value attribute"),
    ('<Real value="1"/><Real value="2"/>', "must hold exactly one Real, Integer, Boolean or String"),
    ('<Integer value="5"/>', "waveform must be 0 (constant)"),
])
def test_bad_initial_values(folder, value, words):
    path = write(folder, document(CHAIN.replace('<Integer value="0"/>', value)))
    report = read_osp(path)
    if words.startswith("waveform must be"):
        # Accepted when read; the FMU itself refuses it when the run starts.
        assert report.problems == []
        with pytest.raises(FmiCallError, match="waveform must be 0"):
            report.system.simulate(stop_time=0.2, step_size=0.1)
        return
    error = only(report.problems)
    assert error.location == \
        f"{path}:{line_of(path, attr('variable', 'waveform'))} <InitialValue variable='waveform'>"
    assert words in error.message


def test_initial_value_of_an_unknown_or_output_variable(folder):
    path = write(folder, document(CHAIN.replace(
        '<InitialValue variable="k"><Real value="2.5"/></InitialValue>',
        '<InitialValue variable="kk"><Real value="2.5"/></InitialValue>\n'
        '<InitialValue variable="y"><Real value="1"/></InitialValue>\n'
        '<InitialValue variable="u"><Boolean value="maybe"/></InitialValue>')))
    report = read_osp(path)
    unknown, output, boolean = report.errors
    assert unknown.location == f"{path}:{line_of(path, attr('variable', 'kk'))} <InitialValue variable='kk'>"
    assert "no variable 'kk'" in unknown.message and "'k'" in unknown.message
    assert output.location == f"{path}:{line_of(path, attr('variable', 'y'))} <InitialValue variable='y'>"
    assert "amp.y is a continuous output" in output.message
    assert boolean.location == f"{path}:{line_of(path, attr('variable', 'u'))} <InitialValue variable='u'>"
    assert boolean.message == "'maybe' is not a valid Boolean value for amp.u (write true, false, 1 or 0)"
    assert report.system.parameters("amp") == {}


def test_duplicate_simulator_and_missing_parts(folder):
    path = write(folder, document("""
<Simulators>
    <Simulator name="amp" source="gain.fmu"/>
    <Simulator name="amp" source="source.fmu"/>
    <Simulator source="gain.fmu"/>
    <Simulator name="nothing"/>
    <Simulator name="bad&#10;name" source="gain.fmu"/>
    <Simulator name="DP Controller" source="gain.fmu"/>
</Simulators>"""))
    report = read_osp(path)
    duplicate, nameless, sourceless, bad_name = report.errors
    assert duplicate.location == f"{path}:{line_of(path, attr('name', 'amp'), 2)} <Simulator name='amp'>"
    assert "already has an element named 'amp'" in duplicate.message
    assert nameless.message == "Simulator without a name"
    assert sourceless.message == "simulator 'nothing' has no source"
    assert bad_name.location.startswith(f"{path}:{line_of(path, 'bad&#10;name')} <Simulator")
    assert "'bad\\nname' is not valid" in bad_name.message
    assert "control character" in bad_name.message
    assert list(report.system.components) == ["amp", "DP Controller"]
    assert report.system.source("amp").name == "gain.fmu"


def test_no_simulators(folder):
    path = write(folder, document("<Connections/>"))
    error = only(read_osp(path).problems)
    assert error.location == f"{path}:2 <OspSystemStructure>"
    assert error.message == "the system structure has no Simulators"


def test_several_errors_are_all_reported_together(folder):
    path = write(folder, document("""
<Simulators>
    <Simulator name="src" source="source.fmu">
        <InitialValues>
            <InitialValue variable="amplitud"><Real value="1"/></InitialValue>
        </InitialValues>
    </Simulator>
    <Simulator name="amp" source="gain.fmu" stepSize="0.5"/>
    <Simulator name="sp" source="proxy-fmu://localhost?file=spindle.fmu"/>
</Simulators>
<Functions><Sum name="total" inputCount="2"/></Functions>
<Connections>
    <VariableConnection>
        <Variable simulator="src" name="y"/>
        <Variable simulator="sp" name="speed_setpoint"/>
    </VariableConnection>
    <SignalConnection>
        <Variable simulator="src" name="y"/>
        <Signal function="total" name="in"/>
    </SignalConnection>
    <VariableConnection>
        <Variable simulator="src" name="y"/>
        <Variable simulator="amp" name="uu"/>
    </VariableConnection>
</Connections>""", settings="<BaseStepSize>0.1</BaseStepSize>\n<Algorithm>ecco</Algorithm>"))
    report = read_osp(path)
    expected = [
        (f"{path}:{line_of(path, '<Algorithm>')}", "algorithm 'ecco' is not supported"),
        (f"{path}:{line_of(path, 'amplitud')}", "component 'src' (source) has no variable 'amplitud'"),
        (f"{path}:{line_of(path, 'proxy-fmu')}", "simulator 'sp'"),
        (f"{path}:{line_of(path, '<Functions>')}", "Functions is not supported"),
        (f"{path}:{line_of(path, '<SignalConnection>')}", "SignalConnection is not supported"),
        (f"{path}:{line_of(path, attr('name', 'uu'))}", "component 'amp' (gain) has no variable 'uu'"),
    ]
    assert len(report.errors) == len(expected), [str(p) for p in report.errors]
    for problem, (line, message) in zip(report.errors, expected):
        assert problem.location.split(" ")[0] == line
        assert problem.message.startswith(message), problem
    assert [p.location for p in report.warnings] == [
        f"{path}:{line_of(path, 'stepSize')} <Simulator name='amp'>"]
    with pytest.raises(SspError) as caught:
        load_osp(path)
    assert str(caught.value).startswith(f"{path}: 6 errors:")
    assert [str(p) for p in caught.value.problems] == [str(p) for p in report.errors]
