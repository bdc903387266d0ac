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


def test_fmi2_termination_inside_a_variable_step_ends_where_the_fmu_asked(test_fmus):
    # The variable step grows past end_at; the FMU discards that step at 0.35.
    # The step is rolled back and taken again to end at 0.35, so the run ends
    # there with a row, as a fixed step that lands on 0.35 does.
    system = stopper_system(test_fmus("stopper", "2.0"), 0.35)
    result = cosim.simulate(system, stop_time=1.0, step_size=0.1, variable_step=True)
    fixed = cosim.simulate(system, stop_time=1.0, step_size=0.05)
    assert result.stats["stp"].rollbacks >= 1
    # at the FMU's fmi2LastSuccessfulTime, which it reaches by summing its steps
    assert result.time[-1] == pytest.approx(fixed.time[-1], abs=1e-9)
    assert result.time[-1] == pytest.approx(result.end_time, abs=1e-15)
    assert result["stp.x"][-1] == pytest.approx(fixed["stp.x"][-1], rel=1e-9)
    assert np.all(np.diff(result.time) > 0)
    assert result.end_time == pytest.approx(0.35) and result.terminated_by == ("stp",)
    assert result.end_reason == fixed.end_reason == (
        "component 'stp' asked to terminate the simulation (fmi2Terminated) at t=0.35 s; "
        "the run stopped there and its result ends at t=0.35 s")


def test_variable_step_termination_rolls_back_every_component(test_fmus):
    system = stopper_system(test_fmus("stopper", "2.0"), 0.35)
    system.add("g", twins.path("gain", "2.0"), parameters={"k": 2.0})
    system.connect("stp.x", "g.u")
    result = cosim.simulate(system, stop_time=1.0, step_size=0.1, variable_step=True,
                            algorithm="gauss-seidel", rtol=1.0, atol=1.0)
    assert result.stats["g"].rollbacks >= 1
    assert result.time[-1] == pytest.approx(0.35, abs=1e-9) == result.end_time
    assert result["g.y"][-1] == pytest.approx(2 * result["stp.x"][-1], rel=1e-12)
    assert result["stp.x"][-1] == pytest.approx(0.35, abs=1e-9)


def test_fmi3_termination_inside_a_variable_step_ends_at_its_end(test_fmus):
    # Without early return the FMU's step counts as complete, as with a fixed
    # step: the result ends at the step's end, which is where the run ended.
    result = cosim.simulate(stopper_system(test_fmus("stopper", "3.0"), 0.35), stop_time=1.0,
                            step_size=0.1, variable_step=True)
    assert result["stp.x"][-1] == pytest.approx(0.35)
    assert result.end_time == pytest.approx(result.time[-1])
    assert result.end_reason.endswith(f"at t={result.end_time:g} s; the run stopped there and "
                                      f"its result ends at t={result.end_time:g} s")


def multirate_stopper(path, fmi_version, end_at):
    system = stopper_system(path, end_at)
    system.add("g", twins.path("gain", fmi_version), parameters={"k": 2.0})
    system.connect("stp.x", "g.u")
    return system


def test_a_slow_component_ends_the_run_at_the_end_of_its_step(test_fmus, fmi_version):
    # stp steps 0.3 s at a time and asks at the end of its step 0.3..0.6; the
    # others run on to 0.6, so the result ends where it asked, as without
    # step multiples.
    system = multirate_stopper(test_fmus("stopper", fmi_version), fmi_version, 0.6)
    result = cosim.simulate(system, stop_time=1.0, step_size=0.1, step_multiples={"stp": 3})
    fixed = cosim.simulate(system, stop_time=1.0, step_size=0.1)
    np.testing.assert_allclose(result.time, fixed.time, rtol=0, atol=1e-12)
    assert result.time[-1] == pytest.approx(0.6) and result.end_time == pytest.approx(0.6)
    assert result["stp.x"][-1] == pytest.approx(fixed["stp.x"][-1], rel=1e-12)
    assert result.stats["g"].steps == 6 and result.stats["stp"].steps == 2
    assert result.end_reason == fixed.end_reason == (
        f"component 'stp' asked to terminate the simulation ({REQUEST[fmi_version]}) at "
        "t=0.6 s; the run stopped there and its result ends at t=0.6 s")


def test_a_slow_component_asking_inside_its_step(test_fmus, fmi_version):
    # FMI 3: the step 0.3..0.6 counts as complete, so the run ends at 0.6.
    # FMI 2: the step was discarded at 0.5, so the rows end at 0.3, the last
    # point every component completed, and the reason says both.
    system = multirate_stopper(test_fmus("stopper", fmi_version), fmi_version, 0.5)
    result = cosim.simulate(system, stop_time=1.0, step_size=0.1, step_multiples={"stp": 3})
    last, asked = (0.6, 0.6) if fmi_version == "3.0" else (0.3, 0.5)
    assert result.time[-1] == pytest.approx(last) and result.end_time == pytest.approx(asked)
    assert result["stp.x"][-1] == pytest.approx(0.5 if fmi_version == "3.0" else 0.3)
    assert result.end_reason.endswith(f"at t={asked:g} s; the run stopped there and its result "
                                      f"ends at t={last:g} s")


def test_step_wise_a_slow_components_request_takes_effect_at_its_step_end(test_fmus):
    system = multirate_stopper(test_fmus("stopper", "3.0"), "3.0", 0.6)
    with system.start(stop_time=1.0, step_size=0.1, step_multiples={"stp": 3}) as sim:
        sim.step(4)         # stp has asked at 0.6, at the end of the step it took at 0.3
        assert sim.time == pytest.approx(0.4)
        with pytest.raises(SimulationTerminated) as caught:
            sim.step(5)
        assert caught.value.time == pytest.approx(0.6)
        assert caught.value.result_end == pytest.approx(0.6)
        np.testing.assert_allclose(sim.result.time, np.arange(7) / 10, atol=1e-12)


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
