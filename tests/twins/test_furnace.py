"""Physics of the furnace twin against its analytical energy balance."""

import numpy as np
import pytest

CAPACITY = [2.0e6, 2.0e6, 1.5e6]                 # model.toml defaults
WALL = np.array([50.0, 50.0, 150.0])
TRANSFER = np.array([2000.0, 1500.0, 1500.0])
MAX_POWER = np.array([250e3, 100e3, 100e3])
G, CP, AMBIENT = 100.0, 500.0, 20.0
ZONES = ["heat", "soak", "cool"]
TEMPERATURES = [f"{z}_zone_temperature" for z in ZONES]
POWERS = [f"{z}_zone_power" for z in ZONES]


def closed_loop_steady_state(setpoints, flow, entry):
    """Part temperatures and burner powers with every zone held at its setpoint."""
    mc = flow * CP
    parts, upstream = [], entry
    for z in range(3):
        upstream = (mc * upstream + TRANSFER[z] * setpoints[z]) / (mc + TRANSFER[z])
        parts.append(upstream)
    powers = []
    for z in range(3):
        loss = TRANSFER[z] * (setpoints[z] - parts[z]) + WALL[z] * (setpoints[z] - AMBIENT)
        loss += sum(G * (setpoints[z] - setpoints[n]) for n in (z - 1, z + 1) if 0 <= n < 3)
        powers.append(loss)
    return np.array(parts), np.array(powers)


def open_loop_steady_state(powers, flow, entry):
    """Zone and part temperatures for fixed burner powers: a 6x6 linear system."""
    mc = flow * CP
    a, rhs = np.zeros((6, 6)), np.zeros(6)
    for z in range(3):          # zone z: Q = hA(T-P) + UA(T-Ta) + G*sum(T - T_n)
        a[z, z] = TRANSFER[z] + WALL[z]
        a[z, 3 + z] = -TRANSFER[z]
        rhs[z] = powers[z] + WALL[z] * AMBIENT
        for n in (z - 1, z + 1):
            if 0 <= n < 3:
                a[z, z] += G
                a[z, n] -= G
    for z in range(3):          # parts in zone z: mc(P_prev - P) + hA(T - P) = 0
        a[3 + z, 3 + z] = mc + TRANSFER[z]
        a[3 + z, z] = -TRANSFER[z]
        if z == 0:
            rhs[3] = mc * entry
        else:
            a[3 + z, 3 + z - 1] = -mc
    solution = np.linalg.solve(a, rhs)
    return solution[:3], solution[3:]


def test_closed_loop_steady_state_matches_energy_balance(open_twin, fmi_version):
    furnace = open_twin("furnace", fmi_version).initialize(
        start_hot=False, part_mass_flow=0.12, part_entry_temperature=25.0,
        heat_zone_setpoint=920.0, soak_zone_setpoint=860.0, cool_zone_setpoint=620.0)
    run = furnace.run(40000.0, 20.0, TEMPERATURES + POWERS + ["part_exit_temperature"])
    parts, powers = closed_loop_steady_state([920.0, 860.0, 620.0], 0.12, 25.0)
    for name, setpoint in zip(TEMPERATURES, [920.0, 860.0, 620.0]):
        assert run[name][-1] == pytest.approx(setpoint, abs=0.01)
    assert run["part_exit_temperature"][-1] == pytest.approx(parts[2], rel=0.01)
    for name, power in zip(POWERS, powers):
        assert run[name][-1] == pytest.approx(power, rel=0.01)
        assert run[name][-1] < MAX_POWER[ZONES.index(name.split("_")[0])]


def test_open_loop_steady_state_matches_energy_balance(open_twin, fmi_version):
    commands = {"heat_zone_command": 0.4, "soak_zone_command": 0.5, "cool_zone_command": 0.3}
    furnace = open_twin("furnace", fmi_version).initialize(
        closed_loop=False, part_mass_flow=0.08, **commands)
    # Without control the slowest mode is the whole furnace's heat capacity
    # over its losses to ambient, about 19000 s: run 13 of them.
    run = furnace.run(250000.0, 100.0, TEMPERATURES + ["part_exit_temperature"])
    powers = MAX_POWER * np.array(list(commands.values()))
    zones, parts = open_loop_steady_state(powers, 0.08, 20.0)
    for name, expected in zip(TEMPERATURES, zones):
        assert run[name][-1] == pytest.approx(expected, rel=1e-3)
    assert run["part_exit_temperature"][-1] == pytest.approx(parts[2], rel=1e-3)


def test_soak_zone_holds_half_a_kelvin_through_a_fourfold_load_step(open_twin, fmi_version):
    furnace = open_twin("furnace", fmi_version).initialize()
    flow = lambda t: {"part_mass_flow": 0.1 if t < 1000.0 else 0.4}
    run = furnace.run(12000.0, 10.0, ["soak_deviation", "soak_zone_power"], inputs=flow)
    deviation = np.abs(run["soak_deviation"])
    assert np.max(deviation) < 0.5
    assert np.max(deviation) > 0.01                         # the load step did disturb the zone
    assert np.max(deviation[run["time"] >= 7000.0]) < 1e-6  # and the integral action removed it
    assert run["soak_zone_power"][-1] > run["soak_zone_power"][0] + 5e3


def test_soak_zone_settles_within_half_a_kelvin_after_a_cold_start(open_twin, fmi_version):
    furnace = open_twin("furnace", fmi_version).initialize(start_hot=False)
    run = furnace.run(30000.0, 10.0, ["soak_deviation"])
    assert run["soak_deviation"][0] == pytest.approx(20.0 - 850.0)
    inside = np.abs(run["soak_deviation"]) < 0.5
    first_inside = run["time"][np.argmax(inside)]
    assert inside[run["time"] >= first_inside + 3600.0].all()


def test_energy_is_integral_of_burner_power(open_twin):
    furnace = open_twin("furnace").initialize(start_hot=False)
    run = furnace.run(3600.0, 1.0, ["burner_power", "energy"])
    integral = np.trapezoid(run["burner_power"], run["time"])
    assert run["energy"][-1] == pytest.approx(integral, rel=1e-3)
    assert run["burner_power"][0] == pytest.approx(MAX_POWER.sum())   # cold start: burners at their limit


def test_hot_start_is_steady(open_twin, fmi_version):
    furnace = open_twin("furnace", fmi_version).initialize()
    run = furnace.run(3600.0, 60.0, TEMPERATURES + ["burner_power"])
    for name, setpoint in zip(TEMPERATURES, [900.0, 850.0, 600.0]):
        assert np.max(np.abs(run[name] - setpoint)) < 1e-6
    assert np.ptp(run["burner_power"]) < 1e-3


def test_hot_start_without_flow_or_transfer_stays_finite(open_twin, fmi_version):
    furnace = open_twin("furnace", fmi_version).initialize(part_mass_flow=0.0, soak_zone_transfer=0.0)
    run = furnace.run(600.0, 60.0, TEMPERATURES + ["part_exit_temperature"])
    assert all(np.isfinite(v).all() for v in run.values())
