"""The native master against the plain-Python reference master (tests/reference_master.py).

Both run the same system on the same FMUs; the reference drives them
through fmpy with the documented semantics written out in Python, so any
difference in initialization, ordering, time grid or data exchange of the
native loop shows up as a difference in the numbers.
"""

import numpy as np
import pytest

import reference_master
from cosim import System, twins

ALGORITHMS = ["jacobi", "gauss-seidel"]


def compare(system, record, **options):
    """Run natively and with the reference; assert equal numbers; return the reference run."""
    native = system.simulate(record=record, **options)
    reference = reference_master.simulate(system, record=record, **options)
    np.testing.assert_array_equal(native.time, reference["time"])
    for name in record:
        np.testing.assert_allclose(native[name], reference[name], rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    return reference


def assert_varies(run, names):
    for name in names:
        assert np.ptp(run[name]) > 0, f"{name} stays at {run[name][0]}; the test exercises nothing"


def gain_chain(version, n_gains=3):
    """A sine source feeding a chain of gains, added in reverse so that addition
    order and execution order differ."""
    system = System("chain")
    for i in reversed(range(1, n_gains + 1)):
        system.add(f"g{i}", twins.path("gain", version),
                   parameters={"k": [2.0, -0.5, 3.0, 1.5][(i - 1) % 4], "b": 0.25 * i})
    system.add("src", twins.path("source", version),
               parameters={"waveform": 3, "amplitude": 2.0, "offset": 0.5, "start_time": 0.0,
                           "frequency": 1.5})
    system.connect("src.y", "g1.u")
    for i in range(1, n_gains):
        system.connect(f"g{i}.y", f"g{i + 1}.u")
    return system


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gain_chain_fed_by_a_sine(fmi_version, algorithm):
    system = gain_chain(fmi_version)
    record = ["src.y", "g1.y", "g2.y", "g3.y"]
    run = compare(system, record, stop_time=2.0, step_size=0.01, algorithm=algorithm)
    assert_varies(run, record)


def test_long_run_crosses_result_chunks(fmi_version):
    # More rows than the native loop's result chunk (4096) holds.
    system = gain_chain(fmi_version, n_gains=2)
    run = compare(system, ["g2.y"], stop_time=4.5, step_size=0.001, algorithm="gauss-seidel")
    assert len(run["time"]) == 4501


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_pi_controller_closing_a_loop_around_the_spindle(fmi_version, algorithm):
    system = System("speed_loop")
    system.add("setpoint", twins.path("source", fmi_version),
               parameters={"waveform": 1, "amplitude": 3000.0, "offset": 1000.0, "start_time": 0.2})
    system.add("pi", twins.path("pi_controller", fmi_version), parameters={"kp": 0.5, "ki": 4.0})
    system.add("spindle", twins.path("spindle", fmi_version))
    system.connect("setpoint.y", "pi.setpoint")
    system.connect("pi.u", "spindle.speed_setpoint")
    system.connect("spindle.speed", "pi.measurement")
    record = ["pi.u", "pi.error", "spindle.speed", "spindle.motor_torque"]
    run = compare(system, record, stop_time=1.0, step_size=0.01, algorithm=algorithm)
    assert_varies(run, record)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_pi_controller_closing_a_loop_around_the_conveyor(fmi_version, algorithm):
    # A feedback loop the master can order today: conveyor.part_flow_in has no
    # direct feedthrough, the controller's measurement has.
    system = System("belt_loop")
    system.add("pi", twins.path("pi_controller", fmi_version),
               parameters={"kp": 0.3, "ki": 0.2, "u_min": 0.0, "u_max": 3.0})
    system.add("belt", twins.path("conveyor", fmi_version), parameters={"length": 2.0})
    system.add("target", twins.path("source", fmi_version),
               parameters={"waveform": 2, "amplitude": 4.0, "offset": 1.0, "start_time": 0.5,
                           "duration": 2.0})
    system.connect("target.y", "pi.setpoint")
    system.connect("pi.u", "belt.part_flow_in")
    system.connect("belt.parts_on_belt", "pi.measurement")
    record = ["pi.u", "pi.error", "belt.parts_on_belt", "belt.part_flow_out"]
    run = compare(system, record, stop_time=8.0, step_size=0.05, algorithm=algorithm)
    assert_varies(run, record)


def small_line(version):
    """Infeed -> conveyor; its discharge loads the spindle (18 N.m per part/s) and
    feeds the furnace (0.2 kg per part)."""
    system = System("line")
    system.add("infeed", twins.path("source", version),
               parameters={"waveform": 3, "amplitude": 0.3, "offset": 0.5, "start_time": 0.0,
                           "frequency": 0.4})
    system.add("belt", twins.path("conveyor", version), parameters={"length": 1.0})
    system.add("cutting", twins.path("gain", version), parameters={"k": 18.0})
    system.add("spindle", twins.path("spindle", version))
    system.add("to_mass", twins.path("gain", version), parameters={"k": 0.2})
    system.add("furnace", twins.path("furnace", version))
    system.connect("infeed.y", "belt.part_flow_in")
    system.connect("belt.part_flow_out", "cutting.u")
    system.connect("cutting.y", "spindle.load_torque")
    system.connect("belt.part_flow_out", "to_mass.u")
    system.connect("to_mass.y", "furnace.part_mass_flow")
    return system


LINE_RECORD = ["infeed.y", "belt.part_flow_out", "belt.parts_on_belt", "cutting.y",
               "spindle.speed", "spindle.motor_torque", "spindle.remaining_life",
               "to_mass.y", "furnace.heat_zone_temperature", "furnace.heat_zone_power",
               "furnace.part_exit_temperature", "furnace.energy"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_small_line(fmi_version, algorithm):
    run = compare(small_line(fmi_version), LINE_RECORD, stop_time=6.0, step_size=0.02,
                  algorithm=algorithm)
    assert_varies(run, LINE_RECORD)
    # Parts reach the discharge: the spindle and furnace see a load.
    assert run["cutting.y"][-1] > 0 and run["to_mass.y"][-1] > 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_interval_records_every_fifth_reference_row(fmi_version, algorithm):
    system = small_line(fmi_version)
    options = dict(stop_time=4.0, step_size=0.02, algorithm=algorithm)
    native = system.simulate(record=LINE_RECORD, output_interval=0.1, **options)
    reference = reference_master.simulate(system, record=LINE_RECORD, **options)
    assert len(native.time) == 41
    np.testing.assert_array_equal(native.time, reference["time"][::5])
    for name in LINE_RECORD:
        np.testing.assert_allclose(native[name], reference[name][::5], rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    assert_varies(reference, ["belt.part_flow_out", "spindle.remaining_life"])
