"""SSP: write and read back, parameter sets and mappings, the command line, and bad files."""

import gc
import hashlib
import math
import shutil
import zipfile
from pathlib import Path

import fmpy
import numpy as np
import pytest
from fmpy.ssp.ssd import read_ssd
from lxml import etree

import cosim
from cosim import SspError, System, flatten, twins
from cosim.cli import main
from cosim.ssp import load, read, save

NS = ('xmlns:ssd="http://ssp-standard.org/SSP1/SystemStructureDescription" '
      'xmlns:ssc="http://ssp-standard.org/SSP1/SystemStructureCommon" '
      'xmlns:ssv="http://ssp-standard.org/SSP1/SystemStructureParameterValues" '
      'xmlns:ssm="http://ssp-standard.org/SSP1/SystemStructureParameterMapping"')
SCHEMAS = Path(fmpy.__file__).parent / "ssp" / "schema"


# -- helpers ------------------------------------------------------------------------------------


def ssd_text(system: str, *, name="plant", units="", experiment="") -> str:
    """A whole SSD around the XML of its top-level System."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ssd:SystemStructureDescription {NS} name="{name}" version="1.0">\n'
            f'{system}\n{units}{experiment}'
            f'</ssd:SystemStructureDescription>\n')


def ssv_text(name: str, parameters: dict) -> str:
    rows = "\n".join(f'    <ssv:Parameter name="{p}"><ssv:{kind} value="{v}"/></ssv:Parameter>'
                     for p, (kind, v) in parameters.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ssv:ParameterSet {NS} version="1.0" name="{name}">\n'
            f'  <ssv:Parameters>\n{rows}\n  </ssv:Parameters>\n</ssv:ParameterSet>\n')


def inline_set(parameters: dict, name="values") -> str:
    rows = "".join(f'<ssv:Parameter name="{p}"><ssv:{kind} value="{v}"/></ssv:Parameter>'
                   for p, (kind, v) in parameters.items())
    return ('<ssd:ParameterBindings><ssd:ParameterBinding><ssd:ParameterValues>'
            f'<ssv:ParameterSet version="1.0" name="{name}"><ssv:Parameters>{rows}</ssv:Parameters>'
            '</ssv:ParameterSet></ssd:ParameterValues></ssd:ParameterBinding></ssd:ParameterBindings>')


def copy_fmus(folder: Path, *names, fmi_version="2.0") -> None:
    for name in names:
        shutil.copy(twins.path(name, fmi_version), folder / f"{name}.fmu")


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of ``needle``."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def named(text: str, name: str) -> int:
    """1-based line of the first element with ``name="..."``."""
    return line_of(text, f'name="{name}"')


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_line(fmi_version):
    line = System("line")
    line.add_port("feed_rate", "input", unit="1/s", start=0.3, description="parts per second in")
    line.add_port("speed", "input", unit="rpm")
    line.add_port("exit_temperature", "output", unit="degC")
    line.add_port("parts_out", "output", unit="1/s")
    line.add("spindle", twins.path("spindle", fmi_version), parameters={"wear_rate": 2.0})
    line.add("furnace", twins.path("furnace", fmi_version))
    line.add("conveyor", twins.path("conveyor", fmi_version))
    line.connect("feed_rate", "conveyor.part_flow_in")
    line.connect("speed", "spindle.speed_setpoint")
    line.connect("furnace.part_exit_temperature", "exit_temperature")
    line.connect("conveyor.part_flow_out", "parts_out")
    return line


def make_plant(fmi_version="2.0"):
    """Nested twice, with ports, values per instance, unit conversions, linear
    transformations with and without suppressed units, and run settings."""
    line = make_line(fmi_version)
    plant = System("plant")
    plant.add_port("speed", "input", unit="rad/s", start=300.0)
    plant.add_port("exit2", "output", unit="K")
    plant.add_port("flag", "input", type="bool", start=True)
    plant.add("feed", twins.path("source", fmi_version), parameters={"waveform": 0, "amplitude": 0.4})
    plant.add("line1", line)
    plant.add("line2", line, parameters={"furnace.cool_zone_setpoint": 550.0,
                                         "conveyor.start_loaded": True})
    plant.add("scale", twins.path("gain", "2.0"), parameters={"k": 1e-3})
    plant.add("scale3", twins.path("gain", "3.0"), parameters={"k": -1.5, "b": 2.0})
    plant.connect("feed.y", "line1.feed_rate", factor=2.0, offset=0.1)
    plant.connect("line1.parts_out", "line2.feed_rate")
    plant.connect("speed", "line1.speed")                                      # rad/s -> rpm
    plant.connect("speed", "line2.speed", factor=20.0, suppress_unit_conversion=True)
    plant.connect("line2.exit_temperature", "exit2")                           # degC -> K
    plant.connect("line1.exit_temperature", "scale.u", offset=-600.0)
    plant.connect("scale.y", "scale3.u")
    plant.default_experiment.update(start_time=0.0, stop_time=2.0, step_size=0.1,
                                    algorithm="gauss-seidel", output_interval=0.2)
    return plant


def describe(system, fmu_key):
    """The flattened system in comparable form; FMUs by ``fmu_key(path)``."""
    flat = flatten(system)
    return {
        "components": {name: (flat.model(name).name, flat.model(name).fmi_version,
                              fmu_key(flat.source(name)), flat.parameters(name))
                       for name in flat.components},
        "connections": sorted((c.source, c.target, c.factor, c.offset, c.suppress_unit_conversion,
                               c.scale, c.shift) for c in flat.connection_details),
        "port_map": flat.port_map,
        "default_experiment": flat.default_experiment,
    }


def run(system):
    settings = dict(system.default_experiment)
    return system.simulate(**settings)


@pytest.fixture
def saved(tmp_path, fmi_version):
    """The plant saved as .ssp and as .ssd: (plant, ssp path, ssd path)."""
    plant = make_plant(fmi_version)
    ssp = save(plant, tmp_path / "plant.ssp")
    (tmp_path / "desc").mkdir()
    ssd = plant.save(tmp_path / "desc" / "plant.ssd")
    return plant, ssp, ssd


# -- round trip -----------------------------------------------------------------------------------


def test_save_returns_the_path_and_writes_an_archive_with_the_fmus(saved):
    plant, ssp, ssd = saved
    assert ssp.name == "plant.ssp" and ssd.name == "plant.ssd"
    with zipfile.ZipFile(ssp) as zf:
        names = sorted(zf.namelist())
        ssd_in_archive = zf.read("SystemStructure.ssd")
    # The FMI 2.0 and 3.0 gains share a file name: one is renamed, both are kept.
    fmus = [n for n in names if n.startswith("resources/")]
    assert names == ["SystemStructure.ssd", *fmus]
    assert {Path(n).stem.split("_")[0] for n in fmus} == {"source", "spindle", "furnace", "conveyor", "gain"}
    assert len(fmus) == 6 and len({n.lower() for n in fmus}) == 6
    assert b'source="resources/' in ssd_in_archive
    assert b'<ssd:System name="line2"' in ssd_in_archive


@pytest.mark.parametrize("kind", ["ssp", "ssd"])
def test_round_trip_gives_the_same_flattened_system(saved, kind):
    plant, ssp, ssd = saved
    path = ssp if kind == "ssp" else ssd
    loaded = load(path)
    # Structure that survives as is: top-level ports, elements, connections.
    assert loaded.name == "plant"
    assert loaded.ports == plant.ports
    assert list(loaded.components) == list(plant.components)
    assert sorted(loaded.subsystems) == ["line1", "line2"]
    assert loaded.connection_details == plant.connection_details
    for name in ("line1", "line2"):
        assert loaded.subsystems[name].ports == plant.subsystems[name].ports
        assert loaded.subsystems[name].connection_details == plant.subsystems[name].connection_details
    assert loaded.default_experiment == plant.default_experiment
    # The flattened systems agree; FMUs by content (an .ssp holds copies).
    ours = describe(plant, sha256)
    theirs = describe(loaded, sha256)
    assert theirs == ours
    assert ours["components"]["line2.furnace"][3] == {"cool_zone_setpoint": 550.0}
    assert ours["components"]["line2.conveyor"][3] == {"start_loaded": True}
    assert ("feed.y", "line1.conveyor.part_flow_in", None, None, False, 2.0, 0.1) in ours["connections"]
    assert ours["port_map"]["exit2"]["shift"] == 273.15
    if kind == "ssd":
        # A bare .ssd refers to the very FMU files of the system.
        assert describe(loaded, lambda p: Path(p).resolve()) == describe(plant, lambda p: Path(p).resolve())
    else:
        flat = flatten(loaded)
        names = {name: Path(flat.source(name)).name for name in flat.components}
        assert names["line1.spindle"] == "spindle.fmu" and names["feed"] == "source.fmu"
        assert {names["scale"], names["scale3"]} == {"gain.fmu", "gain_2.fmu"}
        assert sha256(flat.source("scale3")) == sha256(twins.path("gain", "3.0"))


@pytest.mark.parametrize("kind", ["ssp", "ssd"])
def test_round_trip_simulates_to_identical_numbers(saved, kind):
    plant, ssp, ssd = saved
    loaded = load(ssp if kind == "ssp" else ssd)
    ours, theirs = run(plant), run(loaded)
    assert theirs.names == ours.names
    np.testing.assert_array_equal(theirs.time, ours.time)
    np.testing.assert_allclose(ours.time, np.arange(11) * 0.2, rtol=0, atol=1e-12)
    for name in ours.names:
        assert np.array_equal(theirs[name], ours[name]), name
    np.testing.assert_allclose(ours["exit2"], ours["line2.furnace.part_exit_temperature"] + 273.15)
    np.testing.assert_allclose(ours["scale.y"], 1e-3 * (ours["line1.furnace.part_exit_temperature"] - 600.0))


def test_writing_what_was_read_reaches_a_fixed_point(saved, tmp_path):
    # Reading moves values set per instance into the instance's own system, so the
    # first rewrite may differ in layout; from then on the text is stable.
    plant, ssp, ssd = saved
    second = save(load(ssd), tmp_path / "desc" / "second.ssd")
    third = save(load(second), tmp_path / "desc" / "third.ssd")
    assert etree.tostring(etree.parse(str(third)), method="c14n") == \
        etree.tostring(etree.parse(str(second)), method="c14n")
    assert describe(load(third), sha256) == describe(plant, sha256)


@pytest.mark.parametrize("kind", ["ssp", "ssd"])
def test_written_files_validate_against_the_ssp_1_0_schema(saved, kind):
    plant, ssp, ssd = saved
    path = ssp if kind == "ssp" else ssd
    report = read(path)
    assert report.problems == []
    assert report.errors == [] and report.warnings == []
    if kind == "ssp":
        with zipfile.ZipFile(ssp) as zf:
            text = zf.read("SystemStructure.ssd")
    else:
        text = ssd.read_bytes()
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "SystemStructureDescription.xsd")))
    document = etree.fromstring(text)
    assert schema.validate(etree.ElementTree(document)), schema.error_log
    assert document.get("version") == "1.0"


@pytest.mark.parametrize("kind", ["ssp", "ssd"])
def test_fmpy_reads_what_cosim_writes(saved, tmp_path, kind):
    plant, ssp, ssd = saved
    path = ssp
    if kind == "ssd":
        # fmpy's read_ssd takes archives: put the bare description in one, alone.
        path = tmp_path / "only-the-description.ssp"
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(ssd, "SystemStructure.ssd")
    description = read_ssd(str(path), validate=True)
    assert description.name == "plant" and description.version == "1.0"
    top = description.system
    assert sorted(e.name for e in top.elements) == ["feed", "line1", "line2", "scale", "scale3"]
    assert [(c.name, c.kind) for c in top.connectors] == [("speed", "input"), ("exit2", "output"),
                                                         ("flag", "input")]
    line2 = next(e for e in top.elements if e.name == "line2")
    assert [e.name for e in line2.elements] == ["spindle", "furnace", "conveyor"]
    assert [(c.name, c.kind) for c in line2.connectors] == [
        ("feed_rate", "input"), ("speed", "input"), ("exit_temperature", "output"), ("parts_out", "output")]
    connections = {(c.startElement, c.startConnector, c.endElement, c.endConnector) for c in top.connections}
    assert connections == {("feed", "y", "line1", "feed_rate"), ("line1", "parts_out", "line2", "feed_rate"),
                           (None, "speed", "line1", "speed"), (None, "speed", "line2", "speed"),
                           ("line2", "exit_temperature", None, "exit2"),
                           ("line1", "exit_temperature", "scale", "u"), ("scale", "y", "scale3", "u")}
    sources = {e.name: e.source for e in top.elements if hasattr(e, "source")}
    if kind == "ssp":
        assert sources["feed"] == "resources/source.fmu"
    else:
        assert (ssd.parent / sources["feed"]).resolve() == Path(plant.source("feed")).resolve()
    units = {u.name for u in description.units}
    assert {"rad/s", "rpm", "degC", "K", "1/s"} <= units


# -- parameter sets, mappings, prefixes ---------------------------------------------------------------


def cell_with_parameter_sets(folder: Path, extra_bindings="", component_bindings=""):
    """A cell (one spindle) with the sets "nominal" and "worn" in .ssv files bound
    to the top-level system, as written by hand."""
    copy_fmus(folder, "spindle")
    (folder / "nominal.ssv").write_text(ssv_text("nominal", {"spindle.initial_wear": ("Real", 0.0)}))
    (folder / "worn.ssv").write_text(ssv_text("worn", {"spindle.initial_wear": ("Real", 0.6),
                                                       "spindle.wear_vibration": ("Real", 20.0)}))
    system = f"""  <ssd:System name="cell">
    <ssd:ParameterBindings>
      <ssd:ParameterBinding source="nominal.ssv"/>
      <ssd:ParameterBinding source="worn.ssv"/>{extra_bindings}
    </ssd:ParameterBindings>
    <ssd:Elements>
      <ssd:Component name="spindle" source="spindle.fmu">{component_bindings}</ssd:Component>
    </ssd:Elements>
  </ssd:System>"""
    path = folder / "SystemStructure.ssd"
    path.write_text(ssd_text(system, name="cell",
                             experiment='  <ssd:DefaultExperiment startTime="0.0" stopTime="0.2"/>\n'))
    return path


def test_parameter_sets_select_one_of_two_runs(tmp_path):
    path = cell_with_parameter_sets(tmp_path)
    assert read(path).problems == []
    nominal = load(path, parameter_set="nominal")
    worn = load(path, parameter_set="worn")
    assert nominal.parameters("spindle") == {"initial_wear": 0.0}
    assert worn.parameters("spindle") == {"initial_wear": 0.6, "wear_vibration": 20.0}
    assert nominal.default_experiment == {"start_time": 0.0, "stop_time": 0.2}
    runs = {name: system.simulate(stop_time=0.2, step_size=0.01)
            for name, system in (("nominal", nominal), ("worn", worn))}
    assert runs["nominal"]["spindle.wear"][0] == 0.0
    assert runs["worn"]["spindle.wear"][0] == pytest.approx(0.6)
    assert runs["worn"]["spindle.vibration"][-1] > 2 * runs["nominal"]["spindle.vibration"][-1] > 0.0


def test_without_a_selection_every_binding_applies_in_order(tmp_path):
    path = cell_with_parameter_sets(tmp_path)
    assert load(path).parameters("spindle") == {"initial_wear": 0.6, "wear_vibration": 20.0}


def test_an_unknown_parameter_set_lists_the_known_ones(tmp_path):
    path = cell_with_parameter_sets(tmp_path)
    with pytest.raises(SspError) as caught:
        load(path, parameter_set="broken")
    message = str(caught.value)
    assert str(path) in message
    assert "no parameter set named 'broken'" in message
    assert "parameter sets in the file: nominal, worn" in message
    assert len(caught.value.problems) == 1


def test_selection_keeps_sets_on_other_elements_and_drops_alternatives_on_the_same(tmp_path):
    # read_bindings: sets bound to one element are alternatives once one of them has
    # the selected name; elsewhere every set applies.
    (tmp_path / "common.ssv").write_text(ssv_text("common", {"spindle.rated_speed": ("Real", 10000.0)}))
    path = cell_with_parameter_sets(
        tmp_path, extra_bindings='\n      <ssd:ParameterBinding source="common.ssv"/>',
        component_bindings=inline_set({"wear_rate": ("Real", 3.0)}, name="factory"))
    worn = load(path, parameter_set="worn")
    assert worn.parameters("spindle") == {"wear_rate": 3.0, "initial_wear": 0.6, "wear_vibration": 20.0}
    common = load(path, parameter_set="common")
    assert common.parameters("spindle") == {"wear_rate": 3.0, "rated_speed": 10000.0}
    everything = load(path)
    assert everything.parameters("spindle") == {"wear_rate": 3.0, "initial_wear": 0.6,
                                                "wear_vibration": 20.0, "rated_speed": 10000.0}


def test_system_level_values_take_precedence_over_component_level_ones(tmp_path):
    path = cell_with_parameter_sets(
        tmp_path, component_bindings=inline_set({"initial_wear": ("Real", 0.9)}))
    assert load(path, parameter_set="nominal").parameters("spindle")["initial_wear"] == 0.0


MAPPING = """<?xml version="1.0" encoding="UTF-8"?>
<ssm:ParameterMapping {ns} version="1.0">
  <ssm:MappingEntry source="wear_percent" target="initial_wear">
    <ssc:LinearTransformation factor="0.01" offset="0.05"/>
  </ssm:MappingEntry>
  <ssm:MappingEntry source="vibration_per_wear" target="wear_vibration"/>
</ssm:ParameterMapping>
"""


def test_a_parameter_mapping_renames_and_transforms(tmp_path):
    copy_fmus(tmp_path, "spindle")
    (tmp_path / "wear.ssv").write_text(ssv_text("shop floor", {"wear_percent": ("Real", 40.0),
                                                               "vibration_per_wear": ("Real", 12.5),
                                                               "load_rating": ("Real", 25000.0)}))
    (tmp_path / "wear.ssm").write_text(MAPPING.format(ns=NS))
    system = """  <ssd:System name="cell">
    <ssd:Elements>
      <ssd:Component name="spindle" source="spindle.fmu">
        <ssd:ParameterBindings>
          <ssd:ParameterBinding source="wear.ssv">
            <ssd:ParameterMapping source="wear.ssm"/>
          </ssd:ParameterBinding>
        </ssd:ParameterBindings>
      </ssd:Component>
    </ssd:Elements>
  </ssd:System>"""
    path = tmp_path / "cell.ssd"
    path.write_text(ssd_text(system, name="cell"))
    assert read(path).problems == []
    values = load(path).parameters("spindle")
    assert values == {"initial_wear": pytest.approx(0.01 * 40.0 + 0.05), "wear_vibration": 12.5,
                      "load_rating": 25000.0}
    result = load(path).simulate(stop_time=0.05, step_size=0.01)
    assert result["spindle.wear"][0] == pytest.approx(0.45)


def test_a_missing_mapping_file_is_an_error_at_the_binding(tmp_path):
    copy_fmus(tmp_path, "spindle")
    (tmp_path / "wear.ssv").write_text(ssv_text("w", {"initial_wear": ("Real", 0.1)}))
    system = """  <ssd:System name="cell">
    <ssd:Elements>
      <ssd:Component name="spindle" source="spindle.fmu">
        <ssd:ParameterBindings>
          <ssd:ParameterBinding source="wear.ssv">
            <ssd:ParameterMapping source="nowhere.ssm"/>
          </ssd:ParameterBinding>
        </ssd:ParameterBindings>
      </ssd:Component>
    </ssd:Elements>
  </ssd:System>"""
    text = ssd_text(system, name="cell")
    path = tmp_path / "cell.ssd"
    path.write_text(text)
    with pytest.raises(SspError) as caught:
        load(path)
    assert f"{path}:{line_of(text, '<ssd:ParameterMapping')} <ParameterMapping>" in str(caught.value)
    assert "'nowhere.ssm' not found" in str(caught.value)


def test_a_prefix_on_a_binding_targets_one_element(tmp_path):
    copy_fmus(tmp_path, "spindle")
    (tmp_path / "bearing.ssv").write_text(ssv_text("bearing", {"initial_wear": ("Real", 0.25),
                                                               "preload": ("Real", 2000.0)}))
    system = """  <ssd:System name="cell">
    <ssd:ParameterBindings>
      <ssd:ParameterBinding source="bearing.ssv" prefix="spindle."/>
    </ssd:ParameterBindings>
    <ssd:Elements>
      <ssd:Component name="spindle" source="spindle.fmu"/>
    </ssd:Elements>
  </ssd:System>"""
    path = tmp_path / "cell.ssd"
    path.write_text(ssd_text(system, name="cell"))
    assert read(path).problems == []
    assert load(path).parameters("spindle") == {"initial_wear": 0.25, "preload": 2000.0}
    # Without the prefix the same names do not reach the component: SSP ignores them.
    path.write_text(ssd_text(system.replace(' prefix="spindle."', ""), name="cell"))
    assert load(path).parameters("spindle") == {}
    assert [p.severity for p in read(path).problems] == ["warning", "warning"]
    with pytest.raises(SspError, match="system 'cell' has no element 'initial_wear'"):
        load(path, strict=True)


# -- hand-written descriptions -----------------------------------------------------------------------


NESTED = """  <ssd:System name="plant">
    <ssd:Connectors>
      <ssd:Connector name="speed" kind="input"><ssc:Real unit="krpm"/></ssd:Connector>
      <ssd:Connector name="temperature" kind="output"><ssc:Real unit="K"/></ssd:Connector>
    </ssd:Connectors>
    {bindings}
    <ssd:Elements>
      <ssd:System name="cell">
        <ssd:Connectors>
          <ssd:Connector name="speed_in" kind="input"><ssc:Real unit="rpm"/></ssd:Connector>
          <ssd:Connector name="temp_out" kind="output"><ssc:Real unit="degC"/></ssd:Connector>
        </ssd:Connectors>
        <ssd:Elements>
          <ssd:Component name="spindle" source="spindle.fmu">
            <ssd:Connectors>
              <ssd:Connector name="speed_setpoint" kind="input"><ssc:Real unit="rpm"/></ssd:Connector>
              <ssd:Connector name="bearing_temperature" kind="output"><ssc:Real unit="degC"/></ssd:Connector>
            </ssd:Connectors>
          </ssd:Component>
        </ssd:Elements>
        <ssd:Connections>
          <ssd:Connection startConnector="speed_in" endElement="spindle" endConnector="speed_setpoint"/>
          <ssd:Connection startElement="spindle" startConnector="bearing_temperature" endConnector="temp_out"/>
        </ssd:Connections>
      </ssd:System>
      <ssd:Component name="furnace" source="furnace.fmu"/>
      <ssd:Component name="gain" source="gain.fmu"/>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startConnector="speed" endElement="cell" endConnector="speed_in"/>
      <ssd:Connection startElement="cell" startConnector="temp_out" endConnector="temperature">
        <ssc:LinearTransformation factor="2.0" offset="-20.0"/>
      </ssd:Connection>
      <ssd:Connection startElement="furnace" startConnector="part_exit_temperature" endElement="gain" endConnector="u">
        <ssc:LinearTransformation factor="0.5" offset="10.0"/>
      </ssd:Connection>
    </ssd:Connections>
  </ssd:System>"""
KRPM = """  <ssd:Units>
    <ssc:Unit name="krpm"><ssc:BaseUnit s="-1" rad="1" factor="104.71975511965977"/></ssc:Unit>
  </ssd:Units>
"""


def write_nested(folder: Path, speed_krpm=4.5) -> Path:
    copy_fmus(folder, "spindle", "furnace", "gain")
    path = folder / "nested.ssd"
    path.write_text(ssd_text(NESTED.format(bindings=inline_set({"speed": ("Real", speed_krpm)})),
                             units=KRPM))
    return path


def test_hand_written_nested_systems_with_units_and_transformations(tmp_path):
    path = write_nested(tmp_path)
    assert read(path).problems == []
    plant = load(path)
    assert plant.units["krpm"].factor == pytest.approx(1000 * math.pi / 30)
    assert plant.ports["speed"].unit == "krpm" and plant.ports["speed"].start == 4.5
    assert plant.subsystems["cell"].ports["temp_out"].unit == "degC"
    details = {(c.source, c.target): c for c in plant.connection_details}
    speed = details[("speed", "cell.speed_in")]
    assert speed.scale == pytest.approx(1000.0, rel=1e-14) and speed.shift == 0.0   # custom unit
    temperature = details[("cell.temp_out", "temperature")]
    assert (temperature.factor, temperature.offset) == (2.0, -20.0)
    assert temperature.scale == 2.0 and temperature.shift == pytest.approx(-20.0 + 273.15)
    gain = details[("furnace.part_exit_temperature", "gain.u")]
    assert (gain.scale, gain.shift) == (0.5, 10.0)                       # gain.u has no unit
    flat = flatten(plant)
    assert flat.parameters("cell.spindle")["speed_setpoint"] == pytest.approx(4500.0, rel=1e-14)
    result = plant.simulate(stop_time=0.2, step_size=0.02, algorithm="gauss-seidel")
    bearing = result["cell.spindle.bearing_temperature"]
    np.testing.assert_allclose(result["temperature"], 2.0 * bearing - 20.0 + 273.15, rtol=1e-14)
    np.testing.assert_allclose(result["gain.y"], 0.5 * result["furnace.part_exit_temperature"] + 10.0,
                               rtol=1e-14)
    assert result["cell.spindle.speed"][-1] > 1000.0


def test_values_bound_higher_up_take_precedence(tmp_path):
    copy_fmus(tmp_path, "spindle", "furnace", "gain")
    top = inline_set({"speed": ("Real", 1.0), "cell.spindle.initial_wear": ("Real", 0.7)})
    text = NESTED.format(bindings=top).replace(
        "            </ssd:Connectors>\n          </ssd:Component>",
        "            </ssd:Connectors>\n" + inline_set({"initial_wear": ("Real", 0.1),
                                                         "wear_rate": ("Real", 4.0)})
        + "\n          </ssd:Component>", 1)
    path = tmp_path / "nested.ssd"
    path.write_text(ssd_text(text, units=KRPM))
    report = read(path)
    assert report.problems == []
    assert report.system.subsystems["cell"].parameters("spindle") == {"initial_wear": 0.1, "wear_rate": 4.0}
    assert flatten(report.system).parameters("cell.spindle") == {
        "initial_wear": 0.7, "wear_rate": 4.0, "speed_setpoint": pytest.approx(1000.0, rel=1e-14)}


def test_connectors_of_a_system_without_a_type_element_are_float_ports(tmp_path):
    copy_fmus(tmp_path, "gain")
    system = """  <ssd:System name="s">
    <ssd:Connectors>
      <ssd:Connector name="u" kind="input"/>
      <ssd:Connector name="n" kind="input"><ssc:Integer/></ssd:Connector>
      <ssd:Connector name="b" kind="output"><ssc:Boolean/></ssd:Connector>
    </ssd:Connectors>
    <ssd:Elements>
      <ssd:Component name="g" source="gain.fmu"/>
    </ssd:Elements>
    <ssd:Connections>
      <ssd:Connection startConnector="u" endElement="g" endConnector="u"/>
    </ssd:Connections>
  </ssd:System>"""
    path = tmp_path / "s.ssd"
    path.write_text(ssd_text(system, name="s"))
    system = load(path)
    assert {n: (v.causality, v.type) for n, v in system.ports.items()} == {
        "u": ("input", "float64"), "n": ("input", "int32"), "b": ("output", "bool")}


# -- the command line -------------------------------------------------------------------------------


def test_cosim_run_uses_the_default_experiment_and_master_settings(saved, tmp_path, capsys):
    plant, ssp, ssd = saved
    out = tmp_path / "out.csv"
    assert main(["run", str(ssp), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "ran 9 component(s) to t=2 s in 20 steps" in err and "gauss-seidel)" in err
    data = np.genfromtxt(out, delimiter=",", names=True, deletechars="")
    np.testing.assert_allclose(data["time"], np.arange(11) * 0.2, atol=1e-12)     # output interval
    expected = run(plant)
    np.testing.assert_array_equal(data["exit2"], expected["exit2"])
    np.testing.assert_array_equal(data["line2.spindle.speed"], expected["line2.spindle.speed"])


def test_cosim_run_options_override_the_file(saved, tmp_path, capsys):
    plant, ssp, ssd = saved
    out = tmp_path / "out.csv"
    assert main(["run", str(ssd), "-o", str(out), "--stop-time", "1", "--step-size", "0.05",
                 "--algorithm", "jacobi", "--output-interval", "0.5",
                 "-p", "line2.furnace.cool_zone_setpoint=500.0", "--record", "exit2"]) == 0
    err = capsys.readouterr().err
    assert "to t=1 s in 20 steps" in err and "jacobi)" in err
    assert out.read_text().splitlines()[0] == "time,exit2"
    data = np.genfromtxt(out, delimiter=",", names=True)
    np.testing.assert_allclose(data["time"], [0.0, 0.5, 1.0], atol=1e-12)
    assert data["exit2"][0] < run(plant)["exit2"][0] - 20.0          # 500 degC setpoint, not 550


@pytest.mark.parametrize("selected, wear", [("nominal", 0.0), ("worn", 0.6)])
def test_cosim_run_with_a_parameter_set(tmp_path, capsys, selected, wear):
    ssd = cell_with_parameter_sets(tmp_path)
    ssp = tmp_path / "cell.ssp"
    with zipfile.ZipFile(ssp, "w") as zf:
        for name in ("SystemStructure.ssd", "nominal.ssv", "worn.ssv", "spindle.fmu"):
            zf.write(tmp_path / name, name)
    ssd.unlink()
    out = tmp_path / "out.csv"
    assert main(["run", str(ssp), "--parameter-set", selected, "--step-size", "0.05", "-q",
                 "-o", str(out), "--record", "spindle.wear"]) == 0
    data = np.genfromtxt(out, delimiter=",", names=True, deletechars="")
    assert data["time"][-1] == pytest.approx(0.2)                        # stopTime of the file
    assert data["spindle.wear"][0] == pytest.approx(wear)
    assert capsys.readouterr().err == ""


def test_cosim_run_with_an_unknown_parameter_set(tmp_path, capsys):
    ssd = cell_with_parameter_sets(tmp_path)
    assert main(["run", str(ssd), "--parameter-set", "mint", "--step-size", "0.05"]) == 1
    err = capsys.readouterr().err
    assert "cosim: error:" in err and "no parameter set named 'mint'" in err
    assert "nominal, worn" in err


def test_cosim_run_parameter_set_needs_an_ssp_file(capsys):
    assert main(["run", str(twins.path("gain")), "--parameter-set", "worn"]) == 1
    assert "--parameter-set applies to SSP files" in capsys.readouterr().err


def test_cosim_validate_a_good_file(saved, capsys):
    plant, ssp, ssd = saved
    assert main(["validate", str(ssp)]) == 0
    assert capsys.readouterr().out.strip() == f"{ssp}: no problems found"


def write_errors_and_warnings(folder: Path):
    """Two errors and one warning (a subsystem input port that nothing drives)."""
    copy_fmus(folder, "gain")
    system = """  <ssd:System name="top">
    <ssd:Elements>
      <ssd:System name="sub">
        <ssd:Connectors>
          <ssd:Connector name="u" kind="input"><ssc:Real/></ssd:Connector>
        </ssd:Connectors>
        <ssd:Elements>
          <ssd:Component name="g" source="gain.fmu"/>
        </ssd:Elements>
        <ssd:Connections>
          <ssd:Connection startConnector="u" endElement="g" endConnector="u"/>
        </ssd:Connections>
      </ssd:System>
      <ssd:Component name="h" source="gain.fmu">
        <ssd:Connectors>
          <ssd:Connector name="uu" kind="input"/>
        </ssd:Connectors>
      </ssd:Component>
      <ssd:Component name="lost" source="lost.fmu"/>
    </ssd:Elements>
  </ssd:System>"""
    text = ssd_text(system, name="top")
    path = folder / "top.ssd"
    path.write_text(text)
    return path, text


def test_cosim_validate_lists_errors_and_warnings_separately(tmp_path, capsys):
    path, text = write_errors_and_warnings(tmp_path)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 errors:"
    errors = out[1:3]
    assert out[3] == "1 warning:"
    warnings = out[4:]
    assert len(warnings) == 1 and len(out) == 5
    assert all(line.startswith(f"  {path}") and ": error: " in line for line in errors)
    assert f"{path}:{named(text, 'uu')} <Connector name='uu'>: error:" in errors[0]
    assert "did you mean 'u'" in errors[0]
    assert f"{path}:{named(text, 'lost')} <Component name='lost'>: error: " in errors[1]
    assert "lost.fmu" in errors[1]
    assert ": warning: input port sub.u is not connected and has no start value" in warnings[0]


def test_cosim_validate_with_only_warnings_succeeds(tmp_path, capsys):
    path, text = write_errors_and_warnings(tmp_path)
    text = text.replace('name="uu"', 'name="u"').replace(
        '      <ssd:Component name="lost" source="lost.fmu"/>\n', "")
    path.write_text(text)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 warning:" and len(out) == 2
    assert "error" not in "\n".join(out)
    assert load(path).subsystems["sub"].ports["u"].start is None      # loads, with the warning


def test_cosim_validate_checks_the_selected_parameter_set(tmp_path, capsys):
    path = cell_with_parameter_sets(tmp_path)
    assert main(["validate", str(path), "--parameter-set", "worn"]) == 0
    assert main(["validate", str(path), "--parameter-set", "new"]) == 1
    assert "no parameter set named 'new'" in capsys.readouterr().out


# -- bad files ---------------------------------------------------------------------------------------


def assert_one_error_at(path: Path, text: str, needle: str, element: str, *words, strict=False):
    """load(path) raises SspError naming the file, the line of ``needle`` and ``element``."""
    with pytest.raises(SspError) as caught:
        load(path, strict=strict)
    message = str(caught.value)
    where = f"{path}:{line_of(text, needle)} {element}"
    assert where in message, message
    for word in words:
        assert word in message, word
    located = [p for p in caught.value.problems if p.location == where]
    assert len(located) == 1, caught.value.problems
    assert located[0].severity == "error"
    return caught.value


def write_plant(folder: Path, elements: str, connections: str = "") -> tuple[Path, str]:
    copy_fmus(folder, "spindle", "furnace", "gain", "conveyor")
    connections = f"    <ssd:Connections>\n{connections}\n    </ssd:Connections>\n" if connections else ""
    system = (f'  <ssd:System name="plant">\n    <ssd:Elements>\n{elements}\n    </ssd:Elements>\n'
              f'{connections}  </ssd:System>')
    text = ssd_text(system)
    path = folder / "plant.ssd"
    path.write_text(text)
    return path, text


def test_malformed_xml_names_the_line(tmp_path):
    path, text = write_plant(tmp_path, '      <ssd:Component name="g" source="gain.fmu">')
    with pytest.raises(SspError) as caught:
        load(path)
    message = str(caught.value)
    assert "malformed XML" in message
    # The unclosed Component is noticed where </ssd:Elements> closes instead.
    assert f"{path}:{line_of(text, '</ssd:Elements>')}: error: malformed XML" in message


def test_malformed_xml_in_a_parameter_file_names_that_file(tmp_path):
    path = cell_with_parameter_sets(tmp_path)
    (tmp_path / "worn.ssv").write_text('<?xml version="1.0"?>\n<ssv:ParameterSet\n  oops')
    with pytest.raises(SspError) as caught:
        load(path)
    assert f"{tmp_path / 'worn.ssv'}:3: error: malformed XML" in str(caught.value)


def test_a_missing_fmu(tmp_path):
    path, text = write_plant(tmp_path, '      <ssd:Component name="mill" source="mill.fmu"/>')
    assert_one_error_at(path, text, 'name="mill"', "<Component name='mill'>",
                        "FMU file not found", str(tmp_path / "mill.fmu"))


def zip_with(path: Path, entries: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


@pytest.mark.parametrize("entry", ["../evil.txt", "resources/../../evil.txt", "/etc/evil.txt"])
def test_an_archive_entry_that_escapes_is_refused(tmp_path, entry):
    path, text = write_plant(tmp_path, '      <ssd:Component name="g" source="resources/gain.fmu"/>')
    ssp = zip_with(tmp_path / "evil.ssp", {"SystemStructure.ssd": text,
                                           "resources/gain.fmu": (tmp_path / "gain.fmu").read_bytes(),
                                           entry: "gotcha"})
    with pytest.raises(SspError) as caught:
        load(ssp)
    message = str(caught.value)
    assert str(ssp) in message and f"archive entry {entry!r}" in message and "escapes" in message
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil.txt").exists()


def test_an_archive_without_system_structure_ssd(tmp_path):
    path, text = write_plant(tmp_path, '      <ssd:Component name="g" source="resources/gain.fmu"/>')
    ssp = zip_with(tmp_path / "other.ssp", {"Plant.ssd": text, "resources/gain.fmu": b""})
    with pytest.raises(SspError) as caught:
        load(ssp)
    assert f"{ssp}: error: the archive has no SystemStructure.ssd (it has Plant.ssd)" in str(caught.value)
    not_a_zip = tmp_path / "text.ssp"
    not_a_zip.write_text(text)
    with pytest.raises(SspError, match="not a zip file"):
        load(not_a_zip)


def test_errors_inside_an_archive_name_the_archive_and_the_entry(tmp_path):
    cell_with_parameter_sets(tmp_path)
    worn = ssv_text("worn", {"spindle.initial_wear": ("Real", "lots")})
    ssp = tmp_path / "cell.ssp"
    with zipfile.ZipFile(ssp, "w") as zf:
        zf.write(tmp_path / "SystemStructure.ssd", "SystemStructure.ssd")
        zf.write(tmp_path / "nominal.ssv", "nominal.ssv")
        zf.writestr("worn.ssv", worn)
        zf.write(tmp_path / "spindle.fmu", "spindle.fmu")
    with pytest.raises(SspError) as caught:
        load(ssp, parameter_set="worn")
    message = str(caught.value)
    assert f"{ssp}!/worn.ssv:{line_of(worn, 'spindle.initial_wear')} <Parameter name='spindle.initial_wear'>" \
        in message
    assert "cosim-ssp-" not in message                      # not the temporary folder
    assert "Real value 'lots'" in message


def test_an_unknown_connector_on_a_component(tmp_path):
    path, text = write_plant(tmp_path, """      <ssd:Component name="spindle" source="spindle.fmu">
        <ssd:Connectors>
          <ssd:Connector name="speed" kind="output"/>
          <ssd:Connector name="sped_setpoint" kind="input"/>
        </ssd:Connectors>
      </ssd:Component>""")
    assert_one_error_at(path, text, 'name="sped_setpoint"', "<Connector name='sped_setpoint'>",
                        "component 'spindle' (spindle.fmu) has no variable 'sped_setpoint'",
                        "did you mean 'speed_setpoint'")


def test_a_connection_to_a_missing_component(tmp_path):
    path, text = write_plant(
        tmp_path, '      <ssd:Component name="gain" source="gain.fmu"/>',
        '      <ssd:Connection startElement="gain" startConnector="y" endElement="gian2" endConnector="u"/>')
    assert_one_error_at(path, text, 'endElement="gian2"', "<Connection>", "no element 'gian2'")


def test_a_connection_between_mismatched_types(tmp_path):
    path, text = write_plant(
        tmp_path, '      <ssd:Component name="belt" source="conveyor.fmu"/>\n'
                  '      <ssd:Component name="gain" source="gain.fmu"/>',
        '      <ssd:Connection startElement="belt" startConnector="jam" endElement="gain" endConnector="u"/>')
    assert_one_error_at(path, text, 'startConnector="jam"', "<Connection>",
                        "belt.jam (bool) -> gain.u (float64)", "types differ")


def test_a_connection_with_incompatible_units(tmp_path):
    path, text = write_plant(
        tmp_path, '      <ssd:Component name="spindle" source="spindle.fmu"/>\n'
                  '      <ssd:Component name="furnace" source="furnace.fmu"/>',
        '      <ssd:Connection startElement="spindle" startConnector="motor_power" endElement="furnace" '
        'endConnector="part_entry_temperature"/>')
    assert_one_error_at(path, text, 'startConnector="motor_power"', "<Connection>",
                        "spindle.motor_power [W] -> furnace.part_entry_temperature [degC]",
                        "cannot be converted")


def test_a_parameter_that_does_not_exist(tmp_path):
    bindings = inline_set({"kk": ("Real", 2.0)})
    path, text = write_plant(tmp_path, f'      <ssd:Component name="gain" source="gain.fmu">'
                                       f'\n        {bindings}\n      </ssd:Component>')
    # SSP ignores values that match no variable: a warning, an error when strict.
    report = read(path)
    assert [(p.severity, p.location) for p in report.problems] == [
        ("warning", f"{path}:{named(text, 'kk')} <Parameter name='kk'>")]
    assert "parameter 'gain.kk' is ignored: component 'gain' (gain) has no variable 'kk'" \
        in report.problems[0].message
    assert report.system.parameters("gain") == {}
    assert_one_error_at(path, text, 'name="kk"', "<Parameter name='kk'>",
                        "component 'gain' (gain) has no variable 'kk'", "did you mean 'k'",
                        "accepted without strict", strict=True)


def test_a_parameter_value_of_the_wrong_kind(tmp_path):
    bindings = inline_set({"k": ("Real", "abc")})
    path, text = write_plant(tmp_path, f'      <ssd:Component name="gain" source="gain.fmu">'
                                       f'\n        {bindings}\n      </ssd:Component>')
    assert_one_error_at(path, text, 'name="k"', "<Parameter name='k'>", "Real value 'abc'")


def test_a_parameter_of_the_wrong_type_for_the_variable(tmp_path):
    bindings = inline_set({"waveform": ("Real", "1.5")})
    copy_fmus(tmp_path, "source")
    path, text = write_plant(tmp_path, f'      <ssd:Component name="src" source="source.fmu">'
                                       f'\n        {bindings}\n      </ssd:Component>')
    assert_one_error_at(path, text, 'name="waveform"', "<Parameter name='waveform'>",
                        "src.waveform is int32", "1.5 (float)")


def test_a_component_that_is_not_an_fmu(tmp_path):
    path, text = write_plant(
        tmp_path, '      <ssd:Component name="sub" type="application/x-ssp-package" source="sub.ssp"/>')
    assert_one_error_at(path, text, 'name="sub"', "<Component name='sub'>",
                        "'application/x-ssp-package' is not supported (only FMUs)")


def test_a_remote_twin_that_does_not_answer_is_reported_at_its_component(tmp_path):
    import socket
    with socket.socket() as probe:          # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path, text = write_plant(
        tmp_path, f'      <ssd:Component name="remote" source="grpc://127.0.0.1:{port}"/>')
    assert_one_error_at(path, text, 'name="remote"', "<Component name='remote'>",
                        f"remote twin 'remote' (grpc://127.0.0.1:{port}): Describe failed",
                        "unreachable")


def test_a_malformed_remote_twin_address_is_reported_at_its_component(tmp_path):
    path, text = write_plant(
        tmp_path, '      <ssd:Component name="remote" source="grpc://twins.example:50051/spindle"/>')
    assert_one_error_at(path, text, 'name="remote"', "<Component name='remote'>",
                        "'grpc://twins.example:50051/spindle' is not a gRPC endpoint")


def test_several_problems_are_reported_together(tmp_path):
    path, text = write_plant(tmp_path, f"""      <ssd:Component name="mill" source="mill.fmu"/>
      <ssd:Component name="remote" source="grpc://twins.example/spindle"/>
      <ssd:Component name="spindle" source="spindle.fmu">
        <ssd:Connectors>
          <ssd:Connector name="sped" kind="output"/>
        </ssd:Connectors>
      </ssd:Component>
      <ssd:Component name="furnace" source="furnace.fmu"/>
      <ssd:Component name="gain" source="gain.fmu">
        {inline_set({"k": ("Real", "abc"), "kk": ("Real", "1.0")})}
      </ssd:Component>""", """      <ssd:Connection startElement="spindle" startConnector="motor_power" endElement="furnace" endConnector="part_entry_temperature"/>
      <ssd:Connection startElement="gain" startConnector="y" endElement="mill" endConnector="u"/>""")
    with pytest.raises(SspError) as caught:
        load(path, strict=True)
    expected = [
        (f"{path}:{named(text, 'mill')} <Component name='mill'>", "FMU file not found"),
        (f"{path}:{named(text, 'remote')} <Component name='remote'>", "not a gRPC endpoint"),
        (f"{path}:{named(text, 'sped')} <Connector name='sped'>", "no variable 'sped'"),
        (f"{path}:{named(text, 'k')} <Parameter name='k'>", "Real value 'abc'"),
        (f"{path}:{named(text, 'kk')} <Parameter name='kk'>", "no variable 'kk'"),
        (f"{path}:{line_of(text, 'motor_power')} <Connection>", "cannot be converted"),
    ]       # the connection to 'mill' is not reported again: the missing FMU is the cause
    problems = [(p.location, p.message) for p in caught.value.problems]
    assert len(problems) == len(expected), problems
    for (location, words), (found_location, found_message) in zip(expected, problems):
        assert found_location == location
        assert words in found_message
    message = str(caught.value)
    assert message.startswith(f"{path}: 6 errors:\n")
    assert len(message.splitlines()) == 7


def test_read_reports_instead_of_raising(tmp_path):
    path, text = write_plant(tmp_path, '      <ssd:Component name="remote" source="grpc://x/y"/>')
    report = read(path)
    assert report.path == path
    assert [p.severity for p in report.problems] == ["error"]
    assert report.system is not None and "remote" not in report.system
    missing = read(tmp_path / "nothing.ssp")
    assert [str(p) for p in missing.problems] == [f"{tmp_path / 'nothing.ssp'}: error: file not found"]


# -- writing what SSP cannot hold ---------------------------------------------------------------------


class Doubler(cosim.PythonComponent):
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = 2 * self["u"]

    def do_step(self, t, h):
        self.update_outputs()


@pytest.mark.parametrize("suffix", [".ssp", ".ssd"])
def test_saving_a_python_component_names_it(tmp_path, suffix):
    inner = System("inner")
    inner.add("doubler", Doubler)
    plant = System("plant")
    plant.add("gain", twins.path("gain"))
    plant.add("inner", inner)
    target = tmp_path / f"plant{suffix}"
    with pytest.raises(SspError) as caught:
        save(plant, target)
    assert "component 'doubler' is a Python component (Doubler)" in str(caught.value)
    assert "SSP can only describe FMUs" in str(caught.value)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["plant.txt", "plant", "plant.ssp.zip"])
def test_saving_to_another_extension_is_refused(tmp_path, name):
    plant = System("plant")
    plant.add("gain", twins.path("gain"))
    with pytest.raises(SspError) as caught:
        plant.save(tmp_path / name)
    assert str(tmp_path / name) in str(caught.value)
    assert "SSP files end in .ssp (archive) or .ssd (description)" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# -- edge cases ------------------------------------------------------------------------------------


def test_a_flattened_loaded_archive_still_runs(saved):
    plant, ssp, ssd = saved
    flat = flatten(load(ssp))
    gc.collect()
    result = flat.simulate(stop_time=0.2, step_size=0.1)
    assert len(result) == 3


def test_a_subsystem_connector_can_be_parameterized_by_its_hierarchical_name(tmp_path):
    copy_fmus(tmp_path, "spindle", "furnace", "gain")
    top = inline_set({"cell.speed_in": ("Real", 1234.0)})
    undriven = NESTED.format(bindings=top).replace(
        '      <ssd:Connection startConnector="speed" endElement="cell" endConnector="speed_in"/>\n', "")
    assert undriven.count("<ssd:Connection ") == 4
    path = tmp_path / "nested.ssd"
    path.write_text(ssd_text(undriven, units=KRPM))
    plant = load(path)
    assert flatten(plant).parameters("cell.spindle")["speed_setpoint"] == 1234.0


def test_an_ssp_2_0_description_loads_like_its_1_0_twin(tmp_path):
    # SSP 2.0 keeps the SSP1 namespaces and raises the version attribute; the
    # bundled schemas are those of 1.0, so a 2.0 file is checked structurally.
    path = write_nested(tmp_path)
    two = tmp_path / "nested20.ssd"
    two.write_text(path.read_text().replace('name="plant" version="1.0"', 'name="plant" version="2.0"'))
    assert 'version="2.0"' in two.read_text()
    assert read(two).problems == []
    one, other = (load(p).simulate(stop_time=0.2, step_size=0.02) for p in (path, two))
    for name in one.names:
        np.testing.assert_array_equal(one[name], other[name])


# -- the isolate annotation ---------------------------------------------------------------

def _isolated_pair(path: Path) -> Path:
    system = System("pair")
    system.add("src", twins.path("source"))
    system.add("gain", twins.path("gain"), isolate=True)
    system.connect("src.y", "gain.u")
    return save(system, path)


def test_isolation_of_a_component_is_kept_in_the_file(tmp_path):
    path = _isolated_pair(tmp_path / "pair.ssp")
    loaded = load(path)
    assert loaded.isolated("gain") and not loaded.isolated("src")
    with zipfile.ZipFile(path) as archive:
        document = etree.fromstring(archive.read("SystemStructure.ssd"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "SystemStructureDescription.xsd")))
    assert schema.validate(etree.ElementTree(document)), schema.error_log
    result = cosim.simulate(loaded, stop_time=1.0, step_size=0.1)
    assert result.stats["gain"].steps == 10


@pytest.mark.parametrize("settings", ['<cm:Component isolate="maybe"/>', '<cm:Other/>'])
def test_an_isolate_annotation_that_cannot_be_read_is_a_warning(tmp_path, settings):
    path = _isolated_pair(tmp_path / "pair.ssp")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    ssd = folder / "SystemStructure.ssd"
    text = ssd.read_text()
    written = '<cm:Component xmlns:cm="https://cosim.dev/ssp/master/1" isolate="true"/>'
    assert written in text
    ssd.write_text(text.replace(written, settings.replace("/>", ' xmlns:cm="urn:x"/>')))
    report = read(ssd)
    assert not report.system.isolated("gain")
    [warning] = [p for p in report.problems if "component annotation" in p.message]
    assert warning.severity == "warning" and "SystemStructure.ssd" in str(warning)
