"""An FMU that ends the simulation ends the run normally, as in fmpy.

The test model ``stopper`` integrates x' = u and asks to end the simulation
when it reaches its ``end_at`` parameter: FMI 2.0 with a discarded step whose
fmi2Terminated status is true (at fmi2LastSuccessfulTime), FMI 3.0 with
terminateSimulation.  ``simulate`` and ``cosim run`` end there without an
error; the step-wise API raises SimulationTerminated and then refuses to go
on.
"""

import fmpy
import numpy as np
import pytest

import cosim
from cosim import ConfigurationError, SimulationTerminated, System, twins
from cosim.cli import main

REQUEST = {"2.0": "fmi2Terminated", "3.0": "terminateSimulation"}


def stopper_system(path, end_at):
    system = System("ends")
    system.add("stp", path, parameters={"end_at": end_at})
    return system


def fmpy_result(path, end_at):
    return fmpy.simulate_fmu(str(path), start_values={"end_at": end_at}, stop_time=1.0,
                             output_interval=0.1)


def test_termination_on_a_communication_point_matches_fmpy(test_fmus, fmi_version):
    path = test_fmus("stopper", fmi_version)
    result = cosim.simulate(stopper_system(path, 0.5), stop_time=1.0, step_size=0.1)
    theirs = fmpy_result(path, 0.5)
    np.testing.assert_allclose(result.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["stp.x"], theirs["x"], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(result["stp.steps"], theirs["steps"])
    assert result.time[-1] == pytest.approx(0.5) and result["stp.x"][-1] == pytest.approx(0.5)
    assert result.terminated_by == ("stp",)
    assert result.end_time == pytest.approx(0.5)
    assert result.end_reason == (f"component 'stp' asked to terminate the simulation "
                                 f"({REQUEST[fmi_version]}) at t=0.5 s; the run stopped there "
                                 "and its result ends at t=0.5 s")


def test_fmi3_termination_inside_a_step_ends_at_the_step_end_as_in_fmpy(test_fmus):
    # Without early return the FMU's step counts as complete: both importers
    # record its end, where the FMU holds the values it stopped with.
    path = test_fmus("stopper", "3.0")
    result = cosim.simulate(stopper_system(path, 0.45), stop_time=1.0, step_size=0.1)
    theirs = fmpy_result(path, 0.45)
    np.testing.assert_allclose(result.time, theirs["time"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["stp.x"], theirs["x"], rtol=1e-12, atol=1e-15)
    assert result["stp.x"][-1] == pytest.approx(0.45) and result.end_time == pytest.approx(0.5)


def test_fmi2_termination_inside_a_step_keeps_the_last_complete_point(test_fmus):
    path = test_fmus("stopper", "2.0")
    result = cosim.simulate(stopper_system(path, 0.45), stop_time=1.0, step_size=0.1)
    theirs = fmpy_result(path, 0.45)
    # fmpy adds a row at fmi2LastSuccessfulTime; cosim's rows end at the last
    # point every component reached, and end_time says where the run ended.
    assert theirs["time"][-1] == pytest.approx(0.45) and theirs["x"][-1] == pytest.approx(0.45)
    np.testing.assert_allclose(result.time, theirs["time"][:-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["stp.x"], theirs["x"][:-1], rtol=1e-12, atol=1e-15)
    assert result.end_time == pytest.approx(0.45) and result.terminated_by == ("stp",)
    assert result.end_reason.endswith("at t=0.45 s; the run stopped there and its result ends "
                                      "at t=0.4 s")


def test_other_components_end_with_the_terminating_one(test_fmus, fmi_version):
    system = stopper_system(test_fmus("stopper", fmi_version), 0.3)
    system.add("g", twins.path("gain", fmi_version), parameters={"k": 2.0})
    system.connect("stp.x", "g.u")
    result = cosim.simulate(system, stop_time=1.0, step_size=0.1, algorithm="gauss-seidel")
    np.testing.assert_allclose(result.time, [0.0, 0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(result["g.y"], 2.0 * result["stp.x"], rtol=1e-12)
    assert result.stats["g"].steps == 3


def test_step_wise_api_raises_and_then_refuses_to_step(test_fmus, fmi_version):
    path = test_fmus("stopper", fmi_version)
    with stopper_system(path, 0.2).start(stop_time=1.0, step_size=0.1) as sim:
        sim.step()
        with pytest.raises(SimulationTerminated) as caught:
            sim.step(5)
        error = caught.value
        assert (error.instance, error.request) == ("stp", REQUEST[fmi_version])
        assert error.time == pytest.approx(0.2) and error.result_end == pytest.approx(0.2)
        assert error.partial_result is sim.result
        np.testing.assert_allclose(sim.result.time, [0.0, 0.1, 0.2], atol=1e-12)
        with pytest.raises(ConfigurationError) as refused:
            sim.run_until(0.5)
        assert str(refused.value) == (
            f"the simulation has stopped: component 'stp' asked to terminate the simulation "
            f"({REQUEST[fmi_version]}) at t=0.2 s; the run stopped there and its result ends "
            "at t=0.2 s")


def test_a_run_that_reaches_its_stop_time_says_so(test_fmus):
    result = cosim.simulate(stopper_system(test_fmus("stopper", "2.0"), 5.0), stop_time=1.0,
                            step_size=0.1)
    assert result.end_time == pytest.approx(1.0) and result.terminated_by == ()
    assert result.end_reason == "reached the stop time"


def test_an_fmi2_discard_that_does_not_say_it_terminates_is_an_error(test_fmus):
    # Without fmi2GetBooleanStatus the discard cannot be told from a failed step.
    path = test_fmus("stopper_without_status", "2.0")
    with pytest.raises(cosim.FmiCallError) as caught:
        cosim.simulate(stopper_system(path, 0.5), stop_time=1.0, step_size=0.1)
    assert str(caught.value).startswith("component 'stp': fmi2DoStep returned discard at t=0.4 s")
    np.testing.assert_allclose(caught.value.partial_result.time, np.arange(5) / 10, atol=1e-12)


def test_cli_run_prints_a_notice_and_succeeds(test_fmus, fmi_version, tmp_path, capsys):
    out = tmp_path / "out.csv"
    code = main(["run", str(test_fmus("stopper", fmi_version)), "--stop-time", "1",
                 "--step-size", "0.1", "--parameter", "end_at=0.5", "--output", str(out)])
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"note: component 'stopper' asked to terminate the simulation "
                      f"({REQUEST[fmi_version]}) at t=0.5 s; the run stopped there and its result "
                      "ends at t=0.5 s")
    assert err[1].startswith("ran 1 component(s) to t=0.5 s in 5 steps")
    on_disk = np.genfromtxt(out, delimiter=",", names=True)
    np.testing.assert_allclose(on_disk["time"], np.arange(6) / 10, atol=1e-12)
    np.testing.assert_allclose(on_disk["x"], np.arange(6) / 10, atol=1e-12)
