"""FMI 3.0 co-simulation event mode and early return, handled by the native master.

The test models are hybrid models whose FMI 3 glue (fmus/common/fmi3.c) can
stop fmi3DoStep at an event:

- ``bouncing_ball`` handles its bounces (state events) and kick (time
  event) inside fmi3DoStep; ``bouncing_ball_events`` is the same model with
  event mode, returning early at each event for the importer's event mode;
  ``bouncing_ball_early`` returns early after handling each event itself (no
  event mode); ``bouncing_ball_event_end`` has event mode without early
  return (events inside a step are handled at its end); and
  ``bouncing_ball_rogue`` asks for event handling without having event mode.
- ``sampler`` samples the integral of its input every 0.35 s whatever the
  communication step (time events); ``sampler_events`` has event mode.  Its
  ``stop_after`` parameter asks to terminate at that sample, ``stuck_time``
  makes its events never settle.
"""

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import cosim
from cosim import ConfigurationError, FmiCallError, SimulationTerminated, System, twins
from cosim.cli import main
from cosim.fmi.archive import read_model
from cosim.fmi.loader import load_fmu
from cosim.fmi.capabilities import with_binary_functions

ROOT = Path(__file__).resolve().parents[2]
G, D = 9.81, 0.1          # the ball's defaults


@pytest.fixture(scope="module")
def fmu(test_fmus):
    return lambda name: test_fmus(name, "3.0")


def ball_system(path, **parameters):
    system = System("drop")
    system.add("ball", path, parameters=parameters)
    return system


def sampler_system(path, **parameters):
    system = System("sampling")
    system.add("smp", path, parameters=parameters)
    return system


# -- model description ---------------------------------------------------------------------

def test_model_info_reads_event_mode_and_early_return(fmu):
    events = read_model(fmu("bouncing_ball_events"))
    assert events.has_event_mode and events.might_return_early
    early = read_model(fmu("bouncing_ball_early"))
    assert not early.has_event_mode and early.might_return_early
    end = read_model(fmu("bouncing_ball_event_end"))
    assert end.has_event_mode and not end.might_return_early
    for plain in (read_model(fmu("bouncing_ball")), read_model(twins.path("gain", "3.0")),
                  read_model(twins.path("gain", "2.0"))):
        assert not plain.has_event_mode and not plain.might_return_early


def test_model_exchange_interface_has_no_event_mode(test_fmus):
    model = read_model(test_fmus("bouncing_ball", "2.0", model_exchange=True))
    assert model.interface == "model-exchange"
    assert not model.has_event_mode and not model.might_return_early


def test_info_shows_event_mode_and_early_return(fmu, capsys):
    assert main(["info", str(fmu("bouncing_ball_events"))]) == 0
    out = capsys.readouterr().out
    assert "capabilities      get/set state, serialize state, variable step size, event mode, " \
           "early return from doStep" in out
    assert main(["info", str(fmu("bouncing_ball"))]) == 0
    assert "event mode" not in capsys.readouterr().out


def test_binary_without_event_functions_runs_without_event_mode(fmu):
    model = read_model(fmu("bouncing_ball_events"))
    corrected, warnings = with_binary_functions(model, {"fmi3UpdateDiscreteStates"})
    assert not corrected.has_event_mode and corrected.might_return_early
    assert warnings == ["hasEventMode is true but the binary does not export "
                        "fmi3UpdateDiscreteStates; it runs without event mode"]
    assert with_binary_functions(model, set()) == (model, [])


# -- same trajectories -----------------------------------------------------------------------

def first_contact(h0=1.0):
    """Analytic time of the first contact of a ball dropped from h0 with drag."""
    height = lambda t: h0 - G * t / D + (G / D) * (1 - math.exp(-D * t)) / D
    return brentq(height, 0.1, 2.0)


@pytest.mark.parametrize("variant", ["bouncing_ball_events", "bouncing_ball_early"])
def test_event_mode_and_early_return_give_the_internal_trajectory(fmu, variant):
    parameters = {"kick_time": 2.8123, "kick": 4.0}     # a time event after the ball rests
    ref = cosim.simulate(ball_system(fmu("bouncing_ball"), **parameters), stop_time=4.0,
                         step_size=0.01)
    got = cosim.simulate(ball_system(fmu(variant), **parameters), stop_time=4.0, step_size=0.01)
    np.testing.assert_array_equal(got.time, ref.time)
    # Bounces fall in the same communication steps, the first in the step
    # holding the analytic contact time; heights and speeds agree.
    np.testing.assert_array_equal(got["ball.bounces"], ref["ball.bounces"])
    first = int(np.argmax(got["ball.bounces"] > 0))
    assert got.time[first - 1] < first_contact() <= got.time[first]
    np.testing.assert_allclose(got["ball.h"], ref["ball.h"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["ball.v"], ref["ball.v"], rtol=0, atol=1e-9)
    bounces = int(ref["ball.bounces"][-1])
    assert bounces >= 13                                    # it bounced, rested, was kicked up
    assert got["ball.h"][got.time < 2.8].min() == 0.0 and got["ball.h"][got.time > 2.9].max() > 0.5
    stats = got.stats["ball"]
    assert stats.steps == 400
    if variant == "bouncing_ball_events":
        assert stats.events == bounces + 1            # every bounce and the kick
        assert stats.early_returns == bounces + 1     # none fell on a communication point
    else:
        assert stats.events == 0                      # handled inside the FMU
        assert stats.early_returns == bounces + 1
    plain = ref.stats["ball"]
    assert (plain.events, plain.early_returns) == (0, 0)


def test_long_steps_with_many_events_keep_the_communication_grid(fmu):
    """Steps of 0.5 s hold several bounces each: early returns are stepped on
    until each communication point is reached."""
    ref = cosim.simulate(ball_system(fmu("bouncing_ball")), stop_time=3.0, step_size=0.5)
    got = cosim.simulate(ball_system(fmu("bouncing_ball_events")), stop_time=3.0, step_size=0.5)
    np.testing.assert_array_equal(got.time, np.arange(7) * 0.5)
    np.testing.assert_array_equal(got["ball.bounces"], ref["ball.bounces"])
    np.testing.assert_allclose(got["ball.h"], ref["ball.h"], rtol=0, atol=1e-9)
    stats = got.stats["ball"]
    assert stats.steps == 6 and stats.events == ref["ball.bounces"][-1] > stats.steps


def test_events_at_the_end_of_a_step_without_early_return(fmu):
    """Event mode without early return: the FMU signals an event inside a step
    at the step's end, where it is handled; the ball never shows below the floor."""
    got = cosim.simulate(ball_system(fmu("bouncing_ball_event_end")), stop_time=3.0,
                         step_size=0.01)
    np.testing.assert_array_equal(got.time, np.arange(301) * 0.01)
    stats = got.stats["ball"]
    assert stats.early_returns == 0
    assert stats.events == got["ball.bounces"][-1] >= 10
    assert got["ball.h"].min() >= 0.0
    # Handled up to a step late: the first bounce is seen in the same step or the next.
    first = int(np.argmax(got["ball.bounces"] > 0))
    assert got.time[first - 2] < first_contact() <= got.time[first]


# -- time events and the communication grid --------------------------------------------------

def test_sampler_time_events_keep_the_grid_and_match_internal_events(fmu):
    ref = cosim.simulate(sampler_system(fmu("sampler")), stop_time=2.0, step_size=0.1)
    got = cosim.simulate(sampler_system(fmu("sampler_events")), stop_time=2.0, step_size=0.1)
    np.testing.assert_array_equal(got.time, np.arange(21) * 0.1)     # the grid, not the sample times
    np.testing.assert_array_equal(got.time, ref.time)
    np.testing.assert_allclose(got["smp.y"], ref["smp.y"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["smp.x"], got.time, rtol=0, atol=1e-12)
    # y holds x of the last multiple of 0.35 s (u = 1: x = t)
    expected = np.floor(got.time / 0.35 + 1e-9) * 0.35
    np.testing.assert_allclose(got["smp.y"], expected, rtol=0, atol=1e-12)
    stats = got.stats["smp"]
    assert stats.events == 5 and got["smp.samples"][-1] == 5          # 0.35, 0.7, ..., 1.75
    # Every sample time falls inside a step: even 2*0.35 = 0.7 and 4*0.35 = 1.4 come
    # a rounding error before the points 7*0.1 and 14*0.1 (t0 + n*h, as fmpy forms them).
    assert 2 * 0.35 < 7 * 0.1 and 4 * 0.35 < 14 * 0.1
    assert stats.early_returns == 5


def test_connected_sampler_feeds_the_sampled_value_downstream(fmu):
    for algorithm in ("jacobi", "gauss-seidel"):
        results = []
        for name in ("sampler", "sampler_events"):
            system = System("chain")
            system.add("src", twins.path("source", "3.0"),
                       parameters={"waveform": 1, "amplitude": 2.0, "offset": 0.5})
            system.add("smp", fmu(name))
            system.add("g", twins.path("gain", "3.0"), parameters={"k": 10.0})
            system.connect("src.y", "smp.u")
            system.connect("smp.y", "g.u")
            results.append(cosim.simulate(system, stop_time=3.0, step_size=0.05,
                                          algorithm=algorithm))
        ref, got = results
        np.testing.assert_allclose(got["g.y"], ref["g.y"], rtol=0, atol=1e-9)
        assert got.stats["smp"].events == 8 and ref.stats["smp"].events == 0
        assert np.ptp(got["g.y"]) > 1.0


def test_parallel_jacobi_counts_events_per_component(fmu):
    system = System("many")
    for k in range(4):
        system.add(f"b{k}", fmu("bouncing_ball_events"), parameters={"h0": 1.0 + k})
    serial = cosim.simulate(system, stop_time=3.0, step_size=0.01, threads=1)
    parallel = cosim.simulate(system, stop_time=3.0, step_size=0.01, threads=4)
    for k in range(4):
        np.testing.assert_array_equal(parallel[f"b{k}.h"], serial[f"b{k}.h"])
        assert parallel.stats[f"b{k}"].events == serial.stats[f"b{k}"].events > 0
    assert len({serial.stats[f"b{k}"].events for k in range(4)}) > 1


# -- failures ---------------------------------------------------------------------------------

def test_event_handling_asked_without_event_mode_is_an_error(fmu):
    with pytest.raises(FmiCallError) as caught:
        cosim.simulate(ball_system(fmu("bouncing_ball_rogue")), stop_time=3.0, step_size=0.01)
    error = caught.value
    assert error.instance == "ball" and error.function == "fmi3DoStep"
    assert "asked for event handling (eventHandlingNeeded) at t=0.4" in str(error)
    assert "instantiated without event mode (its hasEventMode is false)" in str(error)
    assert error.partial_result.time[-1] == pytest.approx(error.time)
    assert 0.4 <= error.time < first_contact()


def test_discrete_states_that_never_settle_are_an_error_naming_component_and_time(fmu):
    with pytest.raises(FmiCallError) as caught:
        cosim.simulate(sampler_system(fmu("sampler_events"), stuck_time=1.0), stop_time=2.0,
                       step_size=0.1)
    error = caught.value
    assert error.instance == "smp" and error.function == "fmi3UpdateDiscreteStates"
    assert str(error).startswith("component 'smp': fmi3UpdateDiscreteStates returned error at "
                                 "t=1 s: the discrete states did not settle at t=1.05 s")
    assert "after 100 calls" in str(error)
    np.testing.assert_array_equal(error.partial_result.time, np.arange(11) * 0.1)


def test_internal_events_that_never_settle_fail_inside_the_step(fmu):
    with pytest.raises(FmiCallError, match=r"component 'smp': fmi3DoStep returned error at "
                                           r"t=1 s: .*the model chatters"):
        cosim.simulate(sampler_system(fmu("sampler"), stuck_time=1.0), stop_time=2.0,
                       step_size=0.1)


def test_terminate_inside_a_step_ends_the_run_normally_and_keeps_the_result(fmu, tmp_path):
    out = tmp_path / "run.csv"
    result = cosim.simulate(sampler_system(fmu("sampler_events"), stop_after=3), stop_time=2.0,
                            step_size=0.1, output_file=out)
    assert result.terminated_by == ("smp",)
    assert result.end_time == pytest.approx(1.05)
    assert result.end_reason == ("component 'smp' asked to terminate the simulation "
                                 "(terminateSimulation) at t=1.05 s; the run stopped there and its "
                                 "result ends at t=1 s")
    # rows up to the last communication point every component completed
    np.testing.assert_array_equal(result.time, np.arange(11) * 0.1)
    assert result["smp.samples"][-1] == 2
    on_disk = np.genfromtxt(out, delimiter=",", names=True)
    np.testing.assert_array_equal(on_disk["time"], result.time)


def test_terminate_inside_a_step_raises_in_the_step_wise_api(fmu):
    with sampler_system(fmu("sampler_events"), stop_after=3).start(stop_time=2.0,
                                                                   step_size=0.1) as sim:
        with pytest.raises(SimulationTerminated) as caught:
            sim.run_until(2.0)
        error = caught.value
        assert error.instance == "smp" and error.instances == ("smp",)
        assert error.time == pytest.approx(1.05) and error.request == "terminateSimulation"
        assert error.partial_result is sim.result and sim.result.time[-1] == 1.0
        assert isinstance(error, cosim.CosimError)


def test_terminate_on_a_communication_point_records_that_point(fmu):
    # The second sample, at 2*0.35, falls exactly on point 4*0.175 (both 4*fl(0.175)).
    sim = cosim.Simulation(sampler_system(fmu("sampler_events"), stop_after=2), stop_time=2.0,
                           step_size=0.175, output_interval=0.525)
    with pytest.raises(SimulationTerminated) as caught:
        sim.run()
    error = caught.value
    assert error.time == 2 * 0.35 and error.result_end == 4 * 0.175
    # rows every 0.525 s, and the point where the run ended
    np.testing.assert_array_equal(sim.result.time, [0.0, 3 * 0.175, 4 * 0.175])
    assert sim.result["smp.samples"][-1] == 2
    assert sim.result.stats["smp"].events == 2
    with pytest.raises(ConfigurationError, match="the simulation has stopped: component 'smp' "
                                                 r"asked to terminate the simulation \(terminate"
                                                 r"Simulation\) at t=0.7 s"):
        sim.step()


def test_terminate_without_event_mode_ends_the_run_at_the_step_end(fmu):
    result = cosim.simulate(sampler_system(fmu("sampler"), stop_after=3), stop_time=2.0,
                            step_size=0.1)
    # handled inside the FMU, which finishes the step and asks at its end
    assert result.end_time == pytest.approx(1.1) and result.time[-1] == pytest.approx(1.1)
    assert result.terminated_by == ("smp",)


def test_terminate_during_initialization_events(fmu):
    with pytest.raises(SimulationTerminated) as caught:
        # starting on a sample time: the sample is due when initialization ends
        cosim.simulate(sampler_system(fmu("sampler_events"), stop_after=1), start_time=0.35,
                       stop_time=1.0, step_size=0.1)
    assert caught.value.instance == "smp" and caught.value.time == 0.35
    assert caught.value.partial_result.time.size == 0


def test_cli_profile_shows_events_and_early_returns(fmu, capsys):
    assert main(["run", str(fmu("bouncing_ball_events")), "--stop-time", "3", "--step-size",
                 "0.01", "--profile", "--quiet"]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split()[:7] == ["component", "steps", "rejected", "rollbacks", "loop", "iter",
                                  "events"]
    assert "early ret" in header
    fields = row.split()
    assert fields[1] == "300" and fields[5] == "13" and fields[6] == "13"


def test_cli_run_reports_termination_as_a_normal_end(fmu, tmp_path, capsys):
    code = main(["run", str(fmu("sampler_events")), "--stop-time", "2", "--step-size", "0.1",
                 "--quiet", "--output", str(tmp_path / "out.csv"),
                 "--parameter", "stop_after=3"])
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [
        "note: component 'sampler_events' asked to terminate the simulation (terminateSimulation) "
        "at t=1.05 s; the run stopped there and its result ends at t=1 s"]
    assert len(np.genfromtxt(tmp_path / "out.csv", delimiter=",", names=True)) == 11


# -- variable step, rollback, snapshots -------------------------------------------------------

def coupled_ball(path):
    """The ball's height drives a gain: the coupling error rises at every bounce."""
    system = System("coupled")
    system.add("ball", path)
    system.add("g", twins.path("gain", "3.0"), parameters={"k": 2.0})
    system.connect("ball.h", "g.u")
    return system


def test_variable_step_rolls_back_event_mode_fmus(fmu):
    options = dict(stop_time=3.0, step_size=0.01, variable_step=True, rtol=1e-3, atol=1e-4,
                   max_step=0.2)
    ref = cosim.simulate(coupled_ball(fmu("bouncing_ball")), **options)
    got = cosim.simulate(coupled_ball(fmu("bouncing_ball_events")), **options)
    stats = got.stats["ball"]
    assert stats.rollbacks > 0 and stats.events > 0 and stats.early_returns > 0
    # rolled back the same way as the internal build: the same steps, the same values
    np.testing.assert_array_equal(got.time, ref.time)
    np.testing.assert_allclose(got["ball.h"], ref["ball.h"], rtol=0, atol=1e-9)
    assert stats.rollbacks == ref.stats["ball"].rollbacks
    assert got["ball.bounces"][-1] == ref["ball.bounces"][-1] >= 10
    # events in rejected steps are counted too: more events than bounces
    assert stats.events > got["ball.bounces"][-1]


def test_snapshot_restore_and_saved_state_repeat_events(fmu):
    with cosim.Simulation(coupled_ball(fmu("bouncing_ball_events")), stop_time=3.0,
                          step_size=0.05) as sim:
        sim.run_until(0.6)
        snapshot = sim.snapshot()
        saved = sim.save_state()
        sim.run()
        first = sim.result["ball.h"].copy()
        events = sim.stats["ball"].events
        sim.restore(snapshot)
        sim.run()
        np.testing.assert_array_equal(sim.result["ball.h"], first)
        assert sim.stats["ball"].events > events        # the events came again
    with cosim.Simulation(coupled_ball(fmu("bouncing_ball_events")), stop_time=3.0,
                          step_size=0.05) as fresh:
        fresh.load_state(saved)
        fresh.run()
        np.testing.assert_array_equal(fresh.result["ball.h"], first[-len(fresh.result):])
        assert fresh.result.time[0] == pytest.approx(0.6)


# -- the binding ------------------------------------------------------------------------------

def test_instance_handles_events_and_early_returns_in_do_step(fmu):
    archive, library = load_fmu(fmu("bouncing_ball_events"))
    try:
        from cosim.fmi._binding import Instance
        inst = Instance(archive, library, "ball")
        assert inst.event_mode
        inst.setup_experiment(0.0)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        for k in range(30):
            inst.do_step(k * 0.1, 0.1)
        assert inst.time == pytest.approx(3.0)
        bounces = inst.get("int32", [inst.model.variables["bounces"].value_reference])[0]
        assert inst.events == inst.early_returns == bounces >= 10
        inst.terminate()
        inst.free()
    finally:
        archive.close()


def test_instance_without_event_mode_counts_nothing(fmu):
    archive, library = load_fmu(fmu("bouncing_ball"))
    try:
        from cosim.fmi._binding import Instance
        inst = Instance(archive, library, "ball")
        assert not inst.event_mode
        inst.setup_experiment(0.0)
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        inst.do_step(0.0, 1.0)
        assert (inst.events, inst.early_returns) == (0, 0)
        inst.free()
    finally:
        archive.close()


def test_instance_do_step_raises_when_the_fmu_terminates(fmu):
    archive, library = load_fmu(fmu("sampler_events"))
    try:
        from cosim.fmi._binding import Instance
        inst = Instance(archive, library, "smp")
        inst.setup_experiment(0.0)
        inst.set("float64", [3], [1.0])             # stop_after
        inst.enter_initialization_mode()
        inst.exit_initialization_mode()
        with pytest.raises(SimulationTerminated, match="component 'smp' asked to terminate") as caught:
            inst.do_step(0.0, 1.0)
        assert caught.value.time == pytest.approx(0.35) and inst.time == pytest.approx(0.35)
        inst.terminate()                            # allowed from event mode
        inst.free()
    finally:
        archive.close()


# -- building test FMUs with event mode: bad specs ---------------------------------------------

@pytest.fixture(scope="module")
def builder():
    return runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))


def write_model(folder, text):
    folder.mkdir()
    (folder / "model.toml").write_text(text)
    return folder


def test_event_flags_need_a_hybrid_model(builder, tmp_path):
    gain = (ROOT / "fmus" / "gain" / "model.toml").read_text()
    model = write_model(tmp_path / "gain", "has_event_mode = true\n" + gain)
    with pytest.raises(builder["SpecError"], match="has_event_mode need a hybrid model"):
        builder["load_spec"](model)


def test_event_flags_must_be_booleans(builder, tmp_path):
    model = write_model(tmp_path / "v", 'based_on = "bouncing_ball"\nname = "v"\n'
                                        'has_event_mode = "yes"\n')
    (tmp_path / "bouncing_ball").symlink_to(ROOT / "tests" / "fmus" / "bouncing_ball")
    with pytest.raises(builder["SpecError"], match="has_event_mode must be true or false"):
        builder["load_spec"](model)


def test_variants_name_an_existing_full_model(builder, tmp_path):
    missing = write_model(tmp_path / "a", 'based_on = "nowhere"\nname = "a"\n')
    with pytest.raises(builder["SpecError"], match="based_on must name a sibling model folder, "
                                                   "got 'nowhere'"):
        builder["load_spec"](missing)
    (tmp_path / "bouncing_ball").symlink_to(ROOT / "tests" / "fmus" / "bouncing_ball")
    chained = write_model(tmp_path / "b", 'based_on = "a"\nname = "b"\n')
    (tmp_path / "a" / "model.toml").write_text('based_on = "bouncing_ball"\nname = "a"\n')
    with pytest.raises(builder["SpecError"], match="a is itself a variant"):
        builder["load_spec"](chained)
    with_vars = write_model(tmp_path / "c", 'based_on = "bouncing_ball"\nname = "c"\n'
                                            '[[variable]]\nname = "x"\n')
    with pytest.raises(builder["SpecError"], match="takes its variables from bouncing_ball"):
        builder["load_spec"](with_vars)


def test_a_variant_has_its_own_token_and_the_base_equations(builder):
    base = builder["load_spec"](ROOT / "tests" / "fmus" / "bouncing_ball")
    variant = builder["load_spec"](ROOT / "tests" / "fmus" / "bouncing_ball_events")
    assert variant["guid"] != base["guid"]
    assert variant["source_dir"] == base["source_dir"]
    assert [v["name"] for v in variant["variable"]] == [v["name"] for v in base["variable"]]
    assert variant["has_event_mode"] and not base["has_event_mode"]
