"""FMI 1.0 co-simulation FMUs: building, reading, the binding, and runs mixed
with FMI 2.0 and 3.0 components, checked against the FMI 2.0 build of the
same C sources and against fmpy as a second importer."""

import dataclasses
import logging
import re
import runpy
import zipfile
from pathlib import Path

import fmpy
import numpy as np
import pytest
from fmpy.validation import validate_fmu

import cosim
from cosim import FmiCallError, ModelError, System, twins
from cosim.cli import main
from cosim.fmi._binding import Instance, Library
from cosim.fmi.archive import FmuArchive

ROOT = Path(__file__).resolve().parents[2]
BUILDER = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))


@pytest.fixture(scope="module")
def fmi1(tmp_path_factory):
    """``fmi1(name)``: the FMI 1.0 build of a component twin from fmus/."""
    out = tmp_path_factory.mktemp("fmi1-twins")
    built = {}

    def path(name):
        if name not in built:
            built[name] = BUILDER["build_fmu"](ROOT / "fmus" / name, "1.0", out / f"{name}.fmu")
        return built[name]

    return path


def rewrite_description(source, target, edit):
    """Copy an FMU, passing its modelDescription.xml text through ``edit``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = edit(data.decode()).encode()
            zout.writestr(item, data)
    return target


def columns(result):
    return {name: result[name] for name in result.names}


# -- building -----------------------------------------------------------------------------


def test_fmi1_build_is_a_valid_cosimulation_standalone_fmu(fmi1):
    path = fmi1("gain")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        xml = zf.read("modelDescription.xml").decode()
    assert "binaries/linux64/gain.so" in names
    assert 'fmiVersion="1.0"' in xml and 'modelIdentifier="gain"' in xml
    assert "<Implementation>" in xml and "<CoSimulation_StandAlone>" in xml
    assert re.search(r'name="k"[^>]*variability="parameter" causality="internal"', xml)
    assert validate_fmu(str(path)) == []
    md = fmpy.read_model_description(str(path), validate=True)
    assert md.coSimulation.modelIdentifier == "gain"


def test_build_all_builds_fmi1_only_when_asked(tmp_path):
    default = BUILDER["build_all"](tmp_path / "default", [ROOT / "fmus" / "gain"])
    assert sorted(p.parent.name for p in default) == ["fmi2", "fmi3"]
    assert not (tmp_path / "default" / "fmi1").exists()
    only = BUILDER["build_all"](tmp_path / "one", [ROOT / "fmus" / "gain"], versions=("1.0",))
    assert only == [tmp_path / "one" / "fmi1" / "gain.fmu"]
    with pytest.raises(BUILDER["SpecError"], match="'4.0'"):
        BUILDER["build_all"](tmp_path / "bad", [ROOT / "fmus" / "gain"], versions=("4.0",))
    with pytest.raises(BUILDER["SpecError"], match="'1.1'"):
        BUILDER["build_fmu"](ROOT / "fmus" / "gain", "1.1", tmp_path / "bad.fmu")


def test_test_fmus_fixture_builds_fmi1_versions(test_fmus):
    for name in ("types", "failing_gain"):
        assert cosim.read_model(test_fmus(name, "1.0")).fmi_version == "1.0"


# -- model description ------------------------------------------------------------------


def test_model_info_of_an_fmi1_description(fmi1, test_fmus):
    model = cosim.read_model(fmi1("gain"))
    assert (model.fmi_version, model.model_identifier, model.name) == ("1.0", "gain", "gain")
    assert model.token.startswith("{")
    roles = {v.name: (v.causality, v.variability, v.type, v.start) for v in model.variables.values()}
    assert roles == {"k": ("parameter", "fixed", "float64", 1.0),
                     "b": ("parameter", "fixed", "float64", 0.0),
                     "u": ("input", "continuous", "float64", 0.0),
                     "y": ("output", "continuous", "float64", None)}
    assert model.dependencies == {"y": ("u",)}           # from DirectDependency
    assert model.can_handle_variable_step
    assert not model.can_get_and_set_state and not model.can_serialize_state
    assert model.default_experiment.stop_time == 1.0
    assert model.default_experiment.step_size is None    # FMI 1.0 has none
    types = cosim.read_model(test_fmus("types", "1.0"))
    assert {v.name: v.type for v in types.variables.values()} == {
        "gain": "float64", "offset": "int32", "enabled": "bool", "label": "string",
        "x": "float64", "n": "int32", "flag": "bool", "y": "float64", "m": "int32",
        "both": "bool", "steps": "int32"}
    assert types.variable("enabled").start is True and types.variable("label").start == "twin"
    assert types.dependencies["both"] == ("flag",)


def test_fmi1_causality_variability_enumeration_and_negated_alias(fmi1, tmp_path):
    def edit(xml):
        extra = (
            '    <ScalarVariable name="mode" valueReference="90" variability="discrete" '
            'causality="internal"><Enumeration declaredType="Mode" start="2"/></ScalarVariable>\n'
            '    <ScalarVariable name="c" valueReference="91" variability="constant" '
            'causality="internal"><Real start="3.0"/></ScalarVariable>\n'
            '    <ScalarVariable name="minus_y" valueReference="4" alias="negatedAlias" '
            'causality="output"><Real/></ScalarVariable>\n'
            '    <ScalarVariable name="y_again" valueReference="4" alias="alias" '
            'causality="output"><Real/></ScalarVariable>\n'
            '    <ScalarVariable name="p_out" valueReference="92" variability="parameter" '
            'causality="output"><Real/></ScalarVariable>\n'
            '    <ScalarVariable name="hidden" valueReference="93" variability="discrete" '
            'causality="none"><Integer/></ScalarVariable>\n')
        types = ('  <TypeDefinitions><Type name="Mode"><EnumerationType>'
                 '<Item name="a"/><Item name="b"/></EnumerationType></Type></TypeDefinitions>\n')
        xml = xml.replace("  <DefaultExperiment", types + "  <DefaultExperiment")
        return xml.replace("  </ModelVariables>", extra + "  </ModelVariables>")

    model = cosim.read_model(rewrite_description(fmi1("gain"), tmp_path / "gain.fmu", edit))
    role = lambda name: (model.variables[name].causality, model.variables[name].variability,
                         model.variables[name].type)
    assert role("mode") == ("local", "discrete", "int32")
    assert role("c") == ("local", "constant", "float64")
    assert role("p_out") == ("output", "fixed", "float64")
    assert role("hidden") == ("local", "discrete", "int32")
    assert role("y_again") == ("output", "continuous", "float64")
    # Read through value reference 4 it would have the wrong sign.
    assert "minus_y" not in model.variables
    # Outputs without DirectDependency are taken to have no feedthrough.
    assert model.dependencies["y_again"] == () and model.dependencies["y"] == ("u",)


def test_fmi1_model_exchange_is_refused_by_name(fmi1, tmp_path, capsys):
    def to_model_exchange(xml):
        return re.sub(r"\s*<Implementation>.*</Implementation>", "", xml, flags=re.S)

    path = rewrite_description(fmi1("gain"), tmp_path / "me_gain.fmu", to_model_exchange)
    with pytest.raises(ModelError, match=r"me_gain\.fmu: FMI 1\.0 model exchange is not supported; "):
        cosim.read_model(path)
    with pytest.raises(ModelError, match="FMI 1.0 model exchange"):
        System("s").add("g", path)
    assert main(["info", str(path)]) != 0
    assert "FMI 1.0 model exchange is not supported" in capsys.readouterr().err


# -- binding ------------------------------------------------------------------------------


@pytest.fixture
def opened(test_fmus):
    """``opened(path)`` -> (archive, library); closed after the test."""
    archives, instances = [], []

    def factory(path, model=None):
        archive = FmuArchive(path, model=model)
        archives.append(archive)
        return archive, Library(archive.binary, archive.model.fmi_version)

    factory.instances = instances
    yield factory
    for archive in archives:
        archive.close()


def test_library_resolves_the_prefixed_functions(opened, test_fmus, fmi1):
    for path in (fmi1("gain"), fmi1("spindle"), test_fmus("types", "1.0")):
        archive, library = opened(path)
        assert library.missing == frozenset()
        assert library.prefix == f"{archive.model.model_identifier}_"
        assert library.has("fmiDoStep") and library.has("fmiResetSlave")
        assert not library.has("fmi2DoStep")
    archive, _ = opened(fmi1("gain"))
    with pytest.raises(ModelError, match="does not export the required function "
                                         "other_fmiInstantiateSlave"):
        Library(archive.binary, "1.0", model_identifier="other")
    with pytest.raises(ModelError, match="FMI version '1.5' is not supported"):
        Library(archive.binary, "1.5")


def test_instance_life_cycle_and_every_type(opened, test_fmus):
    archive, library = opened(test_fmus("types", "1.0"))
    model = archive.model
    vr = lambda name: [model.variables[name].value_reference]
    inst = Instance(archive, library, "t")
    try:
        inst.setup_experiment(0.5, 2.0)
        inst.enter_initialization_mode()              # nothing to call in FMI 1.0
        inst.set("float64", vr("gain"), [3.0])
        inst.set("int32", vr("offset"), [-7])
        inst.set("bool", vr("enabled") + vr("flag"), [True, True])
        inst.set("string", vr("label"), ["fmi1 %d"])
        inst.exit_initialization_mode()               # fmiInitializeSlave(0.5, true, 2.0)
        inst.set("float64", vr("x"), [2.0])
        inst.set("int32", vr("n"), [100])
        inst.do_step(0.5, 0.25)
        assert inst.get("float64", vr("y")).tolist() == [6.0]
        assert inst.get("int32", vr("m")).tolist() == [93]
        assert inst.get("bool", vr("both") + vr("flag")).tolist() == [True, True]
        assert inst.get("string", vr("label")) == ["fmi1 %d"]
        inst.set("bool", vr("flag"), [False])
        assert inst.get("bool", vr("both")).tolist() == [False]
        assert inst.get("int32", vr("steps")).tolist() == [1]
        with pytest.raises(FmiCallError, match=r"'t': fmiDoStep returned error .*does not match the FMU time 0.75"):
            inst.do_step(9.0, 0.25)
        with pytest.raises(ModelError, match="FMI 1.0 has no int64 values"):
            inst.get("int64", vr("m"))
        inst.reset()                                  # fmiResetSlave: back to start values
        inst.exit_initialization_mode()
        assert inst.get("float64", vr("gain")).tolist() == [2.0]
        inst.terminate()
    finally:
        inst.free()
    with pytest.raises(ModelError, match="'t': the instance has been freed"):
        inst.do_step(0.0, 0.1)


def test_fmi1_instances_cannot_save_state(opened, fmi1):
    archive, library = opened(fmi1("gain"))
    inst = Instance(archive, library, "press")
    try:
        inst.setup_experiment(0.0, None)
        inst.exit_initialization_mode()
        for call in (inst.get_state, lambda: inst.deserialize_state(b"")):
            with pytest.raises(ModelError, match=r"component 'press' \(gain\): FMI 1.0 cannot save state"):
                call()
    finally:
        inst.free()


def test_wrong_guid_is_reported_from_instantiation(opened, fmi1):
    path = fmi1("gain")
    # The '%' checks that the FMU's text is not read as a printf format.
    model = dataclasses.replace(cosim.read_model(path), token="{50% off}")
    archive, library = opened(path, model)
    with pytest.raises(FmiCallError) as caught:
        Instance(archive, library, "wrong")
    assert caught.value.function == "fmiInstantiateSlave"
    assert caught.value.instance == "wrong"
    # Logged before the importer knew the component: routed by the calling thread.
    assert "instantiation token {50% off} does not match" in caught.value.message


# -- runs --------------------------------------------------------------------------------


SPINDLE_INPUTS = {"speed_setpoint": 4500.0, "load_torque": 3.0, "kp": 0.8}


def test_gain_and_spindle_match_the_fmi2_build_bit_for_bit(fmi1):
    for name, parameters in (("gain", {"k": 2.5, "b": -1.0, "u": 0.3}),
                             ("spindle", SPINDLE_INPUTS)):
        results = []
        for path in (fmi1(name), twins.path(name, "2.0")):
            system = System(name)
            system.add("c", path, parameters=parameters)
            results.append(columns(cosim.simulate(system, stop_time=2.0, step_size=0.01)))
        assert results[0].keys() == results[1].keys()
        for column in results[0]:
            np.testing.assert_array_equal(results[0][column], results[1][column], err_msg=column)
    assert results[0]["c.speed"][-1] > 4000.0        # the spindle did spin up


def mixed_system(versions):
    """source -> gain -> gain -> spindle, and types -> types -> types (every value
    type over connections), with the FMI versions given per component."""
    system = System("line")
    system.add("src", versions["src"], parameters={"waveform": 1, "amplitude": 3000.0,
                                                   "offset": 1000.0, "start_time": 0.3})
    system.add("g1", versions["g1"], parameters={"k": 1.5})
    system.add("g2", versions["g2"], parameters={"k": 0.5, "b": 500.0})
    system.add("sp", versions["sp"], parameters={"load_torque": 2.0})
    system.connect("src.y", "g1.u")
    system.connect("g1.y", "g2.u")
    system.connect("g2.y", "sp.speed_setpoint")
    system.add("t1", versions["t1"], parameters={"flag": True, "n": 5, "x": 1.5})
    system.add("t2", versions["t2"], parameters={"gain": -2.0})
    system.add("t3", versions["t3"], parameters={"enabled": True})
    for a, b in (("t1", "t2"), ("t2", "t3")):
        system.connect(f"{a}.both", f"{b}.flag")
        system.connect(f"{a}.m", f"{b}.n")
        system.connect(f"{a}.y", f"{b}.x")
    return system


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_system_mixing_fmi1_2_and_3_matches_the_all_fmi2_system(fmi1, test_fmus, algorithm):
    mixed = {"src": twins.path("source", "3.0"), "g1": fmi1("gain"), "g2": twins.path("gain", "2.0"),
             "sp": fmi1("spindle"), "t1": test_fmus("types", "3.0"), "t2": test_fmus("types", "1.0"),
             "t3": test_fmus("types", "2.0")}
    plain = {"src": twins.path("source", "2.0"), "g1": twins.path("gain", "2.0"),
             "g2": twins.path("gain", "2.0"), "sp": twins.path("spindle", "2.0"),
             "t1": test_fmus("types", "2.0"), "t2": test_fmus("types", "2.0"),
             "t3": test_fmus("types", "2.0")}
    record = ["g1.y", "g2.y", "sp.speed", "sp.motor_power", "t2.both", "t2.m", "t2.y",
              "t3.both", "t3.m", "t3.y", "t3.steps"]
    ours = cosim.simulate(mixed_system(mixed), stop_time=1.0, step_size=0.01, algorithm=algorithm,
                          record=record)
    reference = cosim.simulate(mixed_system(plain), stop_time=1.0, step_size=0.01,
                               algorithm=algorithm, record=record)
    for name in record:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)
    assert ours["t2.both"].all() and ours["t3.both"].all()      # booleans crossed 1-byte ports
    assert ours["t3.m"][-1] == 35 and ours["t3.y"][-1] == -12.0
    assert ours["sp.speed"][-1] > 1000.0


def test_parallel_stepping_of_fmi1_components_matches_serial_fmi2(fmi1):
    def chain(path):
        system = System("chain")
        for i in range(16):
            system.add(f"g{i}", path, parameters={"k": 1.0 + i / 64, "b": 0.001})
            if i:
                system.connect(f"g{i - 1}.y", f"g{i}.u")
        return system

    parallel = cosim.simulate(chain(fmi1("gain")), stop_time=0.5, step_size=0.001, threads=4)
    serial = cosim.simulate(chain(twins.path("gain", "2.0")), stop_time=0.5, step_size=0.001,
                            threads=1)
    for name in serial.names:
        np.testing.assert_array_equal(parallel[name], serial[name], err_msg=name)


def test_fmpy_agrees_with_cosim_on_fmi1_fmus(fmi1):
    for name, parameters, stop in (("gain", {"k": 2.5, "b": -1.0, "u": 0.3}, 1.0),
                                   ("spindle", SPINDLE_INPUTS, 2.0)):
        path = fmi1(name)
        system = System(name)
        system.add("c", path, parameters=parameters)
        ours = cosim.simulate(system, stop_time=stop, step_size=0.01)
        theirs = fmpy.simulate_fmu(str(path), start_values=parameters, step_size=0.01,
                                   output_interval=0.01, stop_time=stop)
        assert len(theirs) == len(ours.time)
        np.testing.assert_allclose(ours.time, theirs["time"], rtol=0, atol=1e-12)
        outputs = [v.name for v in cosim.read_model(path).outputs]
        for output in outputs:
            # fmpy steps t = n*h in floating point, cosim from integer ticks.
            np.testing.assert_allclose(ours[f"c.{output}"], theirs[output], rtol=1e-12, atol=1e-12,
                                       err_msg=output)


def test_feedthrough_follows_direct_dependency(fmi1, tmp_path):
    """Two FMI 1.0 gains in a loop: with DirectDependency the loop is algebraic
    and solved at every point; without it cosim assumes no feedthrough and the
    loop settles through the initial exchange and the steps."""
    declared = fmi1("gain")
    undeclared = rewrite_description(
        declared, tmp_path / "gain.fmu",
        lambda xml: re.sub(r"<DirectDependency>.*?</DirectDependency>", "", xml))

    def loop(path):
        system = System("loop")
        system.add("a", path, parameters={"k": 0.5, "b": 1.0})
        system.add("b", path, parameters={"k": 0.5})
        system.connect("a.y", "b.u")
        system.connect("b.y", "a.u")
        return system

    assert cosim.algebraic_loops(loop(declared)) == [["a.u", "a.y", "b.u", "b.y"]]
    assert cosim.algebraic_loops(loop(undeclared)) == []
    solved = cosim.simulate(loop(declared), stop_time=0.1, step_size=0.01)
    assert solved["a.y"] == pytest.approx([4.0 / 3.0] * 11, rel=1e-9)
    assert solved.stats["a"].loop_iterations > 0
    result = cosim.simulate(loop(undeclared), stop_time=1.0, step_size=0.01)
    assert result.stats["a"].loop_iterations == 0
    # y_a = 1 + 0.25*y_a converges to 4/3 through the initial exchange and the steps.
    assert result["a.y"][-1] == pytest.approx(4.0 / 3.0, rel=1e-9)


def test_snapshot_names_the_fmi1_component(fmi1):
    system = System("s")
    system.add("modern", twins.path("gain", "2.0"))
    system.add("legacy", fmi1("gain"))
    with cosim.Simulation(system, step_size=0.1, stop_time=1.0) as sim:
        sim.step(2)
        with pytest.raises(ModelError, match=r"component 'legacy' \(gain\) cannot save its state "
                                             r"\(FMI 1.0 cannot save state\)"):
            sim.snapshot()
        with pytest.raises(ModelError, match="'legacy'"):
            sim.save_state()


def test_fixed_fmi1_parameters_are_refused_after_initialization(fmi1):
    system = System("s")
    system.add("g", fmi1("gain"))
    with cosim.Simulation(system, step_size=0.1, stop_time=1.0) as sim:
        with pytest.raises(cosim.ConfigurationError, match="fixed parameter"):
            sim.set("g.k", 3.0)
        sim.set("g.u", 2.0)
        sim.step()
        assert sim.get("g.y") == 2.0


# -- FMU log messages --------------------------------------------------------------------


def test_invalid_parameter_reaches_the_error_with_the_component_name(fmi1):
    system = System("s")
    system.add("cutter", fmi1("spindle"), parameters={"inertia": -1.0})
    with pytest.raises(FmiCallError) as caught:
        cosim.simulate(system, stop_time=1.0, step_size=0.01)
    error = caught.value
    assert error.function == "fmiInitializeSlave" and error.instance == "cutter"
    assert "invalid parameter: inertia must be > 0, got -1" in str(error)
    assert "'cutter'" in str(error)


def test_a_failing_step_reports_the_fmu_message(test_fmus):
    system = System("s")
    system.add("g1", test_fmus("failing_gain", "1.0"), parameters={"fail_time": 0.35})
    system.add("g2", twins.path("gain", "3.0"))
    system.connect("g1.y", "g2.u")
    with pytest.raises(FmiCallError) as caught:
        cosim.simulate(system, stop_time=1.0, step_size=0.1)
    error = caught.value
    assert error.function == "fmiDoStep" and error.instance == "g1"
    assert "failing on purpose: fail_time=0.35" in error.message
    assert error.partial_result["g1.y"].shape[0] == 4        # t = 0, 0.1, 0.2, 0.3


def test_debug_messages_reach_the_cosim_fmu_logger(fmi1, caplog):
    system = System("s")
    system.add("first", fmi1("gain"))
    system.add("second", fmi1("gain"))
    with caplog.at_level(logging.DEBUG, logger="cosim.fmu"):
        cosim.simulate(system, stop_time=0.1, step_size=0.1, logging_on=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "cosim.fmu"]
    # Each instance's messages reach its own name, routed by component.
    for name in ("first", "second"):
        assert f"[{name}] initialized at t=0" in messages


# -- command line ----------------------------------------------------------------------------


def test_cli_info_and_run_on_an_fmi1_fmu(fmi1, tmp_path, capsys):
    path = fmi1("spindle")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FMI 1.0 co-simulation" in out
    assert "model identifier  spindle" in out
    assert "capabilities      variable step size" in out
    assert "motor_torque feeds through from speed_setpoint" in out
    assert re.search(r"inertia\s+parameter\s+float64", out)

    assert main(["run", str(path), "--quiet"]) != 0          # FMI 1.0 has no default step size
    assert "pass --step-size" in capsys.readouterr().err
    csv = tmp_path / "out.csv"
    assert main(["run", str(path), "--step-size", "0.01", "--stop-time", "1.0", "-o", str(csv),
                 "-p", "speed_setpoint=3000", "--quiet"]) == 0
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert table["time"][-1] == pytest.approx(1.0)
    assert table["speed"][-1] > 2500.0


# -- served as a remote twin -------------------------------------------------------------------


def test_an_fmi1_fmu_served_as_a_twin_matches_the_local_run(fmi1):
    from cosim.rpc import RemoteTwin
    from rpc_servers import ServerProcess

    path = fmi1("spindle")
    server = ServerProcess(["serve-twin", str(path), "-p", "kp"])
    try:
        twin = RemoteTwin(server.url)
        assert twin.model.fmi_version == "1.0"
        parameters = {"kp": 0.8, "speed_setpoint": 4500.0}
        results = []
        for source in (twin, path):
            system = System("s")
            system.add("sp", source, parameters=parameters)
            results.append(cosim.simulate(system, stop_time=1.0, step_size=0.01))
        np.testing.assert_array_equal(results[0]["sp.speed"], results[1]["sp.speed"])
    finally:
        server.kill()
