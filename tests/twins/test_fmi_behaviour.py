"""FMI behaviour shared by all twins: state, versions, bad parameters, step convergence."""

import numpy as np
import pytest

from fmpy_driver import FmuFailed, outputs_of
from cosim import twins

# A scenario per twin that exercises its dynamics: (stop, step, inputs(t)).
SCENARIOS = {
    "spindle": (2.0, 0.01, lambda t: {"speed_setpoint": 3000.0 if t < 1.0 else 9000.0,
                                      "load_torque": 4.0 + 6.0 * (t > 1.5)}),
    "furnace": (7200.0, 30.0, lambda t: {"part_mass_flow": 0.1 + 0.1 * (t > 2000.0),
                                         "soak_zone_setpoint": 850.0 + 20.0 * (t > 4000.0)}),
    "conveyor": (60.0, 0.1, lambda t: {"belt_speed_command": 0.5 + 0.5 * (t > 25.0),
                                       "part_flow_in": 0.5 + 0.4 * np.sin(t)}),
    "gain": (1.0, 0.01, lambda t: {"u": np.cos(5 * t)}),
    "source": (4.0, 0.05, lambda t: {}),
    "pi_controller": (3.0, 0.01, lambda t: {"setpoint": 1.0, "measurement": np.sin(t)}),
    "energy_meter": (60.0, 1.0, lambda t: {"power_1": 1000.0 + 10 * t, "power_8": 50.0 * np.sin(t)}),
}


def run_scenario(open_twin, name, version, instance="a"):
    stop, step, inputs = SCENARIOS[name]
    driver = open_twin(name, version, instance).initialize()
    return driver.run(stop, step, outputs_of(twins.path(name, version)), inputs=inputs)


@pytest.mark.parametrize("name", SCENARIOS)
def test_fmi2_and_fmi3_builds_give_identical_results(open_twin, name):
    fmi2 = run_scenario(open_twin, name, "2.0")
    fmi3 = run_scenario(open_twin, name, "3.0")
    for column in fmi2:
        np.testing.assert_array_equal(fmi2[column], fmi3[column], err_msg=column)


@pytest.mark.parametrize("name", SCENARIOS)
def test_restoring_a_saved_state_reproduces_the_run_bit_for_bit(open_twin, fmi_version, name):
    stop, step, inputs = SCENARIOS[name]
    outputs = outputs_of(twins.path(name, fmi_version))
    driver = open_twin(name, fmi_version).initialize()
    middle = int(round(stop / step)) // 2
    driver.run(middle * step, step, outputs, inputs=inputs)
    state = driver.get_state()
    first = driver.run(stop, step, outputs, inputs=inputs, start_step=middle)
    driver.set_state(state)
    second = driver.run(stop, step, outputs, inputs=inputs, start_step=middle)
    for column in first:
        np.testing.assert_array_equal(first[column], second[column], err_msg=column)

    # A serialized state restores into a fresh instance as well.
    blob = driver.serialize(state)
    fresh = open_twin(name, fmi_version, "fresh").initialize()
    fresh.set_state(fresh.deserialize(blob))
    third = fresh.run(stop, step, outputs, inputs=inputs, start_step=middle)
    for column in first:
        np.testing.assert_array_equal(first[column], third[column], err_msg=column)


def test_corrupt_serialized_state_is_refused(open_twin, fmi_version):
    spindle = open_twin("spindle", fmi_version).initialize()
    blob = spindle.serialize(spindle.get_state())
    with pytest.raises(FmuFailed) as truncated:
        spindle.deserialize(blob[:-8])
    assert any("serialized state has" in m for m in truncated.value.messages)
    furnace = open_twin("furnace", fmi_version, "other").initialize()
    with pytest.raises(FmuFailed) as foreign:
        furnace.deserialize(blob)
    assert any("furnace" in m for m in foreign.value.messages)


BAD_PARAMETERS = [
    ("spindle", "inertia", -1.0, "inertia must be > 0"),
    ("spindle", "thermal_resistance", 0.0, "thermal_resistance must be > 0"),
    ("spindle", "initial_wear", 1.5, "initial_wear must be in [0, 1]"),
    ("spindle", "solver_step", float("nan"), "solver_step must be > 0"),
    ("furnace", "soak_zone_capacity", 0.0, "soak_zone_capacity must be > 0"),
    ("furnace", "part_specific_heat", -500.0, "part_specific_heat must be > 0"),
    ("furnace", "ambient_temperature", -300.0, "ambient_temperature must be above absolute zero"),
    ("conveyor", "length", 0.0, "length must be > 0"),
    ("conveyor", "drive_efficiency", 1.2, "drive_efficiency must be in (0, 1]"),
    ("gain", "k", float("inf"), "k must be finite"),
    ("source", "waveform", 7, "waveform must be 0 (constant)"),
    ("pi_controller", "u_max", -2e9, "u_max must be >= u_min"),
]


@pytest.mark.parametrize("name, parameter, value, message", BAD_PARAMETERS,
                         ids=[f"{n}.{p}" for n, p, _, _ in BAD_PARAMETERS])
def test_invalid_parameter_fails_initialization_naming_it(open_twin, fmi_version, name, parameter,
                                                          value, message):
    driver = open_twin(name, fmi_version)
    with pytest.raises(FmuFailed) as failure:
        driver.initialize(**{parameter: value})
    assert "ExitInitializationMode" in str(failure.value)
    assert any(message in m for m in failure.value.messages), failure.value.messages


def test_fixed_parameter_cannot_change_after_initialization(open_twin, fmi_version):
    spindle = open_twin("spindle", fmi_version).initialize()
    with pytest.raises(FmuFailed) as failure:
        spindle.set(inertia=0.5)
    assert any("fixed parameter inertia" in m for m in failure.value.messages)


def test_step_at_the_wrong_time_is_refused(open_twin, fmi_version):
    gain = open_twin("gain", fmi_version).initialize()
    gain.time = 0.5
    with pytest.raises(FmuFailed) as failure:
        gain.step(0.1)
    assert any("does not match the FMU time" in m for m in failure.value.messages)


def spindle_speed(open_twin, version, h, solver_step):
    spindle = open_twin("spindle", version, f"h{h}-{solver_step}").initialize(
        speed_setpoint=100.0, load_torque=0.0, solver_step=solver_step)
    return spindle.run(0.4, h, ["speed"])


def test_macro_step_changes_results_only_through_the_integration_order(open_twin, fmi_version):
    # Substeps of 1 ms: any macro step that is a multiple of it gives the same result.
    same = [spindle_speed(open_twin, fmi_version, h, 0.001)["speed"][-1] for h in (0.001, 0.01, 0.05)]
    assert max(same) - min(same) < 1e-9
    # With substeps as long as the macro step, halving it cuts the error by 2^4 (RK4).
    fine = 0.0001
    reference = spindle_speed(open_twin, fmi_version, fine, 1.0)["speed"]
    errors = []
    for h in (0.01, 0.005, 0.0025):
        run = spindle_speed(open_twin, fmi_version, h, 1.0)
        at = np.round(run["time"] / fine).astype(int)
        errors.append(np.max(np.abs(run["speed"] - reference[at])))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 3.8) & (orders < 4.2)), orders
