"""Real-world FMU defects: cosim loads and runs them with a named warning where fmpy refuses.

Each defect has a test FMU in tests/fmus built with a [quirks] table (see
fmus/build_fmus.py).  Every test copies its FMU to a fresh path first: reads
are cached per file, so each file's warnings are logged once per process.
"""

import logging
import shutil
import zipfile

import fmpy
import numpy as np
import pytest
from fmpy.model_description import ValidationError

import cosim
from cosim import System, read_model, simulate, twins
from cosim.cli import main
from cosim.fmi._binding import Instance
from cosim.fmi.loader import load_fmu
from cosim.fmi.capabilities import with_binary_functions

PLATFORM = {"2.0": "linux64", "3.0": "x86_64-linux"}


@pytest.fixture
def fresh(test_fmus, tmp_path):
    """fresh(name, version, as_name=None) -> a private copy of a test FMU."""

    def copy(name, version, as_name=None):
        target = tmp_path / f"{as_name or name}.fmu"
        shutil.copyfile(test_fmus(name, version), target)
        return target

    return copy


def warnings_naming(caplog, path):
    """Messages of the WARNING records of cosim's loggers that name ``path``."""
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and r.name in ("cosim", "cosim.fmu")
            and str(path) in r.getMessage()]


def run(path, *, parameters=None, stop_time=0.3, step_size=0.1, **options):
    system = System("quirk")
    system.add("c", path, parameters=parameters or {})
    return simulate(system, stop_time=stop_time, step_size=step_size, **options)


def rewrite(source, target, *, xml=None, rename=None, extra=()):
    """Copy the FMU ``source`` to ``target`` with its description edited by
    ``xml(text) -> text``, entries renamed, and ``extra`` (name, data) added."""
    rename = rename or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "modelDescription.xml" and xml is not None:
                edited = xml(data.decode())
                assert edited != data.decode(), "the edit changed nothing"
                data = edited.encode()
            zout.writestr(rename.get(info.filename, info.filename), data)
        for name, data in extra:
            zout.writestr(name, data)
    return target


# -- 1. model descriptions that break the rules -----------------------------------------


def test_duplicate_variable_names_keep_the_first(fresh, fmi_version, caplog):
    path = fresh("duplicate_names", fmi_version)
    with pytest.raises(ValidationError, match='variable name "k" .* is not unique'):
        fmpy.read_model_description(str(path))
    model = read_model(path)
    [message] = warnings_naming(caplog, path)
    assert "variable name 'k' is declared twice (value references 1 and 2)" in message
    assert "the first is used" in message
    assert model.warnings == (message.split(": ", 1)[1],)
    assert [v for v in model.variables if v != "time"] == ["k", "u", "y"]
    assert model.variables["k"].value_reference == 1
    assert model.variables["k"].description == "Gain"
    # k is the first declaration; b (the second "k") keeps its own start 0.5.
    result = run(path, parameters={"k": 3.0})
    np.testing.assert_array_equal(result["c.y"], [3.5] * 4)


def test_integer_declared_continuous_is_treated_as_discrete(fresh, fmi_version, caplog):
    path = fresh("continuous_integer", fmi_version)
    with pytest.raises(ValidationError, match='"count" .* must have variability != "continuous"'):
        fmpy.read_model_description(str(path))
    model = read_model(path)
    [message] = warnings_naming(caplog, path)
    type_name = "Integer" if fmi_version == "2.0" else "Int32"
    assert f"variable 'count' is {type_name} but declared variability=\"continuous\"" in message
    assert "treated as discrete" in message
    assert model.variables["count"].variability == "discrete"
    result = run(path, parameters={"first": 10})
    np.testing.assert_array_equal(result["c.count"], [10, 11, 12, 13])


def test_calculated_variable_with_a_start_value_loses_the_start(fresh, fmi_version, caplog):
    path = fresh("calculated_start", fmi_version)
    with pytest.raises(ValidationError, match='"y" .* has initial="calculated" but provides a start'):
        fmpy.read_model_description(str(path))
    model = read_model(path)
    [message] = warnings_naming(caplog, path)
    assert "variable 'y' has initial=\"calculated\" and a start value (42.0)" in message
    assert "the start value is ignored" in message
    assert model.variables["y"].start is None
    assert model.variables["k"].start == 2.0                      # other starts are kept
    np.testing.assert_array_equal(run(path)["c.y"], [3.0] * 4)


def test_schema_violation_that_does_not_matter_is_a_warning(tmp_path, caplog):
    # An attribute the schema does not know: the rest of the description is sound.
    path = rewrite(twins.path("gain"), tmp_path / "vendor.fmu",
                   xml=lambda x: x.replace('<ScalarVariable name="k"',
                                           '<ScalarVariable vendorHint="x" name="k"'))
    with pytest.raises(ValidationError, match="vendorHint"):
        fmpy.read_model_description(str(path))
    model = read_model(path)
    [message] = warnings_naming(caplog, path)
    assert "does not follow the FMI schema" in message and "vendorHint" in message
    assert model.variables["k"].start == 1.0
    np.testing.assert_array_equal(run(path, parameters={"k": 2.0, "b": 1.0})["c.y"], [1.0] * 4)


def test_several_defects_give_one_warning_each(fresh, tmp_path, caplog):
    source = fresh("duplicate_names", "2.0")
    path = rewrite(source, tmp_path / "both.fmu",
                   xml=lambda x: x.replace('initial="calculated"><Real />',
                                           'initial="calculated"><Real start="7"/>'))
    model = read_model(path)
    messages = warnings_naming(caplog, path)
    assert len(messages) == 2 and len(model.warnings) == 2
    assert any("'k' is declared twice" in m for m in messages)
    assert any("'y' has initial=\"calculated\" and a start value (7)" in m for m in messages)


def no_model_identifier(xml):
    return xml.replace(' modelIdentifier="duplicate_names"', "")


def unknown_causality(xml):
    return xml.replace('causality="input"', 'causality="knob"')


def start_of_the_wrong_type(xml):
    return xml.replace('start="1.0"', 'start="one"')


def malformed(xml):
    return xml[:300]


@pytest.mark.parametrize("edit, words", [
    (no_model_identifier, ["no modelIdentifier"]),
    (unknown_causality, ["invalid modelDescription.xml", "u", "knob"]),
    (start_of_the_wrong_type, ["'u'", "start value 'one'"]),
    (malformed, ["invalid modelDescription.xml"]),
], ids=["no_model_identifier", "unknown_causality", "start_of_the_wrong_type", "malformed"])
def test_defects_that_cannot_be_tolerated_stay_errors(fresh, tmp_path, fmi_version, edit, words):
    source = fresh("duplicate_names", fmi_version)
    path = rewrite(source, tmp_path / "bad.fmu", xml=edit)
    with pytest.raises(cosim.ModelError) as caught:
        read_model(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_a_valid_fmu_reads_without_warnings(caplog):
    model = read_model(twins.path("spindle"))
    assert model.warnings == ()
    assert warnings_naming(caplog, "spindle") == []


def test_cosim_info_lists_the_warnings(fresh, fmi_version, capsys):
    path = fresh("calculated_start", fmi_version)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("warnings"))
    assert "variable 'y' has initial=\"calculated\"" in line


QUIRK_WARNINGS = {
    "duplicate_names": "variable name 'k' is declared twice",
    "continuous_integer": "variable 'count' is Int",
    "calculated_start": "variable 'y' has initial=\"calculated\" and a start value (42.0)",
    "pump_v2": "the binary for modelIdentifier 'pump' should be",
}


@pytest.mark.parametrize("name", sorted(QUIRK_WARNINGS))
def test_cosim_validate_reports_tolerated_defects_as_warnings(fresh, fmi_version, name, capsys):
    path = fresh(name, fmi_version)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 warning:" in out and ": error:" not in out
    [line] = [line for line in out.splitlines() if ": warning: " in line]
    assert line.strip().startswith(f"{path}: warning: {QUIRK_WARNINGS[name]}")
    assert "usable; cosim tolerates every defect found" in out
    # --strict keeps fmpy's verdict: the description defects are errors
    strict = main(["validate", "--strict", str(path)])
    out = capsys.readouterr().out
    if name == "pump_v2":          # a binary's file name is outside fmpy's checks
        assert strict == 0 and "no problems found" in out
    else:
        assert strict == 1 and "1 error:" in out and "warning" not in out


def without_initial_unknown(xml):
    return xml.replace('<InitialUnknown valueReference="4"/>', "")


def test_cosim_validate_fails_for_defects_cosim_does_not_tolerate(tmp_path, capsys):
    # fmpy's model-structure check: cosim reads the file without noticing,
    # so the defect is not tolerated knowingly and stays an error.
    path = rewrite(twins.path("gain", "3.0"), tmp_path / "no_unknown.fmu",
                   xml=without_initial_unknown)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 error:" in out and "warning" not in out
    assert f"{path}: error: ModelStructure/InitialUnknowns does not contain the expected " \
           "set of variables. Expected {y} but was {}." in out


def test_cosim_validate_lists_tolerated_and_real_defects_apart(fresh, tmp_path, capsys):
    source = fresh("duplicate_names", "3.0")
    path = rewrite(source, tmp_path / "both.fmu",
                   xml=lambda x: x.replace('<InitialUnknown valueReference="4"/>', ""))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 error:" in out and "1 warning:" in out
    assert "error: ModelStructure/InitialUnknowns does not contain the expected set" in out
    assert "warning: variable name 'k' is declared twice" in out


def test_cosim_validate_refuses_what_cannot_be_read(tmp_path, capsys):
    path = tmp_path / "junk.fmu"
    path.write_bytes(b"not a zip")
    for options in ([], ["--strict"]):
        assert main(["validate", *options, str(path)]) == 1
        assert str(path) in capsys.readouterr().err


# -- 2. binary named after the FMU file ----------------------------------------------------


def test_binary_named_after_the_file_is_found(fresh, fmi_version, caplog):
    path = fresh("pump_v2", fmi_version)
    folder = f"binaries/{PLATFORM[fmi_version]}"
    with pytest.raises(Exception, match=f"{folder}/pump.so"):
        fmpy.simulate_fmu(str(path))
    model = read_model(path)
    assert model.model_identifier == "pump"
    [message] = warnings_naming(caplog, path)
    assert (f"the binary for modelIdentifier 'pump' should be {folder}/pump.so; "
            f"using {folder}/pump_v2.so, named after the FMU file") in message
    np.testing.assert_array_equal(run(path)["c.flow"], [5.0] * 4)


def test_the_only_binary_is_used_whatever_its_name(fresh, fmi_version, caplog):
    path = fresh("pump_v2", fmi_version, as_name="pump_v3")     # renamed after export
    run(path, parameters={"displacement": 2.0})
    [message] = warnings_naming(caplog, path)
    assert f"using binaries/{PLATFORM[fmi_version]}/pump_v2.so, the only binary" in message


def test_the_binary_named_after_the_file_wins_over_others(fresh, tmp_path, fmi_version, caplog):
    folder = f"binaries/{PLATFORM[fmi_version]}"
    (tmp_path / "edited").mkdir()
    path = rewrite(fresh("pump_v2", fmi_version), tmp_path / "edited" / "pump_v2.fmu",
                   extra=[(f"{folder}/libhelper.so", b"not loaded")])
    np.testing.assert_array_equal(run(path)["c.flow"], [5.0] * 4)
    assert any("pump_v2.so, named after the FMU file" in m for m in warnings_naming(caplog, path))


def test_several_binaries_and_none_matching_is_an_error(fresh, tmp_path, fmi_version):
    folder = f"binaries/{PLATFORM[fmi_version]}"
    path = rewrite(fresh("pump_v2", fmi_version), tmp_path / "station.fmu",
                   extra=[(f"{folder}/libhelper.so", b"not loaded")])
    with pytest.raises(cosim.ModelError) as caught:
        read_model(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"no binary {folder}/pump.so" in message
    assert "libhelper.so, pump_v2.so" in message


# -- 3. optional functions missing from the binary -----------------------------------------


def test_missing_state_functions_disable_state_with_one_warning(fresh, fmi_version, caplog):
    path = fresh("stateless_binary", fmi_version)
    prefix, state = ("fmi2", "FMUstate") if fmi_version == "2.0" else ("fmi3", "FMUState")
    with pytest.raises(AttributeError, match=f"undefined symbol: {prefix}Get{state}"):
        fmpy.simulate_fmu(str(path))
    assert read_model(path).can_get_and_set_state          # what the description claims
    assert warnings_naming(caplog, path) == []              # the description itself is fine

    system = System("three")
    for name in ("a", "b", "c"):
        system.add(name, path)
    with cosim.Simulation(system, stop_time=1.0, step_size=0.1) as sim:
        messages = warnings_naming(caplog, path)
        assert len(messages) == 2                            # once per FMU, not per instance
        assert (f"canGetAndSet{state} is true but the binary does not export "
                f"{prefix}Get{state}, {prefix}Set{state}; saving and restoring its state "
                "is disabled") in messages[0]
        assert f"does not export {prefix}Reset, {prefix}SetDebugLogging" in messages[1]
        with pytest.raises(cosim.ModelError) as caught:
            sim.snapshot()
        assert str(caught.value) == (
            f"component 'a' (stateless_binary) cannot save its state (the FMU binary does not "
            f"export {prefix}Get{state}, {prefix}Set{state})")
        with pytest.raises(cosim.ModelError, match=f"component 'a'.*{prefix}Get{state}"):
            sim.save_state()
        sim.run()                                            # still runs to the end
        np.testing.assert_allclose(sim.result["b.x"], 1.0 + 2.0 * sim.result.time, rtol=1e-12)


def test_load_fmu_corrects_the_capabilities(fresh, fmi_version):
    path = fresh("stateless_binary", fmi_version)
    archive, library = load_fmu(path)
    try:
        assert not archive.model.can_get_and_set_state
        assert not archive.model.can_serialize_state
        assert len(archive.model.warnings) == 2
        assert read_model(path).can_get_and_set_state        # the shared model is untouched
        prefix = "fmi2" if fmi_version == "2.0" else "fmi3"
        assert {f"{prefix}Reset", f"{prefix}SetDebugLogging"} <= library.missing
        instance = Instance(archive, library, "lone")
        with pytest.raises(cosim.ModelError, match=f"'lone'.*does not export {prefix}Reset"):
            instance.reset()
        instance.free()
    finally:
        archive.close()


def test_a_complete_binary_loads_without_warnings(caplog):
    archive, _ = load_fmu(twins.path("gain", "3.0"))
    archive.close()
    assert archive.model.can_get_and_set_state and archive.model.warnings == ()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- 4. parameters the binary leaves unset -------------------------------------------------


def test_fmu_that_needs_every_start_value_set_runs(fresh, fmi_version, caplog):
    path = fresh("unset_starts", fmi_version)
    with pytest.raises(Exception, match="ExitInitializationMode failed"):
        fmpy.simulate_fmu(str(path))          # fmpy sets only the start values it is given
    # The binary really leaves them unset: without cosim's explicit set, k is NaN.
    archive, library = load_fmu(path)
    try:
        bare = Instance(archive, library, "bare")
        bare.setup_experiment(0.0, None)
        bare.enter_initialization_mode()
        with pytest.raises(cosim.FmiCallError, match="k must be finite, got nan"):
            bare.exit_initialization_mode()
        bare.free()
    finally:
        archive.close()
    caplog.clear()
    np.testing.assert_array_equal(run(path)["c.y"], [2.0 * 1.5 + 3] * 4)
    starts = [r.getMessage() for r in caplog.records
              if "does not hold the start values" in r.getMessage()]
    assert len(starts) == 1 and "of k, u, n that modelDescription.xml declares" in starts[0]
    caplog.clear()      # values the user gives are set before initialization: nothing is missing
    np.testing.assert_array_equal(run(path, parameters={"k": 4.0, "n": 1, "u": 1.5})["c.y"],
                                  [7.0] * 4)
    assert "does not hold the start values" not in caplog.text


def test_an_fmu_holding_its_start_values_is_not_set_them_again(caplog):
    run(twins.path("gain", "2.0"))
    assert "does not hold the start values" not in caplog.text


# -- 5. chatty loggers ---------------------------------------------------------------------


def fmu_records(caplog, instance):
    return [r for r in caplog.records if r.name == "cosim.fmu"
            and r.getMessage().startswith(f"[{instance}] ")]


def test_chatty_fmu_is_summarized_and_gives_the_quiet_result(fresh, fmi_version, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("chatty", fmi_version)
    quiet = run(path, stop_time=1.0, step_size=0.01)
    assert fmu_records(caplog, "c") == []
    chatty = run(path, stop_time=1.0, step_size=0.01, logging_on=True)
    np.testing.assert_array_equal(chatty.time, quiet.time)
    np.testing.assert_array_equal(chatty["c.x"], quiet["c.x"])

    records = fmu_records(caplog, "c")
    [summary] = [r for r in records if r.levelno == logging.WARNING]
    assert "log messages suppressed" in summary.getMessage()
    suppressed = int(summary.getMessage().split()[1])
    forwarded = [r for r in records if r.levelno == logging.DEBUG]
    # 100 steps of 100 messages, and two at initialization: none lost from the count.
    assert suppressed > 0 and len(forwarded) + suppressed == 100 * 100 + 2


def stepped_instance(path, *, per_step, steps, log_rate):
    """An instance of the chatty FMU stepped one step (and one log drain) at a time."""
    archive, library = load_fmu(path)
    try:
        inst = Instance(archive, library, "talker", logging_on=True, log_rate=log_rate)
        inst.set("int32", [1], [per_step])
        inst.setup_experiment(0.0, None)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        for n in range(steps):
            inst.do_step(n * 0.1, 0.1)
        suppressed = inst.suppressed_messages
        result = inst.get("float64", [3])[0]
        inst.free()
        return suppressed, result
    finally:
        archive.close()


def test_without_a_rate_limit_the_buffer_still_bounds_each_drain(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("chatty", "2.0")
    suppressed, x = stepped_instance(path, per_step=50, steps=20, log_rate=0)
    assert suppressed == 0 and x == pytest.approx(2.0)
    assert len(fmu_records(caplog, "talker")) == 50 * 20 + 2
    caplog.clear()
    suppressed, _ = stepped_instance(path, per_step=100, steps=20, log_rate=0)
    assert suppressed == (100 - 64) * 20
    debug = [r for r in fmu_records(caplog, "talker") if r.levelno == logging.DEBUG]
    assert len(debug) == 64 * 20 + 2
    [summary] = [r for r in fmu_records(caplog, "talker") if r.levelno == logging.WARNING]
    assert summary.getMessage().startswith(f"[talker] {(100 - 64) * 20} log messages suppressed")


def test_the_rate_limit_counts_what_it_holds_back(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("chatty", "3.0")
    # 1000 messages against 1 per second: all but a handful are held back,
    # however fast or slow the machine, and every one is counted.
    suppressed, _ = stepped_instance(path, per_step=50, steps=20, log_rate=1.0)
    debug = [r for r in fmu_records(caplog, "talker") if r.levelno == logging.DEBUG]
    assert len(debug) + suppressed == 50 * 20 + 2
    assert suppressed > 900
    [summary] = [r for r in fmu_records(caplog, "talker") if r.levelno == logging.WARNING]
    assert f"{suppressed} log messages suppressed (limits: 1 per second" in summary.getMessage()


def test_errors_pass_the_rate_limit(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    archive, library = load_fmu(fresh("chatty", "2.0"))
    try:
        inst = Instance(archive, library, "talker", logging_on=True, log_rate=1.0)
        inst.setup_experiment(0.0, None)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        inst.do_step(0.0, 0.1)                   # 100 messages use up the allowance
        assert inst.suppressed_messages > 0
        with pytest.raises(cosim.FmiCallError, match="messages_per_step cannot be changed"):
            inst.set("int32", [1], [5])
        # The error went through the log too (at DEBUG: the exception carries it).
        assert any("fixed parameter messages_per_step cannot be changed" in r.getMessage()
                   for r in fmu_records(caplog, "talker"))
        inst.free()
    finally:
        archive.close()


# -- 5b. loggers called with an environment cosim did not give ----------------------------


def unrouted_records(caplog):
    return [r for r in caplog.records if r.name == "cosim.fmu.unrouted"]


def run_named(path, name, **options):
    system = System("quirk")
    system.add(name, path, parameters={"messages_per_step": 2})
    return simulate(system, stop_time=0.3, step_size=0.1, **options)


@pytest.mark.parametrize("version", ["1.0", "2.0", "3.0"])
def test_bogus_logger_environment_reaches_the_unrouted_logger(fresh, version, caplog):
    # The FMU passes (void *)0x1 as the environment (FMI 1: as the component);
    # dereferencing it would crash the process.
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("bogus_log_environment", version)
    name = f"bogus{version[0]}"
    result = run_named(path, name, logging_on=True)
    np.testing.assert_allclose(result[f"{name}.x"], [0.0, 0.1, 0.2, 0.3], atol=1e-12)
    records = unrouted_records(caplog)
    # FMI 3 loggers carry no instance name to attribute the messages by.
    label = name if version != "3.0" else "unknown instance"
    [warning] = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warning == (f"[{label}] the FMU called its logger with environment 0x1, which is not "
                       "the one cosim gave it; its messages are logged by cosim.fmu.unrouted, "
                       "named by the instance name they carry")
    messages = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    steps = [f"[{label}] step from t={t:g}: message {k} of 2" for t in (0.0, 0.1, 0.2)
             for k in (1, 2)]
    assert [m for m in messages if "step from" in m] == steps
    assert f"[{label}] initialized at t=0" in messages
    # Only FMI 1 instantiation messages reach the instance's own sink: while a
    # slave is being instantiated, its thread's messages are taken as its own.
    own = [r.getMessage() for r in fmu_records(caplog, name)]
    assert own == ([f"[{name}] entered initialization mode at t=0"] if version == "1.0" else [])


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_bogus_logger_environment_keeps_the_error_message(fresh, version, caplog):
    archive, library = load_fmu(fresh("bogus_log_environment", version))
    try:
        inst = Instance(archive, library, f"failing{version[0]}")
        inst.setup_experiment(0.0, None)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        # The error went to the unrouted sink under this instance's name.
        with pytest.raises(cosim.FmiCallError,
                           match="fixed parameter messages_per_step cannot be changed"):
            inst.set("int32", [1], [5])
        inst.free()
    finally:
        archive.close()
    assert any(r.levelno == logging.ERROR and "fixed parameter messages_per_step" in r.getMessage()
               for r in unrouted_records(caplog))


def test_unrouted_messages_are_rate_limited_and_counted(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("bogus_log_environment", "2.0")
    system = System("quirk")
    system.add("loud", path)                         # 100 messages per step
    result = simulate(system, stop_time=1.0, step_size=0.01, logging_on=True)
    assert result["loud.x"][-1] == pytest.approx(1.0)
    records = unrouted_records(caplog)
    forwarded = [r for r in records if r.levelno == logging.DEBUG]
    summaries = [r.getMessage() for r in records if "unrouted log messages suppressed" in r.getMessage()]
    assert summaries and all(m.endswith("(limit: 100 per second, 64 between reads)")
                             for m in summaries)
    suppressed = sum(int(m.split()[0]) for m in summaries)
    assert suppressed > 0 and len(forwarded) + suppressed == 100 * 100 + 2


# -- 6. the same defects in FMI 1.0 co-simulation FMUs ------------------------------------


def test_fmi1_descriptions_are_repaired_by_the_lenient_reader(fresh, caplog):
    path = fresh("duplicate_names", "1.0")
    with pytest.raises(ValidationError, match='variable name "k" .* is not unique'):
        fmpy.read_model_description(str(path))
    model = read_model(path)
    assert model.fmi_version == "1.0"
    [message] = warnings_naming(caplog, path)
    assert "variable name 'k' is declared twice (value references 1 and 2)" in message
    assert model.variables["k"].causality == "parameter"
    assert model.dependencies == {"y": ("u",)}               # DirectDependency still read
    np.testing.assert_array_equal(run(path, parameters={"k": 3.0})["c.y"], [3.5] * 4)

    path = fresh("continuous_integer", "1.0")
    model = read_model(path)
    [message] = warnings_naming(caplog, path)
    assert "variable 'count' is Integer but declared variability=\"continuous\"" in message
    assert model.variables["count"].variability == "discrete"
    np.testing.assert_array_equal(run(path, parameters={"first": 10})["c.count"], [10, 11, 12, 13])


def test_fmi1_binary_named_after_the_file_keeps_its_function_prefix(fresh, caplog):
    # The binary and its function prefix are pump_v2, the modelIdentifier is pump.
    path = fresh("pump_v2", "1.0")
    model = read_model(path)
    assert model.model_identifier == "pump"
    [message] = warnings_naming(caplog, path)
    assert "using binaries/linux64/pump_v2.so, named after the FMU file" in message
    archive, library = load_fmu(path)
    try:
        assert library.prefix == "pump_v2_"
    finally:
        archive.close()
    np.testing.assert_array_equal(run(path)["c.flow"], [5.0] * 4)


def test_fmi1_binary_without_optional_functions(fresh, caplog):
    path = fresh("stateless_binary", "1.0")
    system = System("one")
    system.add("a", path)
    with cosim.Simulation(system, stop_time=1.0, step_size=0.1) as sim:
        [message] = warnings_naming(caplog, path)
        assert "the binary does not export fmiResetSlave, fmiSetDebugLogging" in message
        # FMI 1.0 has no state at all: that, not a missing function, is the reason.
        with pytest.raises(cosim.ModelError) as caught:
            sim.snapshot()
        assert str(caught.value) == ("component 'a' (stateless_binary) cannot save its state "
                                     "(FMI 1.0 cannot save state)")
        sim.run()
        np.testing.assert_allclose(sim.result["a.x"], 1.0 + 2.0 * sim.result.time, rtol=1e-12)
    archive, library = load_fmu(path)
    try:
        instance = Instance(archive, library, "lone")
        with pytest.raises(cosim.ModelError, match="'lone'.*does not export fmiResetSlave"):
            instance.reset()
        instance.free()
    finally:
        archive.close()


@pytest.mark.parametrize("version, reason", [
    ("1.0", "FMI 1.0 cannot save state"),
    ("2.0", "the FMU binary does not export fmi2GetFMUstate, fmi2SetFMUstate"),
    ("3.0", "the FMU binary does not export fmi3GetFMUState, fmi3SetFMUState"),
])
def test_variable_step_falls_back_for_a_binary_without_state(fresh, version, reason, caplog):
    path = fresh("stateless_binary", version)
    result = run(path, stop_time=1.0, step_size=0.1, variable_step=True)
    [fallback] = [r.getMessage() for r in caplog.records
                  if r.name == "cosim" and "variable_step" in r.getMessage()]
    assert f"component 'c' (stateless_binary): it cannot save and restore its state ({reason})" \
        in fallback
    assert "running with the fixed step 0.1 s instead" in fallback
    np.testing.assert_allclose(result.time, np.arange(11) * 0.1, atol=1e-12)


def test_fmi1_chatty_fmu_is_rate_limited_like_the_others(fresh, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    path = fresh("chatty", "1.0")
    quiet = run(path, stop_time=1.0, step_size=0.01)
    chatty = run(path, stop_time=1.0, step_size=0.01, logging_on=True)
    np.testing.assert_array_equal(chatty["c.x"], quiet["c.x"])
    records = fmu_records(caplog, "c")
    [summary] = [r for r in records if r.levelno == logging.WARNING]
    suppressed = int(summary.getMessage().split()[1])
    forwarded = [r for r in records if r.levelno == logging.DEBUG]
    assert suppressed > 0 and len(forwarded) + suppressed == 100 * 100 + 2


def test_input_derivatives_follow_the_binary(test_fmus):
    # mass declares canInterpolateInputs and exports fmi2SetRealInputDerivatives.
    model = read_model(test_fmus("mass", "2.0"))
    assert model.can_interpolate_inputs
    same, warnings = with_binary_functions(model, set())
    assert same is model and warnings == []
    corrected, [warning] = with_binary_functions(model, {"fmi2SetRealInputDerivatives"})
    assert not corrected.can_interpolate_inputs and model.can_interpolate_inputs
    assert "canInterpolateInputs is true but the binary does not export " \
           "fmi2SetRealInputDerivatives" in warning
    # A binary without the function is no problem when the description does not claim it.
    plain = read_model(test_fmus("stateless_binary", "2.0"))
    assert with_binary_functions(plain, {"fmi2SetRealInputDerivatives"}) == (plain, [])
