"""Output derivatives as the slope of first-order holds.

The two-mass oscillator (tests/fmus/mass) declares maxOutputDerivativeOrder=1
and gives its position's derivative (its velocity) and its velocity's; the
same equations in tests/fmus/mass_hidden_derivatives declare the capability
but their binary does not export the functions, so cosim falls back to the
slope through the last two communication points.
"""

import logging

import numpy as np
import pytest

import cosim
from cosim.cli import main
from cosim.fmi._binding import Instance
from cosim.fmi.loader import load_fmu
from cosim.fmi.model import read_model_info
from master.test_algorithms import OSCILLATOR, SLOW_DRIFT, exact, oscillator

FUNCTION = {"2.0": "fmi2GetRealOutputDerivatives", "3.0": "fmi3GetOutputDerivatives"}


def test_model_info_exposes_the_output_derivative_order(test_fmus, fmi_version, capsys):
    assert read_model_info(str(test_fmus("mass", fmi_version))).max_output_derivative_order == 1
    assert read_model_info(str(cosim.twins.path("gain", fmi_version))).max_output_derivative_order == 0
    # FMI 1.0 output derivatives are not read
    assert read_model_info(str(test_fmus("mass", "1.0"))).max_output_derivative_order == 0
    assert main(["info", str(test_fmus("mass", fmi_version))]) == 0
    capabilities = [line for line in capsys.readouterr().out.splitlines() if "capabilities" in line]
    assert capabilities[0].endswith("output derivatives (order 1)")


def test_the_binding_reads_the_derivatives_the_fmu_computes(test_fmus, fmi_version):
    archive, library = load_fmu(test_fmus("mass", fmi_version))
    try:
        model = archive.model
        x, v = model.variables["x"].value_reference, model.variables["v"].value_reference
        instance = Instance(archive, library, "m")
        instance.setup_experiment(0.0)
        instance.set("float64", [model.variables[p].value_reference for p in ("x0", "v0", "k")],
                     [0.5, -2.0, 3.0])
        instance.enter_initialization_mode()
        instance.exit_initialization_mode()
        # x' = v; v' = (-k x - kc (x - x_other)) / m with kc = 1, x_other = 0, m = 1
        np.testing.assert_allclose(instance.get_output_derivatives([x, v]), [-2.0, -3.0 * 0.5 - 0.5])
        instance.do_step(0.0, 0.1)
        position, velocity = instance.get("float64", [x, v])
        assert instance.get_output_derivatives([x])[0] == velocity
        with pytest.raises(cosim.FmiCallError, match=f"{FUNCTION[fmi_version]}.*m is not an output"):
            instance.get_output_derivatives([model.variables["m"].value_reference])
        instance.free()
    finally:
        archive.close()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_output_derivatives_bring_the_first_order_hold_closer_to_the_exact_solution(
        test_fmus, fmi_version, algorithm, caplog):
    caplog.set_level(logging.ERROR, logger="cosim.fmu")    # the fallback's warning is tested below
    errors = {}
    for name in ("mass", "mass_hidden_derivatives"):
        path = test_fmus(name, fmi_version)
        errors[name] = []
        for h in (0.02, 0.01, 0.005):
            result = cosim.simulate(oscillator(path), stop_time=5.0, step_size=h,
                                    algorithm=algorithm, extrapolation="foh")
            errors[name].append(abs(result["a.x"][-1] - exact(OSCILLATOR, 5.0)[0, 0]))
    for name, e in errors.items():
        orders = np.log2(np.array(e[:-1]) / np.array(e[1:]))
        assert orders == pytest.approx([2.0, 2.0], abs=0.15), (name, e)
    # the same order, a smaller constant: the slope is the model's, not a secant's
    assert all(a < 0.6 * b for a, b in zip(errors["mass"], errors["mass_hidden_derivatives"])), errors


def test_a_binary_without_the_function_falls_back_with_a_warning_naming_it(test_fmus, fmi_version,
                                                                           caplog):
    path = test_fmus("mass_hidden_derivatives", fmi_version)
    assert read_model_info(str(path)).max_output_derivative_order == 1      # as declared
    caplog.set_level(logging.WARNING, logger="cosim.fmu")
    moving = ({**OSCILLATOR[0], "v0": 0.5}, OSCILLATOR[1])
    foh = cosim.simulate(oscillator(path, moving), stop_time=0.1, step_size=0.01,
                         extrapolation="foh")
    warnings = [r.getMessage() for r in caplog.records if FUNCTION[fmi_version] in r.getMessage()]
    assert warnings and "maxOutputDerivativeOrder is 1 but the binary does not export" in warnings[0]
    archive, _ = load_fmu(path)
    assert archive.model.max_output_derivative_order == 0           # corrected to the binary
    archive.close()
    # Two-point slopes need two points: the first step holds like a zero-order
    # hold; the model's own derivative (b sees a moving) does better at once.
    zoh = cosim.simulate(oscillator(path, moving), stop_time=0.1, step_size=0.01)
    assert foh["b.x"][1] == zoh["b.x"][1]
    exact_b = exact(moving, foh.time[1])[0, 1]
    with_derivatives = cosim.simulate(oscillator(test_fmus("mass", fmi_version), moving),
                                      stop_time=0.1, step_size=0.01, extrapolation="foh")
    assert abs(with_derivatives["b.x"][1] - exact_b) < 0.7 * abs(foh["b.x"][1] - exact_b)


def test_a_restored_snapshot_replays_with_the_same_derivatives(test_fmus, fmi_version):
    system = oscillator(test_fmus("mass", fmi_version))
    with system.start(stop_time=2.0, step_size=0.01, extrapolation="foh") as sim:
        sim.step(10)
        snapshot = sim.snapshot()
        sim.step(10)
        first = sim.result["a.x"][-10:].copy()
        sim.restore(snapshot)
        sim.step(10)
        np.testing.assert_array_equal(sim.result["a.x"][-10:], first)


def test_variable_steps_estimate_the_coupling_error_with_the_slope_the_hold_used(test_fmus,
                                                                              caplog):
    # Both slopes give second-order holds whose error the control keeps small;
    # the model's own slope is the better prediction and needs fewer steps.
    caplog.set_level(logging.ERROR, logger="cosim.fmu")
    runs = {}
    for name in ("mass", "mass_hidden_derivatives"):
        result = cosim.simulate(oscillator(test_fmus(name), SLOW_DRIFT), stop_time=20.0,
                                step_size=0.001, variable_step=True, rtol=1e-3, atol=1e-6,
                                max_step=1.0, extrapolation="foh", output_interval=0.02)
        reference = exact(SLOW_DRIFT, result.time)
        error = max(np.abs(result["a.x"] - reference[:, 0]).max(),
                    np.abs(result["b.x"] - reference[:, 1]).max())
        runs[name] = (error, result.stats["a"].steps)
        assert error < 1e-6, runs
        # a fixed step of 0.002 s (10,000 steps) is needed for the same accuracy
        assert result.stats["a"].steps < 20.0 / 0.002 / 3, runs
    assert runs["mass"][1] < runs["mass_hidden_derivatives"][1], runs
