"""FMUs exported by other tools run in cosim as they run in fmpy.

Three exporters come with the test extra and run at test time, so the
binaries, the modelDescription.xml and the FMI calling conventions are entirely
theirs:

- PythonFMU (FMI 2.0) and PythonFMU3 (FMI 3.0) export the models in
  ``third_party/``; their prebuilt binary embeds the Python interpreter and runs
  the Python class shipped in the FMU's resources.
- FMU Manipulation Toolbox's FMUContainer (FMI 2.0 and 3.0) packs FMUs into one
  container FMU whose prebuilt C binary loads and steps the embedded FMUs.

Tolerance: the models integrate with explicit Euler inside ``doStep``, so both
importers drive the same floating-point operations; the only freedom is the
last bit of the communication step size (cosim derives it from integer ticks,
fmpy from float time), hence ``rtol=1e-12`` on real outputs and exact equality
on integer and boolean outputs.
"""

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import fmpy
import numpy as np
import pytest
from fmu_manipulation_toolbox.assembly import Assembly
from lxml import etree

import reference_master
from cosim import FmiCallError, ModelError, System, simulate, twins
from cosim.fmi._binding import Instance, Library
from cosim.fmi.archive import FmuArchive
from cosim.cli import main

MODELS = Path(__file__).parent / "third_party"
EXPORTERS = {
    "2.0": ("pythonfmu", "first_order_fmi2.py", "FirstOrder", "PythonFMU "),
    "3.0": ("pythonfmu3", "first_order_fmi3.py", "FirstOrder3", "PythonFMU3 "),
}
OUTPUTS = ["y", "steps", "settled"]
RTOL = 1e-12


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """exported(version) -> the FMU that the exporter for that FMI version built."""
    out = tmp_path_factory.mktemp("third-party")
    paths = {}
    for version, (module, script, model, _) in EXPORTERS.items():
        done = subprocess.run([sys.executable, "-m", module, "build", "-f", str(MODELS / script),
                               "-d", str(out)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{module} build failed:\n{done.stdout}\n{done.stderr}"
        paths[version] = out / f"{model}.fmu"
        assert paths[version].is_file(), f"{module} build wrote no {model}.fmu: {done.stdout}"
    return paths.__getitem__


def fmpy_run(path, *, stop_time, step_size, start_values=None):
    return fmpy.simulate_fmu(str(path), stop_time=stop_time, output_interval=step_size,
                             start_values=start_values or {})


def assert_matches(cosim_columns, reference, names=OUTPUTS):
    np.testing.assert_allclose(cosim_columns["time"], reference["time"], rtol=RTOL, atol=1e-12)
    for name in names:
        expected = np.asarray(reference[name], dtype=float)
        actual = np.asarray(cosim_columns[name], dtype=float)
        if name == "y":
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=name)


def test_the_exporters_wrote_their_own_model_descriptions(exported, fmi_version):
    module, _, model, tool = EXPORTERS[fmi_version]
    with zipfile.ZipFile(exported(fmi_version)) as archive:
        root = etree.fromstring(archive.read("modelDescription.xml"))
        names = archive.namelist()
    assert root.get("fmiVersion") == fmi_version
    assert root.get("generationTool").startswith(tool)
    platform = "linux64" if fmi_version == "2.0" else "x86_64-linux"
    assert f"binaries/{platform}/{model}.so" in names


def test_a_system_matches_fmpy_on_an_exported_fmu(exported, fmi_version):
    path = exported(fmi_version)
    values = {"tau": 0.3, "gain": 1.5, "u": 0.8}
    system = System("third_party")
    system.add("lag", path, parameters=values)
    result = simulate(system, stop_time=2.0, step_size=0.05)
    reference = fmpy_run(path, stop_time=2.0, step_size=0.05, start_values=values)
    assert len(result.time) == len(reference) == 41
    assert_matches({"time": result.time, **{n: result[f"lag.{n}"] for n in OUTPUTS}}, reference)
    # the run must have reached the settled state, else the boolean comparison proves little
    assert result["lag.settled"][-1] == 1 and result["lag.settled"][0] == 0
    assert result["lag.steps"][-1] == 40


def test_cosim_run_matches_fmpy_on_an_exported_fmu(exported, fmi_version, tmp_path, capsys):
    path = exported(fmi_version)
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--stop-time", "1", "--step-size", "0.1",
                 "-p", "gain=3", "-o", str(out)]) == 0
    assert f"wrote 11 rows x 3 variables to {out}" in capsys.readouterr().err
    table = np.genfromtxt(out, delimiter=",", names=True)
    reference = fmpy_run(path, stop_time=1.0, step_size=0.1, start_values={"gain": 3.0})
    assert_matches({name: table[name] for name in ["time", *OUTPUTS]}, reference)


def test_validate_and_info_describe_an_exported_fmu(exported, fmi_version, capsys):
    path = exported(fmi_version)
    status = main(["validate", str(path)])
    validation = capsys.readouterr().out
    if fmi_version == "3.0":
        assert status == 0 and validation.strip() == f"{path}: no problems found"
    else:
        # PythonFMU 0.7 lists no ModelStructure/InitialUnknowns (FMI 2.0 wants the outputs)
        assert status == 1 and "InitialUnknowns" in validation
    assert main(["info", str(path)]) == 0
    info = capsys.readouterr().out
    assert f"FMI {fmi_version} co-simulation" in info
    for name, causality in [("tau", "parameter"), ("u", "input"), ("y", "output"),
                            ("steps", "output"), ("settled", "output")]:
        assert any(line.split()[:2] == [name, causality] for line in info.splitlines()), info


def test_fmus_of_both_exporters_coupled_match_the_reference_master(exported):
    # FMI 2.0 feeding FMI 3.0: the reference master drives both through fmpy
    system = System("mixed")
    system.add("first", exported("2.0"), parameters={"tau": 0.4, "u": 1.0})
    system.add("second", exported("3.0"), parameters={"tau": 0.2, "gain": 0.5})
    system.connect("first.y", "second.u")
    record = [f"{c}.{n}" for c in ("first", "second") for n in OUTPUTS]
    for algorithm in ("jacobi", "gauss-seidel"):
        result = simulate(system, stop_time=1.5, step_size=0.1, algorithm=algorithm)
        reference = reference_master.simulate(system, stop_time=1.5, step_size=0.1,
                                              record=record, algorithm=algorithm)
        assert_matches({"time": result.time, **{n: result[n] for n in record}}, reference,
                       names=record)
        # the coupling reaches the second lag: it tracks half the first one's output
        assert result["second.y"][-1] == pytest.approx(0.5 * result["first.y"][-1], rel=0.2)


def test_an_exception_in_the_python_model_is_an_fmi_call_error(exported, fmi_version):
    # tau = 0 divides by zero inside the exported model's do_step
    system = System("broken")
    system.add("lag", exported(fmi_version), parameters={"tau": 0.0})
    function = "fmi2DoStep" if fmi_version == "2.0" else "fmi3DoStep"
    with pytest.raises(FmiCallError, match=rf"component 'lag': {function} returned fatal at t=0"):
        simulate(system, stop_time=0.3, step_size=0.1)
    with pytest.raises(Exception, match=f"{function} failed"):
        fmpy_run(exported(fmi_version), stop_time=0.3, step_size=0.1, start_values={"tau": 0.0})


def test_no_function_of_an_fmu_is_called_after_it_returned_fatal(exported, fmi_version, tmp_path):
    # FMI allows no further call to any instance of an FMU that returned fatal.
    # PythonFMU frees its Python objects when the model raises and again in
    # freeInstance: a master that frees the instance corrupts the heap, which
    # Python's debug allocator turns into a crash at the next collection.
    script = tmp_path / "fatal.py"
    script.write_text(textwrap.dedent(f"""
        import gc
        from cosim import FmiCallError, System, simulate
        system = System("broken")
        system.add("good", {str(exported(fmi_version))!r})
        system.add("bad", {str(exported(fmi_version))!r}, parameters={{"tau": 0.0}})
        try:
            simulate(system, stop_time=0.3, step_size=0.1)
        except FmiCallError as error:
            print("raised:", error)
        gc.collect()
        garbage = [dict(k=k) for k in range(100000)]
        gc.collect()
        print("survived")
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONMALLOC": "debug"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "raised: component 'bad'" in done.stdout and "returned fatal" in done.stdout
    assert done.stdout.rstrip().endswith("survived")


def test_after_fatal_every_instance_of_the_binary_refuses_calls(exported, fmi_version):
    archive = FmuArchive(exported(fmi_version))
    library = Library(archive.binary, archive.model.fmi_version)
    bad, other = Instance(archive, library, "bad"), Instance(archive, library, "other")
    tau = archive.model.variables["tau"].value_reference
    bad.set("float64", [tau], [0.0])
    for instance in (bad, other):
        instance.setup_experiment(0.0, None)
        instance.enter_initialization_mode()
        instance.exit_initialization_mode()
    with pytest.raises(FmiCallError, match="returned fatal"):
        bad.do_step(0.0, 0.1)
    assert library.corrupted and not bad.alive
    for instance in (bad, other):
        with pytest.raises(ModelError, match=rf"component '{instance.name}': .* returned fatal; "
                                             "FMI allows no further call"):
            instance.do_step(0.0, 0.1)
    bad.free()
    other.free()        # neither reaches freeInstance
    assert not other.alive


# -- FMUContainer ----------------------------------------------------------------------

CONTAINER_OUTPUTS = ["lag_y", "scaled", "steps", "settled"]


@pytest.fixture(scope="module")
def container(exported, tmp_path_factory):
    """container(version) -> an FMUContainer FMU of that FMI version holding the
    PythonFMU lag of the same version feeding cosim's ``gain`` twin
    (scaled = k*lag_y + b), with the lag's input exposed as ``u``."""
    made = {}

    def build(version):
        if version not in made:
            folder = tmp_path_factory.mktemp(f"container-fmi{version[0]}")
            lag = exported(version).name
            (folder / lag).write_bytes(exported(version).read_bytes())
            (folder / "gain.fmu").write_bytes(twins.path("gain", version).read_bytes())
            (folder / "lagged.csv").write_text(
                "rule;from_fmu;from_port;to_fmu;to_port\n"
                f"FMU;{lag};;;\nFMU;gain.fmu;;;\n"
                f"LINK;{lag};y;gain.fmu;u\n"
                f"INPUT;;u;{lag};u\n"
                f"OUTPUT;{lag};y;;lag_y\nOUTPUT;gain.fmu;y;;scaled\n")
            assembly = Assembly("lagged.csv", default_step_size=0.05, fmu_directory=folder)
            assembly.make_fmu(fmi_version=int(version[0]))
            made[version] = folder / "lagged.fmu"
            assert made[version].is_file()
        return made[version]

    return build


def test_a_container_fmu_matches_fmpy(container, fmi_version):
    path = container(fmi_version)
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read("modelDescription.xml"))
    assert root.get("fmiVersion") == fmi_version
    assert root.get("generationTool").startswith("FMUContainer")
    system = System("packed")
    system.add("box", path, parameters={"u": 0.8})
    result = simulate(system, stop_time=1.0, step_size=0.05)
    reference = fmpy_run(path, stop_time=1.0, step_size=0.05, start_values={"u": 0.8})
    columns = {"time": result.time, **{n: result[f"box.{n}"] for n in CONTAINER_OUTPUTS}}
    for name in CONTAINER_OUTPUTS:
        expected = np.asarray(reference[name], dtype=float)
        tolerance = dict(rtol=RTOL, atol=0) if name in ("lag_y", "scaled") else dict(rtol=0)
        np.testing.assert_allclose(columns[name], expected, err_msg=name, **tolerance)
    # the container's inner connection works: gain (k=1, b=0) follows the lag one step late
    np.testing.assert_allclose(result["box.scaled"][1:], result["box.lag_y"][:-1], rtol=RTOL)
    assert result["box.steps"][-1] == 20


def test_cosim_run_validate_and_info_on_a_container_fmu(container, fmi_version, tmp_path,
                                                       capsys):
    path = container(fmi_version)
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: no problems found"
    assert main(["info", str(path)]) == 0
    assert f"FMI {fmi_version} co-simulation" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--stop-time", "0.5", "--step-size", "0.05",
                 "-o", str(out)]) == 0
    table = np.genfromtxt(out, delimiter=",", names=True)
    reference = fmpy_run(path, stop_time=0.5, step_size=0.05)
    for name in CONTAINER_OUTPUTS:
        np.testing.assert_allclose(table[name], np.asarray(reference[name], dtype=float),
                                   rtol=RTOL, err_msg=name)
