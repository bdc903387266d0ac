"""The native FMI binding (Library, Instance) on real FMUs, FMI 2.0 and 3.0."""

import dataclasses
import logging

import numpy as np
import pytest

import cosim
from cosim import twins
from cosim.fmi._binding import Instance, Library
from cosim.fmi.archive import FmuArchive

FUNCTIONS = {
    "2.0": {"set float64": "fmi2SetReal", "get float64": "fmi2GetReal",
            "set int32": "fmi2SetInteger", "set string": "fmi2SetString",
            "step": "fmi2DoStep", "instantiate": "fmi2Instantiate",
            "get state": "fmi2GetFMUstate"},
    "3.0": {"set float64": "fmi3SetFloat64", "get float64": "fmi3GetFloat64",
            "set int32": "fmi3SetInt32", "set string": "fmi3SetString",
            "step": "fmi3DoStep", "instantiate": "fmi3InstantiateCoSimulation",
            "get state": "fmi3GetFMUState"},
}


class Opened:
    """An FMU extracted and loaded once, with helpers to make and drive instances."""

    def __init__(self, path, model=None):
        self.archive = FmuArchive(path, model=model)
        self.model = self.archive.model
        self.library = Library(self.archive.binary, self.model.fmi_version)
        self.instances = []

    def vr(self, name):
        return self.model.variables[name].value_reference

    def instance(self, name="a", *, logging_on=False):
        inst = Instance(self.archive, self.library, name, logging_on=logging_on)
        self.instances.append(inst)
        return inst

    def initialized(self, name="a", *, logging_on=False, **parameters):
        inst = self.instance(name, logging_on=logging_on)
        inst.setup_experiment(0.0, None)
        for var_name, value in parameters.items():
            self.set(inst, var_name, value)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        return inst

    def get(self, inst, name):
        var = self.model.variables[name]
        value = inst.get(var.type, [var.value_reference])[0]
        return value.item() if hasattr(value, "item") else value

    def set(self, inst, name, value):
        var = self.model.variables[name]
        inst.set(var.type, [var.value_reference], [value])

    def close(self):
        for inst in self.instances:
            inst.free()
        self.archive.close()


@pytest.fixture
def open_fmu():
    """Factory: open_fmu(path) -> Opened; everything is freed after the test."""
    opened = []

    def factory(path, model=None):
        fmu = Opened(path, model)
        opened.append(fmu)
        return fmu

    yield factory
    for fmu in opened:
        fmu.close()


@pytest.fixture
def types(open_fmu, test_fmus, fmi_version):
    return open_fmu(test_fmus("types", fmi_version))


# -- loading ----------------------------------------------------------------------------


def test_library_resolves_every_function_of_our_fmus(test_fmus, fmi_version):
    paths = [twins.path(name, fmi_version) for name in twins.names()]
    paths += [test_fmus(name, fmi_version) for name in ("types", "failing_gain")]
    v = fmi_version[0]
    state = "FMUstate" if fmi_version == "2.0" else "FMUState"
    for path in paths:
        archive = FmuArchive(path)
        try:
            library = Library(archive.binary, fmi_version)
            assert library.missing == frozenset(), path
            assert library.fmi_version == fmi_version
            assert library.path == str(archive.binary)
            assert library.has(f"fmi{v}Get{state}")
            assert library.has(f"fmi{v}Serialize{state}")
            assert not library.has("fmi9NoSuchFunction")
        finally:
            archive.close()


def test_loading_a_file_that_is_no_library_raises_model_error(tmp_path, fmi_version):
    bogus = tmp_path / "bogus.so"
    bogus.write_bytes(b"not an ELF file")
    with pytest.raises(cosim.ModelError, match="cannot load FMU binary .*bogus.so"):
        Library(bogus, fmi_version)


def test_instantiate_with_a_wrong_token_raises_fmi_call_error(open_fmu, fmi_version):
    path = twins.path("gain", fmi_version)
    model = dataclasses.replace(cosim.read_model(path), token="{not-the-token}")
    fmu = open_fmu(path, model)
    with pytest.raises(cosim.FmiCallError) as caught:
        fmu.instance("wrong")
    error = caught.value
    assert error.function == FUNCTIONS[fmi_version]["instantiate"]
    assert error.instance == "wrong"
    assert "instantiation token {not-the-token} does not match" in error.message
    assert error.function in str(error) and "'wrong'" in str(error)


# -- values -----------------------------------------------------------------------------


def test_parameters_round_trip_before_initialization(types):
    inst = types.instance()
    assert types.get(inst, "gain") == 2.0
    assert types.get(inst, "offset") == 10
    assert types.get(inst, "enabled") is True
    assert types.get(inst, "label") == "twin"
    new = {"gain": -3.25, "offset": -7, "enabled": False, "label": "héllo wörld"}
    for name, value in new.items():
        types.set(inst, name, value)
    for name, value in new.items():
        assert types.get(inst, name) == value, name
    # Arrays come back with the numpy type of the canonical type.
    assert inst.get("float64", [types.vr("gain")]).dtype == np.float64
    assert inst.get("int32", [types.vr("offset")]).dtype == np.int32
    assert inst.get("bool", [types.vr("enabled")]).dtype == np.bool_
    assert inst.get("string", [types.vr("label")]) == ["héllo wörld"]


def test_several_values_in_one_call(types):
    inst = types.instance()
    vrs = [types.vr("gain"), types.vr("x")]
    inst.set("float64", vrs, [1.5, -4.0])
    np.testing.assert_array_equal(inst.get("float64", vrs), [1.5, -4.0])
    np.testing.assert_array_equal(inst.get("float64", vrs[::-1]), [-4.0, 1.5])
    assert len(inst.get("float64", [])) == 0
    with pytest.raises(ValueError, match="2 value references but 1 values"):
        inst.set("float64", vrs, [1.0])


def test_inputs_round_trip_after_initialization_and_outputs_follow(types):
    inst = types.initialized(gain=3.5, offset=-7, enabled=True, label="line 1")
    types.set(inst, "x", 2.0)
    types.set(inst, "n", 5)
    types.set(inst, "flag", True)
    assert (types.get(inst, "x"), types.get(inst, "n"), types.get(inst, "flag")) == (2.0, 5, True)
    assert types.get(inst, "y") == 7.0                  # gain * x
    assert types.get(inst, "m") == -2                   # offset + n
    assert types.get(inst, "both") is True              # flag and enabled
    assert types.get(inst, "label") == "line 1"
    inst.do_step(0.0, 0.1)
    types.set(inst, "x", -1.0)
    types.set(inst, "n", 100)
    types.set(inst, "flag", False)
    assert types.get(inst, "y") == -3.5
    assert types.get(inst, "m") == 93
    assert types.get(inst, "both") is False


def test_a_false_boolean_parameter_gates_the_boolean_output(types):
    inst = types.initialized(enabled=False)
    types.set(inst, "flag", True)
    assert types.get(inst, "flag") is True
    assert types.get(inst, "both") is False


def test_twin_outputs_follow_inputs(open_fmu, fmi_version):
    gain = open_fmu(twins.path("gain", fmi_version))
    inst = gain.initialized(k=4.0, b=0.5)
    for u in (0.0, 1.0, -2.5):
        gain.set(inst, "u", u)
        assert gain.get(inst, "y") == 4.0 * u + 0.5


def test_steps_output_counts_do_step_calls(types):
    inst = types.initialized()
    assert types.get(inst, "steps") == 0
    for k in range(7):
        inst.do_step(k * 0.1, 0.1)
        assert types.get(inst, "steps") == k + 1
    assert inst.time == pytest.approx(0.7)


def test_reset_returns_to_the_start_values(types):
    inst = types.initialized(gain=5.0)
    inst.do_step(0.0, 0.1)
    inst.reset()
    assert types.get(inst, "gain") == 2.0
    inst.setup_experiment(0.0, None)
    inst.enter_initialization_mode()
    inst.exit_initialization_mode()
    assert types.get(inst, "steps") == 0


# -- state ------------------------------------------------------------------------------


def run_types(types, inst, start_step, n):
    """Step with inputs that vary per step; return the outputs after each step."""
    rows = []
    for k in range(start_step, start_step + n):
        types.set(inst, "x", 0.5 * k - 1.0)
        types.set(inst, "n", 3 * k)
        types.set(inst, "flag", k % 2 == 0)
        inst.do_step(k * 0.1, 0.1)
        rows.append((types.get(inst, "y"), types.get(inst, "m"), types.get(inst, "both"),
                     types.get(inst, "steps")))
    return rows


SPINDLE_OUTPUTS = ["speed", "motor_torque", "bearing_temperature", "wear", "vibration"]


def run_spindle(spindle, inst, start_step, n, h=0.01):
    vrs = [spindle.vr(name) for name in SPINDLE_OUTPUTS]
    rows = []
    for k in range(start_step, start_step + n):
        spindle.set(inst, "speed_setpoint", 3000.0 + 2000.0 * np.sin(k * h * 3.0))
        spindle.set(inst, "load_torque", 5.0 + (k % 10))
        inst.do_step(k * h, h)
        rows.append(inst.get("float64", vrs))
    return np.array(rows)


def test_state_restores_exactly(types):
    inst = types.initialized(gain=1.5)
    run_types(types, inst, 0, 3)
    state = inst.get_state()
    first = run_types(types, inst, 3, 5)
    assert first[-1][3] == 8
    inst.set_state(state)
    assert types.get(inst, "steps") == 3
    second = run_types(types, inst, 3, 5)
    inst.set_state(state)                               # a state can be used again
    third = run_types(types, inst, 3, 5)
    assert first == second == third


def test_twin_state_restores_bit_for_bit(open_fmu, fmi_version):
    spindle = open_fmu(twins.path("spindle", fmi_version))
    inst = spindle.initialized()
    run_spindle(spindle, inst, 0, 40)
    state = inst.get_state()
    first = run_spindle(spindle, inst, 40, 40)
    inst.set_state(state)
    second = run_spindle(spindle, inst, 40, 40)
    np.testing.assert_array_equal(first, second)
    assert first[-1, 0] > 0.0                           # the spindle did move


def test_serialized_state_continues_identically_in_a_second_instance(open_fmu, fmi_version):
    spindle = open_fmu(twins.path("spindle", fmi_version))
    a = spindle.initialized("a")
    run_spindle(spindle, a, 0, 40)
    blob = a.serialize_state(a.get_state())
    assert isinstance(blob, bytes) and len(blob) > 0
    first = run_spindle(spindle, a, 40, 40)
    b = spindle.initialized("b")
    b.set_state(b.deserialize_state(blob))
    second = run_spindle(spindle, b, 40, 40)
    np.testing.assert_array_equal(first, second)


def test_types_state_serializes_strings_and_counters(types):
    a = types.initialized("a", label="saved")
    run_types(types, a, 0, 4)
    blob = a.serialize_state(a.get_state())
    b = types.initialized("b", label="other")
    b.set_state(b.deserialize_state(blob))
    assert types.get(b, "label") == "saved"
    assert types.get(b, "steps") == 4
    assert run_types(types, b, 4, 3) == run_types(types, a, 4, 3)


def test_corrupt_serialized_state_raises_fmi_call_error(types):
    inst = types.initialized()
    blob = inst.serialize_state(inst.get_state())
    with pytest.raises(cosim.FmiCallError) as caught:
        inst.deserialize_state(blob[:-4])
    assert "serialized state has" in caught.value.message
    assert caught.value.instance == "a"


def test_instances_of_one_library_are_independent(types):
    a = types.initialized("a", gain=2.0, offset=1)
    b = types.initialized("b", gain=-1.0, offset=100)
    types.set(a, "x", 3.0)
    types.set(b, "x", 3.0)
    types.set(a, "n", 1)
    for k in range(3):
        a.do_step(k * 0.1, 0.1)
    b.do_step(0.0, 0.1)
    assert (types.get(a, "y"), types.get(b, "y")) == (6.0, -3.0)
    assert (types.get(a, "m"), types.get(b, "m")) == (2, 100)
    assert (types.get(a, "steps"), types.get(b, "steps")) == (3, 1)
    assert a.library is b.library
    a.free()
    b.do_step(0.1, 0.1)                                 # freeing one leaves the other alive
    assert types.get(b, "steps") == 2


# -- errors ------------------------------------------------------------------------------


def check_call_error(error, function, instance, message):
    assert isinstance(error, cosim.FmiCallError)
    assert error.function == function
    assert error.instance == instance
    assert error.status >= 3
    assert message in error.message
    text = str(error)
    assert function in text and f"'{instance}'" in text and message in text


def test_setting_a_fixed_parameter_after_initialization(types, fmi_version):
    inst = types.initialized("press")
    inst.do_step(0.0, 0.1)
    with pytest.raises(cosim.FmiCallError) as caught:
        types.set(inst, "gain", 9.0)
    check_call_error(caught.value, FUNCTIONS[fmi_version]["set float64"], "press",
                     "fixed parameter gain cannot be changed after initialization")
    assert caught.value.time == pytest.approx(0.1)
    assert types.get(inst, "gain") == 2.0


def test_setting_an_output(types, fmi_version):
    inst = types.initialized("press")
    with pytest.raises(cosim.FmiCallError) as caught:
        types.set(inst, "y", 1.0)
    check_call_error(caught.value, FUNCTIONS[fmi_version]["set float64"], "press",
                     "y is not an input or parameter and cannot be set")
    with pytest.raises(cosim.FmiCallError) as caught:
        types.set(inst, "m", 1)
    check_call_error(caught.value, FUNCTIONS[fmi_version]["set int32"], "press",
                     "m is not an input or parameter and cannot be set")


def test_unknown_value_reference(types, fmi_version):
    inst = types.instance("press")
    with pytest.raises(cosim.FmiCallError) as caught:
        inst.set("float64", [999], [1.0])
    check_call_error(caught.value, FUNCTIONS[fmi_version]["set float64"], "press",
                     "unknown value reference 999")
    with pytest.raises(cosim.FmiCallError) as caught:
        inst.get("float64", [999])
    check_call_error(caught.value, FUNCTIONS[fmi_version]["get float64"], "press",
                     "unknown value reference 999")


def test_do_step_before_initialization(types, fmi_version):
    inst = types.instance("press")
    inst.setup_experiment(0.0, None)
    with pytest.raises(cosim.FmiCallError) as caught:
        inst.do_step(0.0, 0.1)
    check_call_error(caught.value, FUNCTIONS[fmi_version]["step"], "press",
                     "do step called in instantiated")


def test_too_long_string(types, fmi_version):
    inst = types.instance("press")
    with pytest.raises(cosim.FmiCallError) as caught:
        types.set(inst, "label", "x" * 300)
    check_call_error(caught.value, FUNCTIONS[fmi_version]["set string"], "press",
                     "longer than 255 bytes")
    assert types.get(inst, "label") == "twin"


def test_int8_values_do_not_exist_in_fmi2(open_fmu, test_fmus):
    fmu = open_fmu(test_fmus("types", "2.0"))
    inst = fmu.instance("press")
    for action in (lambda: inst.get("int8", [1]), lambda: inst.set("int8", [1], [1])):
        with pytest.raises(cosim.ModelError, match="FMI 2.0 has no int8 values") as caught:
            action()
        assert "'press'" in str(caught.value)


def test_int8_on_an_fmi3_fmu_without_int8_variables(open_fmu, test_fmus):
    fmu = open_fmu(test_fmus("types", "3.0"))
    inst = fmu.instance("press")
    with pytest.raises(cosim.FmiCallError) as caught:
        inst.get("int8", [fmu.vr("gain")])
    check_call_error(caught.value, "fmi3GetInt8", "press", "variable gain (value reference 1) is Real, not Int8")


def test_unknown_value_type(types):
    inst = types.instance("press")
    with pytest.raises(cosim.ModelError, match="values of type complex128 cannot be read"):
        inst.get("complex128", [1])


def test_operations_after_free_raise_model_error(types):
    inst = types.initialized("press")
    state = inst.get_state()
    blob = inst.serialize_state(state)
    inst.free()
    assert not inst.alive
    calls = [
        lambda: inst.get("float64", [types.vr("y")]),
        lambda: inst.set("float64", [types.vr("x")], [1.0]),
        lambda: inst.get("string", [types.vr("label")]),
        lambda: inst.do_step(0.0, 0.1),
        lambda: inst.setup_experiment(0.0, None),
        inst.enter_initialization_mode,
        inst.exit_initialization_mode,
        inst.terminate,
        inst.reset,
        inst.get_state,
        lambda: inst.set_state(state),
        lambda: inst.serialize_state(state),
        lambda: inst.deserialize_state(blob),
    ]
    for call in calls:
        with pytest.raises(cosim.ModelError, match="component 'press': the instance has been freed"):
            call()
    inst.free()                                          # freeing twice is harmless


# -- logging ------------------------------------------------------------------------------


def fmu_records(caplog):
    return [r for r in caplog.records if r.name == "cosim.fmu"]


def test_fmu_log_messages_reach_the_cosim_fmu_logger(types, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    inst = types.instance("loud", logging_on=True)
    inst.setup_experiment(0.0, None)
    inst.enter_initialization_mode()
    messages = [(r.levelno, r.getMessage()) for r in fmu_records(caplog)]
    assert (logging.DEBUG, "[loud] entered initialization mode at t=0") in messages


def test_without_logging_on_debug_messages_are_not_sent(types, caplog):
    caplog.set_level(logging.DEBUG, logger="cosim.fmu")
    inst = types.instance("quiet")
    inst.setup_experiment(0.0, None)
    inst.enter_initialization_mode()
    inst.exit_initialization_mode()
    assert fmu_records(caplog) == []
    # An error that travels in an exception is logged once more, at DEBUG level only.
    with pytest.raises(cosim.FmiCallError) as caught:
        types.set(inst, "gain", 1.0)
    message = "fixed parameter gain cannot be changed after initialization"
    assert message in str(caught.value)
    assert [(r.levelno, r.getMessage()) for r in fmu_records(caplog)] == [
        (logging.DEBUG, f"[quiet] {message}")]
