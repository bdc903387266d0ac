"""Every twin FMU is a valid FMU that an independent importer (fmpy) runs."""

import math
from pathlib import Path

import fmpy
import pytest
from fmpy.validation import validate_fmu

from cosim import TwinNotFoundError, twins

TWINS = ["spindle", "furnace", "conveyor", "gain", "source", "pi_controller", "energy_meter"]


def test_names_lists_every_twin():
    assert twins.names() == sorted(TWINS)


@pytest.mark.parametrize("name", TWINS)
def test_fmu_passes_fmpy_validation(name, fmi_version):
    problems = validate_fmu(str(twins.path(name, fmi_version)))
    assert problems == []


@pytest.mark.parametrize("name", TWINS)
def test_model_description_declares_capabilities(name, fmi_version):
    md = fmpy.read_model_description(str(twins.path(name, fmi_version)), validate=True)
    assert md.fmiVersion == fmi_version
    cs = md.coSimulation
    assert cs.canGetAndSetFMUstate and cs.canSerializeFMUstate
    assert float(md.defaultExperiment.stopTime) > float(md.defaultExperiment.startTime)
    outputs = [v for v in md.modelVariables if v.causality == "output"]
    assert {u.variable.name for u in md.outputs} == {v.name for v in outputs}
    # Every output's dependencies are declared (an empty list is a declaration).
    assert all(u.dependencies is not None for u in md.outputs)


@pytest.mark.parametrize("name", TWINS)
def test_fmpy_simulates_default_experiment(name, fmi_version):
    path = str(twins.path(name, fmi_version))
    result = fmpy.simulate_fmu(path)
    md = fmpy.read_model_description(path)
    assert result["time"][-1] == pytest.approx(float(md.defaultExperiment.stopTime))
    for column in result.dtype.names:
        assert all(math.isfinite(float(x)) for x in result[column]), column


def test_feedthrough_declared_where_outputs_follow_inputs():
    md = fmpy.read_model_description(str(twins.path("gain")))
    (y,) = md.outputs
    assert [d.name for d in y.dependencies] == ["u"]
    md = fmpy.read_model_description(str(twins.path("spindle", "3.0")))
    deps = {u.variable.name: [d.name for d in u.dependencies] for u in md.outputs}
    assert deps["speed"] == []
    assert deps["motor_torque"] == ["speed_setpoint"]


def test_unknown_twin_lists_known_names():
    with pytest.raises(TwinNotFoundError, match="unknown twin .lathe.*conveyor, energy_meter, furnace"):
        twins.path("lathe")


def test_unknown_fmi_version_is_rejected():
    with pytest.raises(ValueError, match="fmi_version must be one of"):
        twins.path("spindle", fmi_version="1.0")


def test_the_build_script_explains_itself_and_builds_nothing_on_help(tmp_path):
    import subprocess
    import sys
    script = Path(__file__).resolve().parents[2] / "fmus" / "build_fmus.py"
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "usage: build_fmus.py" in done.stdout
    assert list(tmp_path.iterdir()) == []
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "outdir" in done.stderr
