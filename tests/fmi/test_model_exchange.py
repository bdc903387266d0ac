"""Model exchange FMUs as components: integrated by a solver, with events.

The bouncing ball test model (tests/fmus/bouncing_ball) is built from one C
source as a model exchange FMU and as a co-simulation FMU that integrates the
same equations with fine RK4 substeps and bisection for its events.  The
model exchange build must match its co-simulation twin and the analytic
solution of free flight with linear drag:

    v(t) = (v0 + g/d) exp(-d t) - g/d
    h(t) = h0 - g t / d + (v0 + g/d) (1 - exp(-d t)) / d
"""

import math
import re
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import cosim
from cosim import ConfigurationError, FmiCallError, ModelError, Solver, System, SystemStructureError
from cosim.fmi._binding import Instance, Library
from cosim.fmi.archive import FmuArchive, read_model

ROOT = Path(__file__).resolve().parents[2]
G, D, E = 9.81, 0.1, 0.7          # the model's defaults
STEP = 0.01


@pytest.fixture(scope="module")
def ball_me(test_fmus):
    return test_fmus("bouncing_ball", model_exchange=True)


@pytest.fixture(scope="module")
def ball_cs(test_fmus):
    return test_fmus("bouncing_ball")


def flight(t, h0, v0):
    """(h, v) after t seconds of free flight with drag from (h0, v0)."""
    decay = math.exp(-D * t)
    v = (v0 + G / D) * decay - G / D
    h = h0 - G * t / D + (v0 + G / D) * (1.0 - decay) / D
    return h, v


def first_bounce():
    """Exact time and impact velocity of the first bounce from h0 = 1 m at rest."""
    t_b = brentq(lambda t: flight(t, 1.0, 0.0)[0], 0.1, 1.0, xtol=1e-15)
    return t_b, flight(t_b, 1.0, 0.0)[1]


def run_ball(path, *, stop_time=3.0, parameters=None, **add):
    system = System("ball")
    system.add("ball", path, parameters=parameters or {}, **add)
    return cosim.simulate(system, stop_time=stop_time, step_size=STEP, threads=1)


# -- the model exchange build against its co-simulation twin ---------------------------

@pytest.mark.parametrize("method", ["cvode", "bdf", "lsoda", "radau", "rk45"])
def test_model_exchange_build_matches_its_cosimulation_twin(ball_me, ball_cs, method):
    """Bounces and a kick over 3 s: heights agree within 1e-4 m, velocities within
    5e-4 m/s at every communication point, and the bounce count exactly."""
    kicked = {"kick_time": 2.0, "kick": 3.0}
    me = run_ball(ball_me, parameters=kicked, solver=Solver(method=method, rtol=1e-8))
    cs = run_ball(ball_cs, parameters=kicked)
    np.testing.assert_array_equal(me.time, cs.time)
    assert np.max(np.abs(me["ball.h"] - cs["ball.h"])) < 1e-4
    assert np.max(np.abs(me["ball.v"] - cs["ball.v"])) < 5e-4
    np.testing.assert_array_equal(me["ball.bounces"], cs["ball.bounces"])
    assert cs["ball.bounces"][-1] >= 5


def test_default_solver_is_cvode_and_agrees_within_its_tolerance(ball_me, ball_cs):
    system = System()
    system.add("ball", ball_me)
    assert system.model("ball").interface == "model-exchange"
    assert system.solver("ball") == Solver()
    assert Solver().method == "cvode" and Solver().rtol == 1e-6
    me, cs = run_ball(ball_me), run_ball(ball_cs)
    assert np.max(np.abs(me["ball.h"] - cs["ball.h"])) < 1e-3
    np.testing.assert_array_equal(me["ball.bounces"], cs["ball.bounces"])


@pytest.mark.parametrize("method", ["cvode", "radau"])
def test_state_event_is_located_in_time_and_resets_the_state(ball_me, method):
    """The first bounce happens at the exact time (within 1e-6 s) and the ball
    leaves the floor at e times the impact speed."""
    t_b, v_impact = first_bounce()
    result = run_ball(ball_me, stop_time=1.0, solver=Solver(method=method, rtol=1e-9))
    after = int(np.argmax(result["ball.bounces"] > 0))
    assert result.time[after - 1] < t_b <= result.time[after]
    t_c, h_c, v_c = result.time[after], result["ball.h"][after], result["ball.v"][after]

    def rebound(t_event):
        """(h, v) at t_c had the bounce happened at t_event."""
        return flight(t_c - t_event, 0.0, -E * flight(t_event, 1.0, 0.0)[1])

    assert h_c == pytest.approx(rebound(t_b)[0], abs=1e-6)
    assert v_c == pytest.approx(rebound(t_b)[1], abs=1e-6)
    # The bounce time that explains the observed velocity.
    t_seen = brentq(lambda t: rebound(t)[1] - v_c, t_b - 1e-3, t_b + 1e-3, xtol=1e-14)
    assert abs(t_seen - t_b) < 1e-6
    assert v_impact < 0


@pytest.mark.parametrize("method", ["cvode", "lsoda"])
def test_time_event_happens_at_its_time_between_communication_points(ball_me, method):
    """A kick of 3 m/s at t = 1.234 s (inside the step from 1.23 to 1.24): at 1.24 the
    velocity differs from the unkicked run by exactly the kick decayed by drag over
    6 ms, and the height by its integral; a kick taken at 1.24 instead would give
    a 3 m/s difference and no height difference."""
    solver = Solver(method=method, rtol=1e-10)
    base = run_ball(ball_me, stop_time=1.3, solver=solver)
    kicked = run_ball(ball_me, stop_time=1.3, solver=solver,
                      parameters={"kick_time": 1.234, "kick": 3.0})
    k = int(round(1.24 / STEP))
    assert kicked.time[k] == pytest.approx(1.24)
    assert base["ball.bounces"][k] == kicked["ball.bounces"][k] == base["ball.bounces"][k - 2]
    assert min(base["ball.h"][k - 1:k + 1].min(), kicked["ball.h"][k - 1:k + 1].min()) > 0
    np.testing.assert_array_equal(base["ball.v"][:k], kicked["ball.v"][:k])
    dt = 1.24 - 1.234
    assert kicked["ball.v"][k] - base["ball.v"][k] == pytest.approx(3.0 * math.exp(-D * dt), abs=1e-7)
    assert kicked["ball.h"][k] - base["ball.h"][k] == pytest.approx(
        3.0 * (1 - math.exp(-D * dt)) / D, abs=1e-7)


def test_input_change_between_steps_triggers_an_event(ball_me, ball_cs):
    """A resting ball (indicator z1 = g - u > 0) lifts off when u is set above g:
    both builds see the event at the communication point and agree after it."""
    states = []
    for path in (ball_me, ball_cs):
        system = System()
        system.add("ball", path, parameters={"e": 0.5, "v_min": 0.5})
        with system.start(step_size=STEP, stop_time=4.0) as sim:
            sim.run_until(2.0)
            assert (sim.get("ball.h"), sim.get("ball.v")) == (0.0, 0.0)       # resting
            sim.set("ball.u", G + 1.0)
            sim.run_until(3.0)
            states.append((sim.get("ball.h"), sim.get("ball.v")))
    # One second of net 1 m/s^2 upwards with drag, from rest.
    v_exact = (1.0 / D) * (1 - math.exp(-D))
    h_exact = (1.0 / D) * 1.0 - (1.0 / D) * (1 - math.exp(-D)) / D
    for h, v in states:
        assert v == pytest.approx(v_exact, abs=1e-5)
        assert h == pytest.approx(h_exact, abs=1e-5)


# -- in a system with co-simulation FMUs -------------------------------------------------

@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_mixed_with_cosimulation_fmus(ball_me, ball_cs, algorithm):
    """A co-simulation gain drives the ball's input and another reads its height;
    the model exchange ball gives the same system result as its twin."""
    results = {}
    for label, path in (("me", ball_me), ("cs", ball_cs)):
        system = System("mixed")
        system.add("lift", cosim.twins.path("gain"), parameters={"b": 2.0})
        system.add("ball", path)
        system.add("meter", cosim.twins.path("gain"), parameters={"k": 2.0})
        system.connect("lift.y", "ball.u")
        system.connect("ball.h", "meter.u")
        results[label] = cosim.simulate(system, stop_time=2.0, step_size=STEP, algorithm=algorithm,
                                        threads=1, record=["ball.h", "ball.bounces", "meter.y"])
    me, cs = results["me"], results["cs"]
    assert np.max(np.abs(me["meter.y"] - cs["meter.y"])) < 2e-3
    np.testing.assert_array_equal(me["ball.bounces"], cs["ball.bounces"])
    if algorithm == "gauss-seidel":
        np.testing.assert_allclose(me["meter.y"], 2.0 * me["ball.h"], rtol=0, atol=1e-15)
    # Net downward acceleration 9.81 - 2: the first bounce comes later than at 1 g.
    t_first = me.time[int(np.argmax(me["ball.bounces"] > 0))]
    assert t_first > first_bounce()[0] + 0.05


def test_nested_model_exchange_component_keeps_its_solver(ball_me, ball_cs):
    line = System("line")
    line.add("ball", ball_me, solver=Solver(method="radau", rtol=1e-8))
    line.add_port("height", "output", unit="m")
    line.connect("ball.h", "height")
    plant = System("plant")
    plant.add("line", line)
    flat = cosim.flatten(plant)
    assert flat.solver("line.ball") == Solver(method="radau", rtol=1e-8)
    result = cosim.simulate(plant, stop_time=1.0, step_size=STEP, threads=1)
    twin = run_ball(ball_cs, stop_time=1.0)
    assert np.max(np.abs(result["line.height"] - twin["ball.h"])) < 1e-4


def test_cli_info_describes_the_model_exchange_interface(ball_me, capsys):
    from cosim.cli import main

    assert main(["info", str(ball_me)]) == 0
    out = capsys.readouterr().out
    assert "FMI 2.0 model exchange" in out
    assert "2 continuous states, 2 event indicators" in out


# -- state -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["cvode", "radau"])
def test_snapshot_restore_replays_identically(ball_me, method):
    system = System()
    system.add("ball", ball_me, solver=method, parameters={"kick_time": 1.234, "kick": 2.0})
    with system.start(step_size=STEP, stop_time=3.0, threads=1) as sim:
        sim.run_until(0.3)
        snapshot = sim.snapshot()
        sim.run_until(2.0)                          # bounces and the kick
        first = sim.result.since(0)
        sim.restore(snapshot)
        assert sim.time == pytest.approx(0.3)
        sim.run_until(2.0)
        again = sim.result.since(0)
        saved_at_2 = sim.save_state()
        sim.run_until(2.5)
        continued = sim.result.since(0)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[1][:, 0].max() > 0.5 and np.ptp(first[1][:, 2]) >= 3

    # A saved (serialized) state continues identically in another simulation.
    with system.start(step_size=STEP, stop_time=3.0, threads=1) as other:
        other.load_state(saved_at_2)
        other.run_until(2.5)
        times, rows = other.result.since(0)
    keep = continued[0] >= 2.0 - 1e-12
    np.testing.assert_array_equal(times, continued[0][keep])
    np.testing.assert_array_equal(rows, continued[1][keep])


# -- FMUs offering both interfaces ------------------------------------------------------

def test_fmu_with_both_interfaces_uses_cosimulation_unless_asked(tmp_path):
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    both = builder["build_fmu"](ROOT / "tests" / "fmus" / "bouncing_ball", "2.0",
                                tmp_path / "ball_both.fmu",
                                interfaces=("co-simulation", "model-exchange"))
    model = read_model(both)
    assert model.interfaces == ("co-simulation", "model-exchange")
    assert model.interface == "co-simulation"
    system = System()
    system.add("cs", both)
    system.add("me", both, interface="model-exchange", solver={"method": "cvode", "rtol": 1e-8})
    assert system.model("cs").interface == "co-simulation" and system.solver("cs") is None
    assert system.model("me").interface == "model-exchange"
    assert system.model("me").number_of_states == 2
    assert system.model("me").number_of_event_indicators == 2
    result = cosim.simulate(system, stop_time=2.0, step_size=STEP, threads=1)
    assert np.max(np.abs(result["me.h"] - result["cs.h"])) < 1e-4
    np.testing.assert_array_equal(result["me.bounces"], result["cs.bounces"])


# -- bad input ---------------------------------------------------------------------------

def rewrite_description(source, target, edit):
    """Copy an FMU with its modelDescription.xml passed through ``edit``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "modelDescription.xml":
                data = edit(data.decode()).encode()
            zout.writestr(info.filename, data)
    return target


def test_fmu_with_neither_interface_is_a_model_error(ball_me, tmp_path):
    bad = rewrite_description(ball_me, tmp_path / "no_interface.fmu",
                              lambda xml: re.sub(r"<ModelExchange [^>]*/>", "", xml))
    with pytest.raises(ModelError, match=re.escape(str(bad))) as info:
        System().add("ball", bad)
    assert "neither co-simulation nor model exchange" in str(info.value)


def test_fmi3_model_exchange_is_not_supported(test_fmus, tmp_path):
    bad = rewrite_description(test_fmus("bouncing_ball", "3.0"), tmp_path / "me3.fmu",
                              lambda xml: re.sub(r"<CoSimulation [^>]*/>",
                                                 '<ModelExchange modelIdentifier="bouncing_ball"/>', xml))
    with pytest.raises(ModelError, match=re.escape(str(bad))) as info:
        System().add("ball", bad)
    assert "FMI 3.0 model exchange is not supported" in str(info.value)


def test_interface_the_fmu_does_not_offer(tmp_path):
    gain = cosim.twins.path("gain")
    with pytest.raises(ModelError, match="does not offer model-exchange") as info:
        System().add("g", gain, interface="model-exchange")
    assert str(gain) in str(info.value)
    with pytest.raises(ModelError, match="interface must be one of"):
        System().add("g", gain, interface="modelexchange")


def test_bad_solver_options(ball_me, ball_cs):
    with pytest.raises(ConfigurationError, match="component 'ball'.*euler"):
        System().add("ball", ball_me, solver="euler")
    with pytest.raises(ConfigurationError, match="rtol must be a positive number"):
        System().add("ball", ball_me, solver={"rtol": -1.0})
    with pytest.raises(ConfigurationError, match="unexpected keyword"):
        System().add("ball", ball_me, solver={"method": "cvode", "tolerance": 1e-6})
    with pytest.raises(SystemStructureError, match="solver= is for model exchange components"):
        System().add("ball", ball_cs, solver="cvode")

    class Nothing(cosim.PythonComponent):
        def do_step(self, t, h):
            pass

    with pytest.raises(SystemStructureError, match="FMU files only"):
        System().add("p", Nothing, interface="model-exchange")


@pytest.mark.parametrize("method", ["cvode", "radau"])
def test_failing_derivatives_name_component_function_and_time(ball_me, method):
    with pytest.raises(FmiCallError) as info:
        run_ball(ball_me, stop_time=1.0, solver=method, parameters={"fail_time": 0.5})
    error = info.value
    assert error.instance == "ball"
    assert error.function == "fmi2GetDerivatives"
    assert 0.5 < error.time <= 0.5 + STEP
    assert "fail_time=0.5" in str(error) and "component 'ball'" in str(error)
    partial = error.partial_result
    assert partial.time[-1] == pytest.approx(0.5) and len(partial.time) == 51


def test_invalid_parameter_fails_initialization_naming_it(ball_me):
    with pytest.raises(FmiCallError) as info:
        run_ball(ball_me, parameters={"g": -1.0})
    assert info.value.function == "fmi2ExitInitializationMode"
    assert info.value.instance == "ball"
    assert "g must be > 0, got -1" in str(info.value)


def test_binding_keeps_the_interfaces_apart(ball_me):
    archive = FmuArchive(ball_me)
    try:
        with pytest.raises(ModelError, match="does not export the required function fmi2DoStep"):
            Library(archive.binary, "2.0")
        library = Library(archive.binary, "2.0", interface="model-exchange")
        with pytest.raises(ModelError, match="loaded for model exchange; instantiate it with MEInstance"):
            Instance(archive, library, "ball")
        with pytest.raises(ModelError, match="FMI 3.0 model exchange is not supported"):
            Library(archive.binary, "3.0", interface="model-exchange")
    finally:
        archive.close()


# -- with the master's options, FMI 1.0 and defective binaries -------------------------------

def test_variable_step_falls_back_for_a_model_exchange_component(ball_me, ball_cs, caplog):
    system = System()
    system.add("me", ball_me, solver=Solver(rtol=1e-8))
    system.add("cs", ball_cs)
    result = cosim.simulate(system, stop_time=1.0, step_size=STEP, threads=1, variable_step=True)
    [fallback] = [r.getMessage() for r in caplog.records
                  if r.name == "cosim" and "variable_step" in r.getMessage()]
    assert "component 'me' (bouncing_ball): it is a model exchange component" in fallback
    assert f"running with the fixed step {STEP:g} s instead" in fallback
    np.testing.assert_allclose(np.diff(result.time), STEP, rtol=1e-9)
    assert np.max(np.abs(result["me.h"] - result["cs.h"])) < 1e-4
    assert result.stats["me"].steps == result.stats["cs"].steps == 100
    assert result.stats["me"].rollbacks == 0


def test_multi_rate_model_exchange_component_steps_like_a_cosimulation_one(ball_me, test_fmus):
    system = System()
    system.add("me", ball_me, solver=Solver(rtol=1e-8))
    system.add("cs", test_fmus("bouncing_ball", "3.0"))
    result = cosim.simulate(system, stop_time=1.0, step_size=STEP, threads=1,
                            step_multiples={"me": 2, "cs": 2})
    assert result.stats["me"].steps == result.stats["cs"].steps == 50
    # Both hold their outputs between their own steps.
    assert np.max(np.abs(result["me.h"] - result["cs.h"])) < 1e-4
    np.testing.assert_array_equal(result["me.h"][1::2], result["me.h"][0:-1:2])


def test_fmi1_build_of_a_hybrid_model_has_no_model_exchange(test_fmus, ball_cs):
    fmi1 = test_fmus("bouncing_ball", "1.0")
    model = read_model(fmi1)
    assert model.fmi_version == "1.0" and model.interfaces == ("co-simulation",)
    with pytest.raises(ModelError, match="does not offer model-exchange"):
        System().add("ball", fmi1, interface="model-exchange")
    np.testing.assert_array_equal(run_ball(fmi1, stop_time=1.0)["ball.h"],
                                  run_ball(ball_cs, stop_time=1.0)["ball.h"])


def test_model_exchange_binary_without_state_functions(tmp_path, caplog):
    # The bouncing ball, built for model exchange under a modelIdentifier that
    # is not its binary's name, with a binary that lacks the state functions.
    model_dir = tmp_path / "ball"
    source = ROOT / "tests" / "fmus" / "bouncing_ball"
    model_dir.mkdir()
    for name in ("model.c", "model.h"):
        (model_dir / name).write_bytes((source / name).read_bytes())
    toml = (source / "model.toml").read_text()
    head, variables = toml.split("[[variable]]", 1)
    (model_dir / "model.toml").write_text(
        head + '[quirks]\nmodel_identifier = "ball"\n'
        'hide_functions = ["GetFMUstate", "SetFMUstate"]\n\n[[variable]]' + variables)
    builder = runpy.run_path(str(ROOT / "fmus" / "build_fmus.py"))
    path = builder["build_fmu"](model_dir, "2.0", tmp_path / "bouncing_ball.fmu",
                                interfaces=("model-exchange",))
    system = System()
    system.add("ball", path, solver=Solver(rtol=1e-8))
    assert system.model("ball").interface == "model-exchange"
    assert system.model("ball").can_get_and_set_state        # what the description claims
    with system.start(step_size=STEP, stop_time=1.0, threads=1) as sim:
        messages = [r.getMessage() for r in caplog.records
                    if r.name == "cosim.fmu" and str(path) in r.getMessage()]
        assert any("using binaries/linux64/bouncing_ball.so, named after the FMU file" in m
                   for m in messages)
        assert any("canGetAndSetFMUstate is true but the binary does not export "
                   "fmi2GetFMUstate, fmi2SetFMUstate" in m for m in messages)
        with pytest.raises(ModelError) as info:
            sim.snapshot()
        assert str(info.value) == ("component 'ball' (bouncing_ball) cannot save its state (the FMU "
                                   "binary does not export fmi2GetFMUstate, fmi2SetFMUstate)")
        sim.run()
        h, v = flight(0.3, 1.0, 0.0)
        assert sim.result["ball.h"][30] == pytest.approx(h, abs=1e-5)
