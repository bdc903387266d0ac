"""Master algorithms beyond the plain fixed step: algebraic loops, first-order
holds, multi-rate and variable steps, and the statistics that report them.

The two-mass oscillator (tests/fmus/mass) is split over two FMUs coupled by
positions; its exact solution comes from the matrix exponential of the
coupled linear system.
"""

import logging

import numpy as np
import pytest
import scipy.linalg

import cosim
from cosim import AlgebraicLoopError, ConfigurationError, PythonComponent, System, twins

# -- the split oscillator ------------------------------------------------------------------------

SLOW_DRIFT = ({"m": 1.0, "k": 400.0, "d": 8.0, "kc": 1.0, "x0": 1.0},      # fast, decays in ~1 s
              {"m": 50.0, "k": 1.0, "d": 50.0, "kc": 1.0, "x0": 1.0})      # slow creep
OSCILLATOR = ({"m": 1.0, "k": 1.0, "kc": 1.0, "x0": 1.0}, {"m": 1.0, "k": 2.0, "kc": 1.0})


def oscillator(path, parameters=OSCILLATOR):
    system = System("oscillator")
    system.add("a", path, parameters=parameters[0])
    system.add("b", path, parameters=parameters[1])
    system.connect("a.x", "b.x_other")
    system.connect("b.x", "a.x_other")
    return system


def exact(parameters, times):
    """Positions of both masses at ``times``."""
    a, b = ({"d": 0.0, "x0": 0.0, "v0": 0.0, **p} for p in parameters)
    kc = a["kc"]
    mass = np.diag([a["m"], b["m"]])
    stiffness = np.array([[a["k"] + kc, -kc], [-kc, b["k"] + kc]])
    damping = np.diag([a["d"], b["d"]])
    inverse = np.linalg.inv(mass)
    matrix = np.block([[np.zeros((2, 2)), np.eye(2)], [-inverse @ stiffness, -inverse @ damping]])
    start = np.array([a["x0"], b["x0"], a["v0"], b["v0"]])
    return np.array([(scipy.linalg.expm(matrix * t) @ start)[:2] for t in np.atleast_1d(times)])


def max_error(result, parameters):
    times = np.linspace(0.0, result.time[-1], 301)
    reference = exact(parameters, times)
    return max(np.abs(np.interp(times, result.time, result["a.x"]) - reference[:, 0]).max(),
               np.abs(np.interp(times, result.time, result["b.x"]) - reference[:, 1]).max())


# -- convergence order of the holds ----------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
@pytest.mark.parametrize("extrapolation, order", [("zoh", 1.0), ("foh", 2.0)])
def test_the_error_falls_with_the_step_at_the_order_of_the_hold(test_fmus, fmi_version, algorithm,
                                                                extrapolation, order):
    # FMI 2 masses take the slope as an input derivative; FMI 3 has no input
    # derivatives in co-simulation, so they get the hold's mean over the step.
    path = test_fmus("mass", fmi_version)
    stop = 5.0
    errors = []
    for h in (0.02, 0.01, 0.005):
        result = cosim.simulate(oscillator(path), stop_time=stop, step_size=h,
                                algorithm=algorithm, extrapolation=extrapolation)
        errors.append(abs(result["a.x"][-1] - exact(OSCILLATOR, stop)[0, 0]))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders == pytest.approx([order, order], abs=0.15), errors


def test_first_order_hold_beats_zero_order_hold_at_the_same_step(test_fmus):
    path = test_fmus("mass")
    zoh = cosim.simulate(oscillator(path), stop_time=5.0, step_size=0.01)
    foh = cosim.simulate(oscillator(path), stop_time=5.0, step_size=0.01, extrapolation="foh")
    assert max_error(foh, OSCILLATOR) < max_error(zoh, OSCILLATOR) / 20


def test_an_unknown_extrapolation_is_refused(test_fmus):
    with pytest.raises(ConfigurationError, match="extrapolation must be one of zoh, foh, got 'cubic'"):
        cosim.simulate(oscillator(test_fmus("mass")), stop_time=1.0, step_size=0.1,
                       extrapolation="cubic")


# -- algebraic loops ---------------------------------------------------------------------------------

def gain_ring(k1, k2, b1=1.0, b2=0.5, version="2.0"):
    """ya = k1*yb + b1, yb = k2*ya + b2: ya = (k1*b2 + b1) / (1 - k1*k2)."""
    system = System("ring")
    system.add("a", twins.path("gain", version), parameters={"k": k1, "b": b1})
    system.add("b", twins.path("gain", version), parameters={"k": k2, "b": b2})
    system.connect("a.y", "b.u")
    system.connect("b.y", "a.u")
    return system


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
@pytest.mark.parametrize("k1, k2", [(0.5, 0.8), (-0.9, 0.9)], ids=["contracting", "alternating"])
def test_a_contracting_loop_converges_by_fixed_point_iteration(fmi_version, algorithm, k1, k2):
    result = cosim.simulate(gain_ring(k1, k2, version=fmi_version), stop_time=0.5, step_size=0.1,
                            algorithm=algorithm)
    ya = (k1 * 0.5 + 1.0) / (1 - k1 * k2)
    assert result["a.y"] == pytest.approx([ya] * 6, rel=1e-9)     # from the initial point on
    assert result["b.y"] == pytest.approx([k2 * ya + 0.5] * 6, rel=1e-9)
    assert result.stats["a"].loop_iterations > 6


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_diverging_loop_is_solved_by_newton(algorithm):
    # |k1*k2| = 6: fixed-point sweeps run away, Newton's method finds the point.
    result = cosim.simulate(gain_ring(2.0, 3.0), stop_time=0.5, step_size=0.1, algorithm=algorithm)
    assert result["a.y"] == pytest.approx([-0.4] * 6, rel=1e-9)
    assert result["b.y"] == pytest.approx([-0.7] * 6, rel=1e-9)


def test_a_singular_loop_names_its_members_and_residuals():
    # k1*k2 = 1 with offsets: ya = 2*(0.5*ya + 0.5) + 1 = ya + 2 has no solution.
    with pytest.raises(AlgebraicLoopError) as caught:
        cosim.simulate(gain_ring(2.0, 0.5), stop_time=1.0, step_size=0.1)
    error = caught.value
    assert "algebraic loop through a, b did not converge at t=0 s" in str(error)
    assert "residuals: a.y=" in str(error) and "b.y=" in str(error)
    assert error.loops == [["a", "b"]]
    assert set(error.residuals) == {"a.y", "b.y"}
    assert max(abs(r) for r in error.residuals.values()) > 0.1
    assert error.time == 0.0


class Adder(PythonComponent):
    inputs = {"u1": 0.0, "u2": 0.0}
    outputs = {"y": ("u1", "u2")}

    def update_outputs(self):
        self["y"] = self["u1"] + self["u2"]

    def do_step(self, t, h):
        self.update_outputs()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_loop_fed_from_outside_feeds_the_rest_of_the_system(algorithm):
    # src (2) -> sum; sum <-> g (k=0.5) is the loop; g -> c (k=10) downstream.
    # sum.y = 2 + 0.5*sum.y = 4, g.y = 2, c.y = 20.  The loop has a Python unit.
    system = System("fed")
    system.add("src", twins.path("source"), parameters={"waveform": 0, "amplitude": 2.0})
    system.add("sum", Adder())
    system.add("g", twins.path("gain"), parameters={"k": 0.5})
    system.add("c", twins.path("gain"), parameters={"k": 10.0})
    system.connect("src.y", "sum.u1")
    system.connect("sum.y", "g.u")
    system.connect("g.y", "sum.u2")
    system.connect("g.y", "c.u")
    assert cosim.execution_order(system) == ["src", "sum", "g", "c"]
    result = cosim.simulate(system, stop_time=0.3, step_size=0.1, algorithm=algorithm)
    assert result["sum.y"] == pytest.approx([4.0] * 4, rel=1e-9)
    assert result["c.y"] == pytest.approx([20.0] * 4, rel=1e-9)


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_loop_that_needed_newton_goes_straight_to_it_at_later_points(algorithm):
    # Diverging sweeps cost at least four iterations per point before Newton
    # takes over; a loop that remembers needing Newton checks the point with one
    # sweep (and a step with its kept Jacobian when the point moved).
    result = cosim.simulate(gain_ring(2.0, 3.0), stop_time=10.0, step_size=0.1,
                            algorithm=algorithm)
    assert result["a.y"] == pytest.approx([-0.4] * 101, rel=1e-9)
    assert result["b.y"] == pytest.approx([-0.7] * 101, rel=1e-9)
    stats = result.stats["a"]
    assert stats.newton_solves > 90
    assert stats.loop_iterations < 2 * 101
    assert result.stats["b"].newton_solves == stats.newton_solves


class Summer(PythonComponent):
    inputs = {"u1": 0.0, "u2": 0.0}
    outputs = {"y": ("u1", "u2")}

    def update_outputs(self):
        self["y"] = self["u1"] + self["u2"]

    def do_step(self, t, h):
        self.update_outputs()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_a_moving_diverging_loop_takes_few_iterations_per_point(algorithm):
    # sum.y = src.y + 2*sum.y, so sum.y = -src.y: a diverging loop whose
    # solution moves with the sine at every point.
    system = System("moving")
    system.add("src", twins.path("source"), parameters={"waveform": 3, "amplitude": 2.0,
                                                       "frequency": 1.0})
    system.add("sum", Summer())
    system.add("g", twins.path("gain"), parameters={"k": 2.0})
    system.connect("src.y", "sum.u1")
    system.connect("sum.y", "g.u")
    system.connect("g.y", "sum.u2")
    result = cosim.simulate(system, stop_time=5.0, step_size=0.01, algorithm=algorithm, threads=1)
    assert np.ptp(result["src.y"]) > 3.9
    assert result["sum.y"] == pytest.approx(-result["src.y"], abs=1e-9)
    assert result["g.y"] == pytest.approx(-2 * result["src.y"], abs=1e-9)
    assert result.stats["g"].loop_iterations < 3 * 501


class Counter(PythonComponent):
    """n_out = min(n_in + 1, limit): a discrete loop through it settles at the limit."""
    parameters = {"limit": 3}
    inputs = {"n_in": 0}
    outputs = {"n_out": ("n_in",)}
    output_types = {"n_out": "int32"}

    def update_outputs(self):
        self["n_out"] = min(int(self["n_in"]) + 1, self["limit"])

    def do_step(self, t, h):
        self.update_outputs()


class Relay(PythonComponent):
    """Passes an integer and a flag on at once (direct feedthrough)."""
    inputs = {"n_in": 0, "flag_in": False}
    outputs = {"n_out": ("n_in",), "flag_out": ("flag_in",)}
    output_types = {"n_out": "int32", "flag_out": "bool"}

    def update_outputs(self):
        self["n_out"] = int(self["n_in"])
        self["flag_out"] = bool(self["flag_in"])

    def do_step(self, t, h):
        self.update_outputs()


class Toggle(PythonComponent):
    """flag_out = not flag_in: a loop through it has no consistent value."""
    inputs = {"flag_in": False}
    outputs = {"flag_out": ("flag_in",)}
    output_types = {"flag_out": "bool"}

    def update_outputs(self):
        self["flag_out"] = not self["flag_in"]

    def do_step(self, t, h):
        self.update_outputs()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_integer_values_of_a_loop_are_swept_until_they_repeat(algorithm):
    system = System("counting")
    system.add("count", Counter())
    system.add("relay", Relay())
    system.connect("count.n_out", "relay.n_in")
    system.connect("relay.n_out", "count.n_in")
    result = cosim.simulate(system, stop_time=0.3, step_size=0.1, algorithm=algorithm)
    assert list(result["count.n_out"]) == [3] * 4      # from the initial point on
    assert list(result["relay.n_out"]) == [3] * 4


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_an_oscillating_boolean_loop_names_its_values(algorithm):
    system = System("flipping")
    system.add("toggle", Toggle())
    system.add("relay", Relay())
    system.connect("toggle.flag_out", "relay.flag_in")
    system.connect("relay.flag_out", "toggle.flag_in")
    with pytest.raises(AlgebraicLoopError) as caught:
        cosim.simulate(system, stop_time=0.3, step_size=0.1, algorithm=algorithm,
                       loop_max_iterations=7)
    error = caught.value
    assert ("algebraic loop through toggle, relay did not converge at t=0 s: its "
            "integer/boolean values still change after 7 sweep(s)") in str(error)
    assert "relay.flag_out: " in str(error) and "toggle.flag_out: " in str(error)
    assert set(error.residuals) == {"relay.flag_out", "toggle.flag_out"}
    assert error.loops == [["toggle", "relay"]]


class Doubling(PythonComponent):
    """y = 2*u + 1 (a diverging float loop) and n_out = n_in + 1 (never settles)."""
    inputs = {"u": 0.0, "n_in": 0}
    outputs = {"y": ("u", "n_in"), "n_out": ("u", "n_in")}
    output_types = {"n_out": "int32"}

    def update_outputs(self):
        self["y"] = 2.0 * self["u"] + 1.0
        self["n_out"] = int(self["n_in"]) + 1

    def do_step(self, t, h):
        self.update_outputs()


class Through(PythonComponent):
    inputs = {"u": 0.0, "n_in": 0}
    outputs = {"y": ("u",), "n_out": ("n_in",)}
    output_types = {"n_out": "int32"}

    def update_outputs(self):
        self["y"] = self["u"]
        self["n_out"] = int(self["n_in"])

    def do_step(self, t, h):
        self.update_outputs()


def test_a_loop_solved_by_newton_still_needs_its_integers_to_settle():
    system = System("mixed")
    system.add("d", Doubling())
    system.add("t", Through())
    system.connect("d.y", "t.u")
    system.connect("t.y", "d.u")
    system.connect("d.n_out", "t.n_in")
    system.connect("t.n_out", "d.n_in")
    with pytest.raises(AlgebraicLoopError, match=r"algebraic loop through d, t did not converge "
                                                 r"at t=0 s: its integer/boolean values still "
                                                 r"change .*d\.n_out: \d+ -> \d+"):
        cosim.simulate(system, stop_time=0.3, step_size=0.1)


def test_loop_options_are_checked():
    for options, message in (({"loop_tolerance": 0.0}, "loop_tolerance must be a positive number"),
                             ({"loop_max_iterations": 0}, "loop_max_iterations must be a positive")):
        with pytest.raises(ConfigurationError, match=message):
            cosim.simulate(gain_ring(0.5, 0.5), stop_time=1.0, step_size=0.1, **options)


# -- multi-rate ----------------------------------------------------------------------------------------

def driven_mass(version="2.0", path=None):
    """A constant source (slow candidate) pushes a mass through its coupling spring."""
    system = System("driven")
    system.add("src", twins.path("source", version), parameters={"waveform": 0, "offset": 0.3})
    system.add("mass", path, parameters={"k": 4.0, "kc": 2.0, "d": 0.5})
    system.connect("src.y", "mass.x_other")
    return system


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_multi_rate_equals_single_rate_when_the_slow_output_is_constant(test_fmus, fmi_version,
                                                                       algorithm):
    path = test_fmus("mass", fmi_version)
    single = cosim.simulate(driven_mass(fmi_version, path), stop_time=2.0, step_size=0.01,
                            algorithm=algorithm)
    multi = cosim.simulate(driven_mass(fmi_version, path), stop_time=2.0, step_size=0.01,
                           algorithm=algorithm, step_multiples={"src": 7})
    assert np.array_equal(single.time, multi.time)
    assert np.array_equal(single["mass.x"], multi["mass.x"])
    assert np.array_equal(single["src.y"], multi["src.y"])
    assert multi.stats["mass"].steps == 200
    assert multi.stats["src"].steps == 29          # ceil(200 / 7): the last step is shorter


def test_a_slow_component_holds_its_inputs_and_shows_outputs_at_the_end_of_its_step(test_fmus):
    path = test_fmus("mass")
    result = cosim.simulate(oscillator(path), stop_time=1.0, step_size=0.01,
                            step_multiples={"b": 5})
    changes = np.flatnonzero(np.diff(result["b.x"]) != 0) + 1
    assert changes.size > 0 and np.all(changes % 5 == 0)
    assert result.stats["b"].steps == 20 and result.stats["a"].steps == 100
    # still the same physics: close to the single-rate run
    single = cosim.simulate(oscillator(path), stop_time=1.0, step_size=0.01)
    assert np.abs(single["a.x"] - result["a.x"]).max() < 0.01


@pytest.mark.parametrize("multiples, message", [
    ({"nobody": 2}, "step_multiples: no component 'nobody'"),
    ({"b": 0}, "step_multiples: b must step every whole number >= 1"),
    ({"b": 2.5}, "step_multiples: b must step every whole number >= 1"),
])
def test_bad_step_multiples_are_refused(test_fmus, multiples, message):
    with pytest.raises(ConfigurationError, match=message):
        cosim.simulate(oscillator(test_fmus("mass")), stop_time=1.0, step_size=0.1,
                       step_multiples=multiples)
    with pytest.raises(ConfigurationError, match="cannot be combined with variable_step"):
        cosim.simulate(oscillator(test_fmus("mass")), stop_time=1.0, step_size=0.1,
                       step_multiples={"b": 2}, variable_step=True)


# -- variable step ------------------------------------------------------------------------------------

def test_variable_step_matches_a_fine_fixed_step_with_far_fewer_steps(test_fmus):
    path = test_fmus("mass")
    fine = cosim.simulate(oscillator(path, SLOW_DRIFT), stop_time=60.0, step_size=0.001,
                          output_interval=0.1)
    varied = cosim.simulate(oscillator(path, SLOW_DRIFT), stop_time=60.0, step_size=0.001,
                            output_interval=0.1, variable_step=True, rtol=1e-2, atol=1e-5,
                            max_step=1.0)
    fine_error, varied_error = max_error(fine, SLOW_DRIFT), max_error(varied, SLOW_DRIFT)
    assert varied_error <= fine_error
    steps = varied.stats["a"].steps            # rejected steps included
    assert 3 * steps <= fine.stats["a"].steps, (steps, fine.stats["a"].steps)
    assert varied.stats["a"].rejected > 0
    assert varied.stats["a"].rollbacks == varied.stats["a"].rejected
    # rows on the output grid only, up to the stop time
    assert varied.time == pytest.approx(np.arange(601) * 0.1, abs=1e-9)


def test_variable_step_without_an_output_interval_records_every_accepted_step(test_fmus):
    with cosim.Simulation(oscillator(test_fmus("mass"), SLOW_DRIFT), stop_time=5.0,
                          step_size=0.01, variable_step=True, rtol=1e-2) as sim:
        sim.run()
        accepted = sim.step_index
    result = sim.result
    assert len(result) == accepted + 1
    steps = np.diff(result.time)
    assert np.all(steps > 0) and steps.max() > 5 * steps.min()
    assert result.time[-1] == 5.0


def test_variable_step_run_until_reaches_the_exact_time_and_replays_from_a_snapshot(test_fmus):
    system = oscillator(test_fmus("mass"), SLOW_DRIFT)
    with cosim.Simulation(system, stop_time=4.0, step_size=0.01, variable_step=True,
                          rtol=1e-2) as sim:
        assert sim.run_until(1.2345) == 1.2345
        snapshot = sim.snapshot()
        sim.run()
        first = sim.result["a.x"][-1], sim.stats["a"].steps
        sim.restore(snapshot)
        sim.run()
        assert sim.result["a.x"][-1] == first[0]
        with pytest.raises(ConfigurationError, match="with variable_step use run_until"):
            sim.step(1)


class Doubler(PythonComponent):
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = 2 * self["u"]

    def do_step(self, t, h):
        self.update_outputs()


def test_variable_step_falls_back_to_the_fixed_step_when_a_component_cannot_roll_back(
        test_fmus, caplog):
    system = oscillator(test_fmus("mass"))
    system.add("double", Doubler())
    system.connect("a.x", "double.u")
    with caplog.at_level(logging.WARNING, logger="cosim"):
        result = cosim.simulate(system, stop_time=1.0, step_size=0.1, variable_step=True)
    assert "variable_step: component 'double'" in caplog.text
    assert "running with the fixed step 0.1 s instead" in caplog.text
    fixed = cosim.simulate(system, stop_time=1.0, step_size=0.1)
    assert np.array_equal(result["a.x"], fixed["a.x"])


def test_variable_step_options_are_checked(test_fmus):
    system = oscillator(test_fmus("mass"))
    with pytest.raises(ConfigurationError, match="min_step .* must be at most max_step"):
        cosim.simulate(system, stop_time=1.0, step_size=0.1, variable_step=True,
                       min_step=0.5, max_step=0.1)
    with pytest.raises(ConfigurationError, match="rtol must be a positive number"):
        cosim.simulate(system, stop_time=1.0, step_size=0.1, variable_step=True, rtol=-1)


# -- statistics -----------------------------------------------------------------------------------------

def test_statistics_count_steps_and_time_them_only_when_profiling(test_fmus):
    path = test_fmus("mass")
    plain = cosim.simulate(oscillator(path), stop_time=1.0, step_size=0.01)
    assert plain.stats["a"] == cosim.ComponentStats(100, 0, 0, 0, 0.0)
    profiled = cosim.simulate(oscillator(path), stop_time=1.0, step_size=0.01, profile=True)
    assert profiled.stats["a"].steps == 100 and profiled.stats["b"].steps == 100
    assert profiled.stats["a"].step_time > 0 and profiled.stats["b"].step_time > 0
    assert np.array_equal(plain["a.x"], profiled["a.x"])


def test_cosim_run_profile_prints_the_table(test_fmus, tmp_path, capsys):
    from cosim.cli import main
    script = tmp_path / "osc.py"
    script.write_text("import cosim\n"
                      "system = cosim.System('osc')\n"
                      f"system.add('a', {str(test_fmus('mass'))!r}, parameters={{'x0': 1.0}})\n"
                      f"system.add('b', {str(test_fmus('mass'))!r})\n"
                      "system.connect('a.x', 'b.x_other')\n"
                      "system.connect('b.x', 'a.x_other')\n")
    assert main(["run", str(script), "--stop-time", "1", "--step-size", "0.01", "--profile",
                 "--extrapolation", "foh"]) == 0
    out = capsys.readouterr().out
    header, row_a, row_b, total = out.strip().splitlines()
    assert header.split()[:6] == ["component", "steps", "rejected", "rollbacks", "loop", "iter"]
    assert row_a.split()[:5] == ["a", "100", "0", "0", "0"]
    assert row_b.split()[0] == "b"
    assert total.startswith("do step took")


# -- FMI 3 features the master does not run ---------------------------------------------------------

def with_extra_variables(tmp_path, xml):
    """The FMI 3 gain with extra variables declared in its model description."""
    import zipfile
    source = twins.path("gain", "3.0")
    target = tmp_path / "gain_extra.fmu"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = data.replace(b"  </ModelVariables>", xml.encode() + b"\n  </ModelVariables>")
            zout.writestr(item, data)
    return target


def test_clocks_without_event_mode_are_refused_naming_the_fmu(tmp_path):
    path = with_extra_variables(tmp_path, '    <Clock name="tick" valueReference="92" '
                                          'causality="input" variability="discrete" '
                                          'intervalVariability="constant" intervalDecimal="0.1"/>')
    system = System("clocked")
    system.add("c", path)
    with pytest.raises(ConfigurationError, match=r"component 'c' \(.*gain_extra\.fmu\): it has "
                                                 r"clocks \(tick\) but no event mode"):
        cosim.simulate(system, stop_time=1.0, step_size=0.1)
