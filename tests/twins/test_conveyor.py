"""Physics of the conveyor twin: transport delay, conservation of parts, jams, power."""

import numpy as np
import pytest

LENGTH, CAPACITY = 10.0, 40.0               # model.toml defaults
MU, BELT_MASS, PART_MASS, EFFICIENCY = 0.1, 150.0, 2.0, 0.85


@pytest.mark.parametrize("speed", [0.5, 1.25])
def test_step_in_part_flow_is_delayed_by_length_over_speed(open_twin, fmi_version, speed):
    conveyor = open_twin("conveyor", fmi_version).initialize(belt_speed_command=speed, part_flow_in=0.0)
    feed = lambda t: {"part_flow_in": 0.0 if t < 5.0 else 0.6}
    run = conveyor.run(5.0 + 2 * LENGTH / speed, 0.05, ["part_flow_out", "parts_delivered"], inputs=feed)
    # Delivered parts ramp up at 0.6/s from exactly 5 s + length/speed; the
    # tolerance is the position resolution of the part history (length/2048).
    expected = 0.6 * np.clip(run["time"] - 5.0 - LENGTH / speed, 0.0, None)
    np.testing.assert_allclose(run["parts_delivered"], expected, atol=0.6 * LENGTH / 2048 / speed)
    assert run["part_flow_out"][-1] == pytest.approx(0.6, rel=1e-9)


def test_parts_are_conserved_through_speed_changes_and_stops(open_twin, fmi_version):
    conveyor = open_twin("conveyor", fmi_version).initialize()
    h = 0.1

    def profile(t):
        speed = 0.8 if t < 20 else (0.0 if t < 35 else 0.3 + 0.2 * np.sin(t / 7))
        return {"belt_speed_command": speed, "part_flow_in": 0.4 + 0.3 * np.sin(t / 3)}

    run = conveyor.run(120.0, h, ["part_flow_out", "parts_on_belt", "parts_delivered"], inputs=profile)
    inflow = np.array([max(profile(t)["part_flow_in"], 0.0) for t in run["time"]])
    fed = np.concatenate([[0.0], np.cumsum(inflow[:-1] * h)])      # held over each step
    delivered = np.concatenate([[0.0], np.cumsum(run["part_flow_out"][1:] * h)])
    np.testing.assert_allclose(fed - delivered, run["parts_on_belt"], atol=1e-9)
    np.testing.assert_allclose(delivered, run["parts_delivered"], atol=1e-9)
    assert run["parts_delivered"][-1] > 10      # parts did travel through


def test_delay_follows_belt_travel_when_the_speed_changes(open_twin):
    conveyor = open_twin("conveyor").initialize(belt_speed_command=0.5, part_flow_in=0.0)
    profile = lambda t: {"part_flow_in": 1.0 if 2.0 <= t < 2.5 else 0.0,
                         "belt_speed_command": 0.5 if t < 8.0 else 0.25}
    run = conveyor.run(60.0, 0.01, ["part_flow_out", "belt_speed"], inputs=profile)
    # The batch leaves when the belt has travelled one length since it was placed.
    travel = np.concatenate([[0.0], np.cumsum(0.5 * (run["belt_speed"][1:] + run["belt_speed"][:-1]) * 0.01)])
    placed_at = np.interp(2.25, run["time"], travel)
    expected_exit = np.interp(placed_at + LENGTH, travel, run["time"])
    centre = np.sum(run["time"] * run["part_flow_out"]) / np.sum(run["part_flow_out"])
    assert centre == pytest.approx(expected_exit, abs=0.02)
    assert np.sum(run["part_flow_out"]) * 0.01 == pytest.approx(0.5, rel=1e-9)


def test_stopped_belt_fed_with_parts_jams(open_twin, fmi_version):
    conveyor = open_twin("conveyor", fmi_version).initialize(belt_speed_command=0.0, part_flow_in=2.0)
    run = conveyor.run(30.0, 0.5, ["parts_on_belt", "jam", "part_flow_out"])
    jammed = run["jam"] > 0.5
    np.testing.assert_array_equal(jammed, run["parts_on_belt"] > CAPACITY)
    assert not jammed[0] and jammed[-1]
    assert np.all(run["part_flow_out"] == 0.0)


def test_motor_power_at_steady_speed(open_twin, fmi_version):
    conveyor = open_twin("conveyor", fmi_version).initialize(belt_speed_command=1.0, part_flow_in=1.0)
    run = conveyor.run(40.0, 0.1, ["motor_power", "parts_on_belt", "belt_speed"])
    parts = run["parts_on_belt"][-1]
    assert parts == pytest.approx(LENGTH * 1.0 / 1.0, rel=1e-9)
    expected = MU * 9.81 * (BELT_MASS + PART_MASS * parts) * 1.0 / EFFICIENCY
    assert run["motor_power"][-1] == pytest.approx(expected, rel=1e-9)


def test_belt_speed_follows_command_with_first_order_lag(open_twin):
    conveyor = open_twin("conveyor").initialize(belt_speed_command=0.0)
    run = conveyor.run(2.0, 0.1, ["belt_speed"], inputs=lambda t: {"belt_speed_command": 1.0})
    np.testing.assert_allclose(run["belt_speed"], 1.0 - np.exp(-run["time"] / 0.5), atol=1e-12)


def test_speed_command_is_limited(open_twin):
    conveyor = open_twin("conveyor").initialize(belt_speed_command=5.0)
    assert conveyor.run(5.0, 0.1, ["belt_speed"])["belt_speed"][-1] == pytest.approx(2.0)


def test_loaded_start_delivers_from_the_first_step(open_twin, fmi_version):
    conveyor = open_twin("conveyor", fmi_version).initialize(start_loaded=True, belt_speed_command=0.5,
                                                            part_flow_in=0.5)
    run = conveyor.run(10.0, 0.1, ["parts_on_belt", "part_flow_out"])
    assert run["parts_on_belt"][0] == pytest.approx(LENGTH * 0.5 / 0.5)
    np.testing.assert_allclose(run["part_flow_out"], 0.5, rtol=1e-9)   # from t = 0 on
    np.testing.assert_allclose(run["parts_on_belt"], 10.0, rtol=1e-9)
