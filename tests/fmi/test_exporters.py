"""Every FMU exporter available here: cosim's results equal fmpy's.

Each FMU is built at test time (or taken from the package that ships it) and
run alone by cosim and by fmpy with the same step size, so both importers hand
the FMU the same communication points; where sensible it is also coupled with
one of cosim's twins and compared with the reference master (fmpy underneath).
``EXPORTERS.md`` beside this file lists the exporters, their versions and what
each test found.

Tolerance: ``rtol=1e-9`` with ``atol=1e-12``.  The outputs range from 1e-8
(wear) to 1e6 (energy, remaining life); both importers drive the same
floating-point operations inside the FMUs, and the only freedom is the last
bit of each communication step size (cosim derives it from integer ticks,
fmpy from float time), which moves results by a few ulps of the largest
values.  ``atol`` only keeps exact zeros from demanding bit equality.
"""

import os
import shutil
import subprocess
import sys
import uuid
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from fmpy import read_model_description
from fmpy.container_fmu.cli import create_container_fmu
from fmpy.container_fmu.config import Component, Configuration, Connection
from fmpy.model_description import CoSimulation, ModelDescription, ModelVariable

import reference_master
from cosim import System, simulate, twins
from exporter_runs import cosim_and_fmpy, in_fresh_process

MODELS = Path(__file__).parent / "third_party"
RTOL, ATOL = 1e-9, 1e-12
TWINS = ["conveyor", "energy_meter", "furnace", "gain", "pi_controller", "source", "spindle"]

# cosim sets every parameter and input to its declared start value before
# initialization (cosim/execution.py, Simulation._start_values, in one batched
# call per type); fmpy sets only the values it is given.  FMUs whose binary
# does not accept their own start values, or whose declared start values are
# not their internal ones, therefore run in fmpy and fail or differ in cosim.
def assert_same(ours: dict, theirs: dict):
    """Same rows at the same times, every output within RTOL/ATOL."""
    assert ours.keys() == theirs.keys()
    assert len(ours["time"]) == len(theirs["time"]) > 1
    np.testing.assert_allclose(ours["time"], theirs["time"], rtol=RTOL, atol=ATOL)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=RTOL, atol=ATOL, err_msg=name)


def moving(columns: dict, *names):
    """The comparison proves something only if the outputs change over the run."""
    for name in names:
        assert np.ptp(columns[name]) > 0, f"{name} never changes"


# -- cosim's own twins (FMI 2.0 and 3.0 from the same C sources) ------------------------

@pytest.mark.parametrize("name", TWINS)
def test_every_twin_matches_fmpy(name, fmi_version):
    ours, theirs = cosim_and_fmpy(twins.path(name, fmi_version), stop_time=3.0, step_size=0.1)
    assert_same(ours, theirs)


# -- UniFMU (FMI 2.0): a Rust binary forwarding every call to a Python process --------

@pytest.fixture(scope="module")
def unifmu_lag(tmp_path_factory):
    """The lag in third_party/unifmu_lag packed by UniFMU's Python backend."""
    folder = tmp_path_factory.mktemp("unifmu") / "lag"
    done = subprocess.run([str(Path(sys.executable).parent / "unifmu"), "generate", "python",
                           str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("model.py", "modelDescription.xml"):
        target = folder / ("resources" if name == "model.py" else "") / name
        shutil.copyfile(MODELS / "unifmu_lag" / name, target)
    path = shutil.make_archive(str(folder), "zip", folder)
    return Path(shutil.move(path, folder.with_suffix(".fmu")))


@pytest.fixture
def unifmu_backend(monkeypatch):
    """UniFMU launches ``python3 backend_grpc.py`` from PATH: it must be this
    interpreter (with grpcio); its generated protobuf module predates protobuf 4
    and loads only with the pure-Python protobuf implementation."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    monkeypatch.setenv("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")


def test_a_unifmu_fmu_matches_fmpy(unifmu_lag, unifmu_backend):
    values = {"tau": 0.3, "gain": 1.5, "u": 0.8}
    ours, theirs = cosim_and_fmpy(unifmu_lag, stop_time=2.0, step_size=0.05, parameters=values)
    assert_same(ours, theirs)
    moving(ours, "y", "steps", "settled")
    assert ours["steps"][-1] == 40


def test_a_unifmu_fmu_coupled_with_a_twin_matches_the_reference_master(unifmu_lag,
                                                                      unifmu_backend):
    system = System("unifmu_twin")
    system.add("lag", unifmu_lag, parameters={"tau": 0.4, "u": 1.0})
    system.add("scale", twins.path("gain", "2.0"), parameters={"k": 3.0, "b": -1.0})
    system.connect("lag.y", "scale.u")
    record = ["lag.y", "lag.steps", "scale.y"]
    result = simulate(system, stop_time=1.5, step_size=0.1, algorithm="gauss-seidel")
    reference = reference_master.simulate(system, stop_time=1.5, step_size=0.1, record=record,
                                          algorithm="gauss-seidel")
    assert_same({"time": result.time, **{n: result[n] for n in record}}, reference)
    np.testing.assert_allclose(result["scale.y"], 3.0 * result["lag.y"] - 1.0, rtol=RTOL)


# -- component-model (FMI 2.0 through PythonFMU): vector variables and units ------------

@pytest.fixture(scope="module")
def vector_lag(tmp_path_factory):
    """third_party/vector_lag_cm.py built by component-model's Model.build."""
    out = tmp_path_factory.mktemp("component-model")
    script = MODELS / "vector_lag_cm.py"
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from component_model.model import Model; "
                               "Model.build(sys.argv[1], dest=sys.argv[2])", str(script), str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "VectorLag.fmu"


def test_a_component_model_fmu_matches_fmpy(vector_lag):
    names = [v.name for v in read_model_description(str(vector_lag)).modelVariables]
    assert {"tau[2]", "u[0]", "y[2]"} <= set(names)
    values = {"gain": 1.5, "u[1]": 2.0}
    ours, theirs = in_fresh_process(vector_lag, stop_time=2.0, step_size=0.05,
                                    parameters=values)
    assert_same(ours, theirs)
    moving(ours, "y[0]", "y[1]", "y[2]")


def test_a_component_model_fmu_coupled_with_a_twin_matches_the_reference_master(vector_lag):
    system = System("vector_twin")
    system.add("wave", twins.path("source", "2.0"),
               parameters={"waveform": 2, "amplitude": 2.0, "frequency": 0.5})
    system.add("lags", vector_lag)
    system.connect("wave.y", "lags.u[2]")
    record = ["wave.y", "lags.y[0]", "lags.y[2]"]
    result = simulate(system, stop_time=2.0, step_size=0.05)
    reference = reference_master.simulate(system, stop_time=2.0, step_size=0.05, record=record)
    assert_same({"time": result.time, **{n: result[n] for n in record}}, reference)
    moving(result, "wave.y", "lags.y[2]")



# -- crane-fmu: the FMUs its wheel ships (component-model models, PythonFMU binaries) --

def crane_fmu(name: str) -> Path:
    """A .fmu file installed by the crane-fmu wheel."""
    path = Path(metadata.distribution("crane-fmu").locate_file(f"examples/{name}.fmu"))
    assert path.is_file(), path
    return path


def test_the_shipped_harmonic_oscillator_matches_fmpy():
    # a constant force on two of the six axes sets the damped oscillators moving
    ours, theirs = in_fresh_process(crane_fmu("HarmonicOscillator6D"), stop_time=3.0,
                                    step_size=0.01, parameters={"f[0]": 1.0, "f[4]": -2.0})
    assert_same(ours, theirs)
    moving(ours, "x[0]", "v[4]")


# cosim leaves an FMI 2/3 binary's start values alone, as fmpy does: the
# component-model inside DrivingForce.fmu fails in fmi2ExitInitializationMode
# after a batched set of its own vector parameters, and MobileCrane.fmu returns
# fatal from a set of its own start values.

def test_the_shipped_driving_force_matches_fmpy():
    ours, theirs = in_fresh_process(crane_fmu("DrivingForce"), stop_time=1.0, step_size=0.01)
    assert_same(ours, theirs)


def test_the_shipped_mobile_crane_matches_fmpy():
    ours, theirs = in_fresh_process(crane_fmu("MobileCrane"), stop_time=1.0, step_size=0.01)
    assert_same(ours, theirs)


def test_the_straight_mobile_crane_gets_the_start_values_its_binary_does_not_hold():
    """MobileCraneStraight.fmu's binary starts three variables elsewhere than its
    modelDescription.xml declares; cosim sets the declared values (with a
    warning), so it matches fmpy given those start values, not fmpy's default."""
    path = crane_fmu("MobileCraneStraight")
    lacking = ("fixation.boom[1]", "wire.boom[0]", "wire.boom[1]")
    declared = {v.name: float(v.start) for v in read_model_description(str(path)).modelVariables
                if v.name in lacking}
    assert declared.keys() == set(lacking)
    ours, _ = in_fresh_process(path, stop_time=1.0, step_size=0.01)
    given, theirs = in_fresh_process(path, stop_time=1.0, step_size=0.01, parameters=declared)
    assert_same(ours, theirs)
    assert_same(given, theirs)


# -- FMPy's container FMU (FMI 3.0): a Rust binary stepping the FMUs it holds ------------

def fmpy_container(folder: Path, *, parameters: bool) -> Path:
    """A container of cosim's FMI 3.0 ``source`` feeding its ``gain`` (y = k*wave + b),
    exposing both outputs and, when ``parameters``, the source's amplitude and the
    gain's k."""
    components = {}
    for name, twin in (("wave", "source"), ("amp", "gain")):
        path = folder / f"{name}.fmu"
        shutil.copyfile(twins.path(twin, "3.0"), path)
        components[name] = Component(name=name, filename=path,
                                     modelDescription=read_model_description(str(path)))
    inner = lambda c, n: next(v for v in components[c].modelDescription.modelVariables
                              if v.name == n)
    description = ModelDescription(fmiVersion="3.0", modelName="WaveAmp",
                                   instantiationToken=str(uuid.uuid4()))
    description.coSimulation = CoSimulation(modelIdentifier="container_fmu",
                                            fixedInternalStepSize=0.05)
    exposed = [("wave", "output", "wave", "y"), ("y", "output", "amp", "y")]
    if parameters:
        exposed += [("amplitude", "parameter", "wave", "amplitude"),
                    ("k", "parameter", "amp", "k")]
    # FMI 3.0 wants the independent variable; the container answers value reference 0
    # with its time, so it comes first
    description.modelVariables.append(ModelVariable(name="time", type="Float64",
                                                    causality="independent",
                                                    variability="continuous"))
    mappings = {}
    for name, causality, component, variable in exposed:
        source = inner(component, variable)
        outer = ModelVariable(name=name, type="Float64", causality=causality,
                              variability="tunable" if causality == "parameter" else "continuous")
        outer.start = source.start if causality == "parameter" else None
        outer.initial = "calculated" if causality == "output" else None
        description.modelVariables.append(outer)
        mappings[outer] = [(components[component], source)]
    configuration = Configuration(
        parallelDoStep=False, modelDescription=description, components=list(components.values()),
        connections=[Connection(components["wave"], [inner("wave", "y")],
                                components["amp"], [inner("amp", "u")])],
        variableMappings=mappings)
    (folder / "unzipped").mkdir()
    create_container_fmu(configuration, folder / "unzipped", folder / "WaveAmp.fmu")
    return folder / "WaveAmp.fmu"


def test_an_fmpy_container_matches_fmpy(tmp_path):
    path = fmpy_container(tmp_path, parameters=False)
    ours, theirs = cosim_and_fmpy(path, stop_time=3.0, step_size=0.05)
    assert_same(ours, theirs)
    # the source's default is a unit step at t=1 s; the container passes it to the
    # gain (k=1, b=0) within the step
    moving(ours, "wave", "y")
    np.testing.assert_array_equal(ours["y"], ours["wave"])


def test_an_fmpy_container_coupled_with_a_twin_matches_the_reference_master(tmp_path):
    system = System("container_twin")
    system.add("box", fmpy_container(tmp_path, parameters=False))
    system.add("scale", twins.path("gain", "3.0"), parameters={"k": -2.0})
    system.connect("box.y", "scale.u")
    record = ["box.wave", "box.y", "scale.y"]
    result = simulate(system, stop_time=2.0, step_size=0.1)
    reference = reference_master.simulate(system, stop_time=2.0, step_size=0.1, record=record)
    assert_same({"time": result.time, **{n: result[n] for n in record}}, reference)
    moving(result, "scale.y")


def test_an_fmpy_container_with_parameters_matches_fmpy(tmp_path):
    path = fmpy_container(tmp_path, parameters=True)
    ours, theirs = cosim_and_fmpy(path, stop_time=3.0, step_size=0.05,
                                  parameters={"amplitude": 2.0, "k": 3.0})
    assert_same(ours, theirs)
    assert ours["wave"].max() == 2.0
    np.testing.assert_array_equal(ours["y"], 3.0 * ours["wave"])
