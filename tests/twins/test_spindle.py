"""Physics of the spindle twin against closed-form expectations."""

import math

import numpy as np
import pytest
from scipy import signal

RPM = math.pi / 30
J, B, KP, KI = 0.02, 0.0002, 0.5, 5.0           # model.toml defaults
TAU_MAX = 40.0
C_RATING, PRELOAD, TOOL_RADIUS = 30000.0, 1500.0, 0.025


def settling_time(t, y, final, band=0.02):
    """Last time y is outside final +- band*|final|."""
    outside = np.nonzero(np.abs(y - final) > band * abs(final))[0]
    return t[outside[-1] + 1] if len(outside) else t[0]


def damage_rate(speed_rpm, load, wear_rate=1.0):
    bearing_load = PRELOAD + load / TOOL_RADIUS
    return wear_rate * speed_rpm / 60 / (1e6 * (C_RATING / bearing_load) ** 3)


def test_small_step_follows_closed_loop_transfer_function(open_twin, fmi_version):
    # 100 rpm keeps the controller far from its torque limit: the loop is linear.
    spindle = open_twin("spindle", fmi_version).initialize(speed_setpoint=100.0, load_torque=0.0)
    run = spindle.run(2.0, 0.001, ["speed"])
    loop = signal.lti([KP, KI], [J, B + KP, KI])
    _, expected = loop.step(T=run["time"])
    expected *= 100.0
    np.testing.assert_allclose(run["speed"], expected, atol=1e-6 * 100.0)
    implied = settling_time(run["time"], expected, 100.0)
    measured = settling_time(run["time"], run["speed"], 100.0)
    assert measured == pytest.approx(implied, abs=0.002)
    assert 0.2 < measured < 0.6


def test_large_step_reaches_setpoint_in_the_time_the_torque_limit_implies(open_twin, fmi_version):
    spindle = open_twin("spindle", fmi_version).initialize(speed_setpoint=6000.0, load_torque=5.0)
    run = spindle.run(3.0, 0.001, ["speed", "motor_torque"])
    # At the torque limit the rotor accelerates at (tau_max - load - friction)/J.
    ramp = J * 6000 * RPM / (TAU_MAX - 5.0 - B * 3000 * RPM)
    linear = settling_time(run["time"], 6000 * signal.lti([KP, KI], [J, B + KP, KI]).step(T=run["time"])[1], 6000)
    reached = settling_time(run["time"], run["speed"], 6000.0)
    assert ramp < reached < ramp + linear
    assert run["motor_torque"][1] == TAU_MAX
    assert run["speed"][-1] == pytest.approx(6000.0, rel=1e-6)


def test_power_balances_torque_and_speed_at_steady_state(open_twin, fmi_version):
    spindle = open_twin("spindle", fmi_version).initialize(speed_setpoint=8000.0, load_torque=12.0)
    run = spindle.run(4.0, 0.01, ["speed", "motor_torque", "motor_power", "wear"])
    omega = run["speed"][-1] * RPM
    friction = B * (1 + 2.0 * run["wear"][-1]) * omega
    assert run["speed"][-1] == pytest.approx(8000.0, rel=1e-7)
    assert run["motor_power"][-1] == pytest.approx(run["motor_torque"][-1] * omega, rel=1e-12)
    assert run["motor_torque"][-1] == pytest.approx(12.0 + friction, rel=1e-6)
    assert run["motor_power"][-1] == pytest.approx((12.0 + friction) * omega, rel=1e-6)


@pytest.mark.parametrize("speed, load", [(3000.0, 5.0), (6000.0, 5.0), (6000.0, 15.0)])
def test_wear_follows_bearing_rating_life(open_twin, speed, load):
    spindle = open_twin("spindle").initialize(speed_setpoint=speed, load_torque=load, wear_rate=1000.0)
    spindle.run(2.0, 0.01, ["wear"])          # settle at speed
    before = spindle.get("wear")
    spindle.step(10.0)
    rate = (spindle.get("wear") - before) / 10.0
    assert rate == pytest.approx(damage_rate(speed, load, 1000.0), rel=1e-6)
    life_hours = (1 - spindle.get("wear")) / damage_rate(speed, load, 1000.0) / 3600
    assert spindle.get("remaining_life") == pytest.approx(life_hours, rel=1e-6)


def test_wear_grows_faster_with_load_and_speed():
    assert damage_rate(3000, 5) < damage_rate(6000, 5) < damage_rate(6000, 15)


def test_vibration_and_heating_grow_with_wear(open_twin, fmi_version):
    results = {}
    for wear in (0.0, 0.5):
        spindle = open_twin("spindle", fmi_version, f"w{wear}").initialize(
            speed_setpoint=12000.0, load_torque=0.0, initial_wear=wear)
        run = spindle.run(1500.0, 1.0, ["vibration", "bearing_temperature", "speed", "wear"])
        results[wear] = {k: v[-1] for k, v in run.items()}
    for r in results.values():
        omega = r["speed"] * RPM
        # Heat balance: b_eff*omega^2 leaves through the thermal resistance (tau = 100 s).
        expected_temperature = 20.0 + 0.05 * B * (1 + 2.0 * r["wear"]) * omega**2
        assert r["bearing_temperature"] == pytest.approx(expected_temperature, abs=1e-4)
        assert r["vibration"] == pytest.approx((0.8 + 10.0 * r["wear"]) * r["speed"] / 12000.0, rel=1e-9)
    assert results[0.5]["vibration"] > 3 * results[0.0]["vibration"]
    assert results[0.5]["bearing_temperature"] > results[0.0]["bearing_temperature"] + 10.0


def test_remaining_life_is_zero_at_end_of_life(open_twin):
    spindle = open_twin("spindle").initialize(initial_wear=1.0)
    spindle.step(0.1)
    assert spindle.get("remaining_life") == 0.0


def test_wear_reset_puts_the_damage_at_the_value_from_the_next_step():
    import cosim
    from cosim import twins

    system = cosim.System("s")
    system.add("spindle", twins.path("spindle"), parameters={"initial_wear": 0.1})
    with system.start(step_size=0.1, stop_time=2.0) as sim:
        sim.step(3)
        before = sim.get("spindle.wear")
        sim.set("spindle.wear_reset", 0.6)
        sim.step(1)
        after = sim.get("spindle.wear")
        assert before < 0.11 and 0.6 <= after < 0.6 + (before - 0.1)
        sim.step(5)                                 # applied once: the damage grows on
        assert sim.get("spindle.wear") > after
        sim.set("spindle.wear_reset", 1.5)
        with pytest.raises(cosim.FmiCallError, match="wear_reset must be <= 1"):
            sim.step(1)
