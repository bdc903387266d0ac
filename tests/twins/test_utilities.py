"""The utility FMUs: gain, source and PI controller."""

import math

import numpy as np
import pytest


def test_gain_feeds_through_without_a_step(open_twin, fmi_version):
    gain = open_twin("gain", fmi_version).initialize(k=2.5, b=-1.0)
    for u in (0.0, 3.0, -7.25):
        gain.set(u=u)
        assert gain.get("y") == 2.5 * u - 1.0


@pytest.mark.parametrize("waveform, expected", [
    (0, lambda t: 1.5 + 2.0),
    (1, lambda t: 1.5 + (2.0 if t >= 1.0 else 0.0)),
    (2, lambda t: 1.5 + 2.0 * min(max((t - 1.0) / 2.0, 0.0), 1.0)),
    (3, lambda t: 1.5 + (2.0 * math.sin(2 * math.pi * 0.5 * (t - 1.0)) if t >= 1.0 else 0.0)),
])
def test_source_waveforms(open_twin, fmi_version, waveform, expected):
    source = open_twin("source", fmi_version).initialize(
        waveform=waveform, amplitude=2.0, offset=1.5, start_time=1.0, duration=2.0, frequency=0.5)
    run = source.run(4.0, 0.125, ["y"])
    np.testing.assert_allclose(run["y"], [expected(t) for t in run["time"]], rtol=0, atol=1e-12)


def test_pi_controller_integrates_a_constant_error(open_twin, fmi_version):
    pi = open_twin("pi_controller", fmi_version).initialize(kp=2.0, ki=0.5, setpoint=3.0, measurement=1.0)
    run = pi.run(4.0, 0.5, ["u", "error"])
    np.testing.assert_allclose(run["error"], 2.0)
    np.testing.assert_allclose(run["u"], 2.0 * 2.0 + 0.5 * 2.0 * run["time"], atol=1e-12)


def test_pi_controller_stops_integrating_at_its_limit(open_twin):
    pi = open_twin("pi_controller").initialize(kp=1.0, ki=1.0, u_max=3.0, setpoint=1.0)
    run = pi.run(10.0, 1.0, ["u"])
    assert run["u"][-1] == 3.0
    # Anti-windup: the output leaves the limit as soon as the error reverses.
    pi.set(measurement=2.0)
    assert pi.get("u") < 3.0


def test_energy_meter_sums_power_and_integrates_energy(open_twin, fmi_version):
    meter = open_twin("energy_meter", fmi_version).initialize(power_1=1000.0, power_3=250.0)
    assert meter.get("total_power") == 1250.0          # direct feedthrough
    run = meter.run(10.0, 0.5, ["total_power", "energy"],
                    inputs=lambda t: {"power_8": 100.0 if t >= 5.0 else 0.0})
    np.testing.assert_allclose(run["total_power"], np.where(run["time"] >= 5.0, 1350.0, 1250.0))
    # Inputs are held over each step: energy is the exact left-point sum.
    assert run["energy"][-1] == pytest.approx(1250.0 * 10.0 + 100.0 * 5.0, rel=1e-12)
