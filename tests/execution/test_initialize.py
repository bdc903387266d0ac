"""FMI 3 structural parameters given in System.add reach the FMU.

tests/fmus/stages: y = k^stages * u with ``stages`` a structural parameter
(start 2) that the binary accepts in configuration mode only, as the
standard puts it.
"""

import runpy
import shutil
from pathlib import Path

import pytest

import cosim
from cosim import ConfigurationError, FmiCallError, ModelError, System, SystemStructureError, twins
from cosim.fmi.loader import load_fmu
from cosim.fmi._binding import Instance

ROOT = Path(__file__).resolve().parents[2]


def run(path, parameters=None, **options):
    system = System("structural")
    system.add("c", path, parameters=parameters or {})
    return cosim.simulate(system, stop_time=0.2, step_size=0.1, **options)


@pytest.mark.parametrize("stages, gain", [(None, 4.0), (1, 2.0), (3, 8.0), (8, 256.0)])
def test_a_structural_parameter_is_set_in_configuration_mode(test_fmus, stages, gain):
    parameters = {} if stages is None else {"stages": stages}
    result = run(test_fmus("stages", "3.0"), parameters)
    assert list(result["c.y"]) == [gain] * 3


def test_the_running_simulation_reads_the_structural_value(test_fmus):
    system = System("structural")
    system.add("c", test_fmus("stages", "3.0"), parameters={"stages": 3, "k": 1.5})
    with system.start(stop_time=0.2, step_size=0.1) as sim:
        assert sim.get("c.stages") == 3
        assert sim.get("c.y") == pytest.approx(1.5 ** 3)
        with pytest.raises(ConfigurationError, match=r"c\.stages is a structural parameter; "
                                                     r"give it in the system"):
            sim.set("c.stages", 4)


def without_configuration_mode(tmp_path):
    """The stages FMU built with a binary that hides the configuration-mode functions."""
    folder = tmp_path / "stages"
    shutil.copytree(ROOT / "tests" / "fmus" / "stages", folder)
    with open(folder / "model.toml", "a") as f:
        f.write('\n[quirks]\nhide_functions = ["EnterConfigurationMode", '
                '"ExitConfigurationMode"]\n')
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    target = tmp_path / "stages_unconfigurable.fmu"
    builder["build_fmu"](folder, "3.0", target)
    return target


def test_without_configuration_mode_the_value_is_set_or_refused_never_dropped(tmp_path):
    path = without_configuration_mode(tmp_path)
    # start values alone need no configuration mode
    assert list(run(path)["c.y"]) == [4.0] * 3
    # this binary insists on configuration mode: setting stages in the
    # instantiated state fails loudly, naming the parameter
    with pytest.raises(FmiCallError, match=r"component 'c': fmi3SetInt32 returned error at t=0 s:"
                                           r".*structural parameter stages can only be set in "
                                           r"configuration mode"):
        run(path, {"stages": 3})


def test_a_structural_value_the_model_rejects_names_it(test_fmus):
    with pytest.raises(FmiCallError, match=r"component 'c': fmi3ExitInitializationMode returned "
                                           r"error .*stages must be between 1 and 8, got 0"):
        run(test_fmus("stages", "3.0"), {"stages": 0})


def test_a_structural_value_of_the_wrong_type_is_refused_when_composing(test_fmus):
    system = System("structural")
    with pytest.raises(SystemStructureError, match=r"c\.stages"):
        system.add("c", test_fmus("stages", "3.0"), parameters={"stages": "three"})


def test_configuration_mode_through_the_binding(test_fmus):
    archive, library = load_fmu(test_fmus("stages", "3.0"))
    try:
        inst = Instance(archive, library, "c")
        assert inst.can_configure()
        inst.enter_configuration_mode()
        with pytest.raises(FmiCallError, match=r"fmi3EnterConfigurationMode returned error.*"
                                               r"enter configuration mode called in "
                                               r"configuration mode"):
            inst.enter_configuration_mode()
        with pytest.raises(FmiCallError, match=r"k is not a structural parameter and cannot be "
                                               r"set in configuration mode"):
            inst.set("float64", [2], [3.0])
        inst.set("int32", [1], [5])
        inst.exit_configuration_mode()
        with pytest.raises(FmiCallError, match=r"fmi3ExitConfigurationMode returned error"):
            inst.exit_configuration_mode()
        assert list(inst.get("int32", [1])) == [5]
        inst.free()
    finally:
        archive.close()


def test_fmi2_instances_have_no_configuration_mode():
    archive, library = load_fmu(twins.path("gain", "2.0"))
    try:
        inst = Instance(archive, library, "g")
        assert not inst.can_configure()
        with pytest.raises(ModelError, match=r"component 'g' \(gain\): the FMU binary does not "
                                             r"export fmi3EnterConfigurationMode"):
            inst.enter_configuration_mode()
        inst.free()
    finally:
        archive.close()
