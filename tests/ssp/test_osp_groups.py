"""OSP variable groups: OspModelDescription files beside our twin FMUs, and
VariableGroupConnections that connect them as libcosim does."""

import shutil

import numpy as np
import pytest

from cosim import SspError, twins
from cosim.cli import main
from cosim.ssp.osp import load_osp, read_osp

NS = "http://opensimulationplatform.com/MSMI/OSPSystemStructure"
MD_NS = "https://open-simulation-platform.com/OspModelDescription/1.0.0"

# A mass (a PI controller with kp = 0 integrates force/m into velocity), pushed by a
# constant force from a source and held back by a viscous damper (a gain, F = d*v):
# m dv/dt = F - d*v, so v tends to F/d with the time constant m/d.
FORCE, MASS, DAMPING = 10.0, 2.0, 4.0

MASS_GROUPS = """
    <Generic name="command">
      <Force name="drive_force"><Variable ref="setpoint" unit="N"/></Force>
    </Generic>
    <LinearMechanicalPort name="flange">
      <Force name="flange_force"><Variable ref="measurement" unit="N"/></Force>
      <LinearVelocity name="flange_velocity"><Variable ref="u" unit="m/s"/></LinearVelocity>
    </LinearMechanicalPort>"""

DAMPER_GROUPS = """
    <LinearMechanicalPort name="rod">
      <Force name="rod_force"><Variable ref="y" unit="N"/></Force>
      <LinearVelocity name="rod_velocity"><Variable ref="u" unit="m/s"/></LinearVelocity>
    </LinearMechanicalPort>
    <Generic name="pair">
      <Variable ref="u"/>
      <Variable ref="k"/>
    </Generic>"""

SOURCE_GROUPS = """
    <Generic name="command">
      <Force name="force"><Variable ref="y" unit="N"/></Force>
    </Generic>"""

SIMULATORS = f"""<Simulators>
  <Simulator name="drive" source="fmus/source.fmu">
    <InitialValues>
      <InitialValue variable="waveform"><Integer value="0"/></InitialValue>
      <InitialValue variable="amplitude"><Real value="{FORCE}"/></InitialValue>
    </InitialValues>
  </Simulator>
  <Simulator name="mass" source="fmus/pi_controller.fmu">
    <InitialValues>
      <InitialValue variable="kp"><Real value="0"/></InitialValue>
      <InitialValue variable="ki"><Real value="{1 / MASS}"/></InitialValue>
    </InitialValues>
  </Simulator>
  <Simulator name="damper" source="fmus/gain.fmu">
    <InitialValues>
      <InitialValue variable="k"><Real value="{DAMPING}"/></InitialValue>
    </InitialValues>
  </Simulator>
</Simulators>"""

GROUP_CONNECTIONS = """<Connections>
  <VariableGroupConnection>
    <VariableGroup simulator="mass" name="command"/>
    <VariableGroup simulator="drive" name="command"/>
  </VariableGroupConnection>
  <VariableGroupConnection>
    <VariableGroup simulator="damper" name="rod"/>
    <VariableGroup simulator="mass" name="flange"/>
  </VariableGroupConnection>
</Connections>"""

PLAIN_CONNECTIONS = """<Connections>
  <VariableConnection><Variable simulator="drive" name="y"/><Variable simulator="mass" name="setpoint"/></VariableConnection>
  <VariableConnection><Variable simulator="damper" name="y"/><Variable simulator="mass" name="measurement"/></VariableConnection>
  <VariableConnection><Variable simulator="mass" name="u"/><Variable simulator="damper" name="u"/></VariableConnection>
</Connections>"""


def structure(connections: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<OspSystemStructure xmlns="{NS}" version="0.1">\n'
            "<StartTime>0.0</StartTime>\n<BaseStepSize>0.01</BaseStepSize>\n"
            f"<Algorithm>fixedStep</Algorithm>\n{SIMULATORS}\n{connections}\n</OspSystemStructure>\n")


def model_description(groups: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<OspModelDescription xmlns="{MD_NS}" version="1.0">\n'
            f"  <VariableGroups>{groups}\n  </VariableGroups>\n</OspModelDescription>\n")


@pytest.fixture
def rig(tmp_path):
    """A folder 'rig' with the FMUs in rig/fmus: the mass's and the damper's model
    descriptions beside them, the source's beside the system structure."""
    folder = tmp_path / "rig"
    (folder / "fmus").mkdir(parents=True)
    for name in ("source", "pi_controller", "gain"):
        shutil.copy(twins.path(name), folder / "fmus" / f"{name}.fmu")
    (folder / "fmus" / "pi_controller_OspModelDescription.xml").write_text(model_description(MASS_GROUPS))
    (folder / "fmus" / "gain_OspModelDescription.xml").write_text(model_description(DAMPER_GROUPS))
    (folder / "source_OspModelDescription.xml").write_text(model_description(SOURCE_GROUPS))
    return folder


def write(folder, text, name="OspSystemStructure.xml"):
    path = folder / name
    path.write_text(text)
    return path


def line_of(path, marker: str, nth: int = 1) -> int:
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text]
    return lines[nth - 1]


def run(system):
    return system.simulate(stop_time=8.0, step_size=0.01, record=["mass.u", "damper.y", "mass.setpoint"],
                           algorithm=system.default_experiment["algorithm"])


def test_group_connections_connect_force_and_velocity_as_the_plain_connections_do(rig):
    grouped = read_osp(write(rig, structure(GROUP_CONNECTIONS)))
    assert grouped.errors == [], grouped.problems
    plain = load_osp(write(rig, structure(PLAIN_CONNECTIONS), "plain.xml"))
    # Force of the damper to the mass, velocity of the mass back; the nested generic group
    # carries the drive force.
    assert sorted(grouped.system.connections) == sorted(plain.connections) == [
        ("damper.y", "mass.measurement"), ("drive.y", "mass.setpoint"), ("mass.u", "damper.u")]
    ours, theirs = run(grouped.system), run(plain)
    for name in ("mass.u", "damper.y", "mass.setpoint"):
        np.testing.assert_array_equal(ours[name], theirs[name])
    # The mass reaches F/d with the time constant m/d.
    t = ours.time
    expected = FORCE / DAMPING * (1.0 - np.exp(-DAMPING / MASS * t))
    np.testing.assert_allclose(ours["mass.u"], expected, atol=0.05)
    assert ours["damper.y"][-1] == pytest.approx(FORCE, rel=1e-3)


def test_a_system_read_with_groups_is_written_as_ssp_with_the_same_connections(rig, tmp_path):
    from cosim.ssp import load, save
    system = load_osp(write(rig, structure(GROUP_CONNECTIONS)))
    again = load(save(system, tmp_path / "rig.ssp"))
    assert again.connection_details == system.connection_details
    ours, theirs = run(system), run(again)
    np.testing.assert_array_equal(theirs["mass.u"], ours["mass.u"])


def test_cosim_validate_accepts_group_connections(rig, capsys):
    path = write(rig, structure(GROUP_CONNECTIONS))
    assert main(["validate", str(path)]) == 0
    assert "error" not in capsys.readouterr().out


def one_group_connection(rig, a, b, *, at=None):
    """The one error of a structure with one VariableGroupConnection of (simulator,
    group) a and b, reported at the connection or at the endpoint ``at``."""
    text = structure(f"""<Connections>
  <VariableGroupConnection>
    <VariableGroup simulator="{a[0]}" name="{a[1]}"/>
    <VariableGroup simulator="{b[0]}" name="{b[1]}"/>
  </VariableGroupConnection>
</Connections>""")
    path = write(rig, text)
    report = read_osp(path)
    assert len(report.errors) == 1, report.problems
    error = report.errors[0]
    if at is None:
        where = f"{line_of(path, '<VariableGroupConnection>')} <VariableGroupConnection>"
    else:
        needle = f'simulator="{at[0]}" name="{at[1]}"'
        where = f"{line_of(path, needle)} <VariableGroup simulator={at[0]!r} name={at[1]!r}>"
    assert error.location == f"{path}:{where}"
    assert report.system.connections == []          # nothing of a faulty group is connected
    return error.message


def test_groups_of_different_types(rig):
    message = one_group_connection(rig, ("mass", "flange"), ("drive", "command"))
    mass_md = rig / "fmus" / "pi_controller_OspModelDescription.xml"
    source_md = rig / "source_OspModelDescription.xml"
    mass_line, source_line = line_of(mass_md, 'name="flange"'), line_of(source_md, 'name="command"')
    assert (f"cannot connect variable group LinearMechanicalPort 'flange' ({mass_md}:{mass_line}) "
            f"to Generic 'command' ({source_md}:{source_line}): the group types differ") in message


def test_groups_of_different_sizes(rig):
    (rig / "source_OspModelDescription.xml").write_text(model_description(
        SOURCE_GROUPS + '\n    <Generic name="pair"><Variable ref="y"/></Generic>'))
    message = one_group_connection(rig, ("drive", "pair"), ("damper", "pair"))
    assert "Generic 'pair'" in message and "the sizes differ (1 variables against 2)" in message


def test_a_group_naming_an_unknown_variable(rig):
    (rig / "fmus" / "gain_OspModelDescription.xml").write_text(
        model_description(DAMPER_GROUPS.replace('ref="y"', 'ref="yy"')))
    message = one_group_connection(rig, ("damper", "rod"), ("mass", "flange"))
    md = rig / "fmus" / "gain_OspModelDescription.xml"
    assert f"variable group Force 'rod_force' ({md}:{line_of(md, 'rod_force')}) of simulator " \
           "'damper' names the variable 'yy', which gain does not have (did you mean 'y'?)" in message


def test_an_unknown_group_and_a_missing_model_description(rig):
    message = one_group_connection(rig, ("mass", "flang"), ("damper", "rod"), at=("mass", "flang"))
    assert "simulator 'mass' has no variable group 'flang'" in message
    assert "pi_controller_OspModelDescription.xml" in message and "did you mean 'flange'" in message
    (rig / "fmus" / "gain_OspModelDescription.xml").unlink()
    message = one_group_connection(rig, ("mass", "flange"), ("damper", "rod"), at=("damper", "rod"))
    assert "simulator 'damper' has no OSP model description: there is no " \
           "gain_OspModelDescription.xml beside gain.fmu or beside OspSystemStructure.xml" in message


def test_two_outputs_in_a_group_connection(rig):
    text = structure(GROUP_CONNECTIONS).replace(
        '<VariableGroup simulator="mass" name="flange"/>', '<VariableGroup simulator="damper" name="rod"/>')
    path = write(rig, text)
    report = read_osp(path)
    # Each faulty pair is named: the forces are both outputs, the velocities both inputs.
    where = f"{path}:{line_of(path, '<VariableGroupConnection>', 2)} <VariableGroupConnection>"
    assert [p.location for p in report.errors] == [where, where]
    assert "damper.y (output) and damper.y (output) cannot be connected; one must be an output " \
           "and the other an input" in report.errors[0].message
    assert "damper.u (input) and damper.u (input)" in report.errors[1].message
    assert report.system.connections == [("drive.y", "mass.setpoint")]


def test_a_malformed_model_description(rig):
    (rig / "fmus" / "gain_OspModelDescription.xml").write_text(
        '<?xml version="1.0"?>\n<OspModelDescription>\n  <VariableGroups>\n')
    message = one_group_connection(rig, ("mass", "flange"), ("damper", "rod"), at=("damper", "rod"))
    assert f"simulator 'damper': {rig / 'fmus' / 'gain_OspModelDescription.xml'}:4: malformed XML" \
        in message
    with pytest.raises(SspError, match="malformed XML"):
        load_osp(rig / "OspSystemStructure.xml")
