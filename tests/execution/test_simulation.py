"""System.simulate and System.start through the public API, on the twin FMUs."""

import csv
import re

import numpy as np
import pytest

import cosim
from cosim import ConfigurationError, FmiCallError, PythonComponent, System, twins


def gain(system, name, version="2.0", **parameters):
    system.add(name, twins.path("gain", version), parameters=parameters)


def source(system, name, version="2.0", **parameters):
    system.add(name, twins.path("source", version), parameters=parameters)


def two_gains(version="2.0"):
    """g1 (input u unconnected, start 0.7) -> g2."""
    system = System("two")
    gain(system, "g1", version, k=2.0, u=0.7)
    gain(system, "g2", version, k=3.0)
    system.connect("g1.y", "g2.u")
    return system


# -- many instances of one FMU ------------------------------------------------------------------

def spindles(version, setpoints, *, from_sources=()):
    """One spindle per setpoint; those numbered in ``from_sources`` get it from a source FMU."""
    system = System("spindles")
    for i, setpoint in enumerate(setpoints):
        if i in from_sources:
            system.add(f"s{i}", twins.path("spindle", version))
            source(system, f"sp{i}", version, waveform=0, amplitude=setpoint, offset=0.0)
            system.connect(f"sp{i}.y", f"s{i}.speed_setpoint")
        else:
            system.add(f"s{i}", twins.path("spindle", version),
                       parameters={"speed_setpoint": setpoint})
    return system


def test_twenty_spindles_reach_their_own_speeds(fmi_version):
    setpoints = [500.0 * (i + 1) for i in range(20)]
    record = [f"s{i}.speed" for i in range(20)]
    system = spindles(fmi_version, setpoints, from_sources=range(1, 20, 2))
    result = system.simulate(stop_time=2.0, step_size=0.01, record=record)
    final = np.array([result[name][-1] for name in record])
    np.testing.assert_allclose(final, setpoints, rtol=1e-2)
    assert len(set(final)) == 20
    # Each instance behaves exactly as a spindle that runs alone with its
    # setpoint as a parameter, whether the system gave it a parameter or a source.
    for i in (0, 9, 19):
        alone = spindles(fmi_version, [setpoints[i]]).simulate(stop_time=2.0, step_size=0.01,
                                                               record=["s0.speed"])
        np.testing.assert_array_equal(result[f"s{i}.speed"], alone["s0.speed"])


def test_fifty_gains_on_one_source_keep_their_own_k(fmi_version):
    system = System("fan_out")
    source(system, "one", fmi_version, waveform=0, amplitude=1.0, offset=0.0)
    for i in range(50):
        gain(system, f"g{i}", fmi_version, k=float(i - 25), b=0.125 * i)
        system.connect("one.y", f"g{i}.u")
    result = system.simulate(stop_time=0.5, step_size=0.1, algorithm="gauss-seidel",
                             record=[f"g{i}.y" for i in range(50)])
    assert len(result) == 6
    for i in range(50):
        np.testing.assert_array_equal(result[f"g{i}.y"], (i - 25) * 1.0 + 0.125 * i)


# -- Jacobi and Gauss-Seidel ----------------------------------------------------------------------

def step_chain(version):
    """A unit step at t=0.3 through gains 2, 3 and 5, added last-to-first."""
    system = System("step_chain")
    gain(system, "g3", version, k=5.0)
    gain(system, "g2", version, k=3.0)
    gain(system, "g1", version, k=2.0)
    source(system, "src", version, waveform=1, amplitude=1.0, offset=0.0, start_time=0.25)
    system.connect("src.y", "g1.u")
    system.connect("g1.y", "g2.u")
    system.connect("g2.y", "g3.u")
    return system


def delayed(value, n_first, rows=10):
    return np.where(np.arange(rows) >= n_first, value, 0.0)


def test_jacobi_delays_one_step_per_link(fmi_version):
    result = step_chain(fmi_version).simulate(stop_time=0.9, step_size=0.1, algorithm="jacobi",
                                              record=["src.y", "g1.y", "g2.y", "g3.y"])
    np.testing.assert_array_equal(result["src.y"], delayed(1.0, 3))
    np.testing.assert_array_equal(result["g1.y"], delayed(2.0, 4))
    np.testing.assert_array_equal(result["g2.y"], delayed(6.0, 5))
    np.testing.assert_array_equal(result["g3.y"], delayed(30.0, 6))


def test_gauss_seidel_propagates_within_the_step(fmi_version):
    system = step_chain(fmi_version)
    assert cosim.execution_order(system) == ["src", "g1", "g2", "g3"]
    result = system.simulate(stop_time=0.9, step_size=0.1, algorithm="gauss-seidel",
                             record=["src.y", "g1.y", "g2.y", "g3.y"])
    np.testing.assert_array_equal(result["src.y"], delayed(1.0, 3))
    np.testing.assert_array_equal(result["g1.y"], delayed(2.0, 3))
    np.testing.assert_array_equal(result["g2.y"], delayed(6.0, 3))
    np.testing.assert_array_equal(result["g3.y"], delayed(30.0, 3))


def test_initialization_propagates_through_the_chain(fmi_version):
    # A source that is already on at t0: every gain starts at its steady value.
    system = step_chain(fmi_version)
    system.set_parameter("src.start_time", 0.0)
    result = system.simulate(stop_time=0.1, step_size=0.1, record=["g1.y", "g2.y", "g3.y"])
    assert (result["g1.y"][0], result["g2.y"][0], result["g3.y"][0]) == (2.0, 6.0, 30.0)


# -- step-wise control ---------------------------------------------------------------------------

Y1 = 2.0 * 0.7              # g1.y for its start input
Y2 = 3.0 * Y1               # g2.y fed by it


@pytest.mark.parametrize("algorithm, g2_expected", [
    ("jacobi", [Y2] * 5 + [9.0] * 4),          # g2 sees g1's new output one step later
    ("gauss-seidel", [Y2] * 4 + [9.0] * 5),
])
def test_step_set_get_run_until_stop(fmi_version, algorithm, g2_expected):
    sim = two_gains(fmi_version).start(step_size=0.1, stop_time=1.0, algorithm=algorithm,
                                       record=["g1.u", "g1.y", "g2.y"])
    assert sim.time == 0.0
    assert sim.step(3) == 3 * 0.1
    assert sim.time == 3 * 0.1
    assert sim.get("g1.y") == Y1
    sim.set("g1.u", 1.5)                      # an unconnected input
    assert sim.get("g1.u") == 1.5
    assert sim.get("g1.y") == 3.0             # feeds through without a step
    assert sim.get("g2.y") == Y2
    sim.step(2)
    assert sim.get("g2.y") == 9.0
    assert sim.run_until(0.75) == 8 * 0.1
    assert sim.time == 8 * 0.1
    result = sim.stop()
    assert isinstance(result, cosim.Result)
    np.testing.assert_array_equal(result.time, [k * 0.1 for k in range(9)])
    np.testing.assert_array_equal(result["g1.u"], [0.7] * 4 + [1.5] * 5)
    np.testing.assert_array_equal(result["g1.y"], [Y1] * 4 + [3.0] * 5)
    np.testing.assert_array_equal(result["g2.y"], g2_expected)


@pytest.mark.parametrize("name, why", [
    ("g2.u", "driven by g1.y"),        # a connected input
    ("g1.y", "output"),                # an output
    ("g1.k", "fixed parameter"),       # a fixed parameter
])
def test_set_refuses_what_cannot_be_set(name, why):
    with two_gains().start(step_size=0.1, stop_time=1.0) as sim:
        sim.step()
        with pytest.raises(ConfigurationError, match=re.escape(name)) as info:
            sim.set(name, 1.0)
        assert why in str(info.value)
        sim.step()                                  # the simulation goes on
        assert sim.get("g2.y") == Y2


def test_stepping_past_the_stop_time_is_refused():
    sim = two_gains().start(step_size=0.1, stop_time=1.0)
    with pytest.raises(ConfigurationError, match="stop time"):
        sim.step(11)
    assert sim.time == 0.0
    assert sim.step(10) == 1.0
    with pytest.raises(ConfigurationError, match="stop time"):
        sim.step()
    assert sim.run_until(5.0) == 1.0
    assert len(sim.stop()) == 11


@pytest.mark.parametrize("use", [
    lambda sim: sim.step(),
    lambda sim: sim.run_until(0.5),
    lambda sim: sim.run(),
    lambda sim: sim.get("g1.y"),
    lambda sim: sim.set("g1.u", 1.0),
], ids=["step", "run_until", "run", "get", "set"])
def test_a_stopped_simulation_refuses_to_be_used(use):
    sim = two_gains().start(step_size=0.1, stop_time=1.0)
    sim.step(2)
    result = sim.stop()
    with pytest.raises(ConfigurationError, match="stopped"):
        use(sim)
    assert sim.stop() is result                   # stopping again is harmless
    assert len(result) == 3


# -- recording ------------------------------------------------------------------------------------

def test_record_selects_columns_in_the_given_order():
    system = step_chain("2.0")
    result = system.simulate(stop_time=0.5, step_size=0.1, record=["g3.y", "src.y"])
    assert result.names == ["g3.y", "src.y"]
    assert "g1.y" not in result
    with pytest.raises(KeyError):
        result["g1.y"]


def test_default_record_is_every_output():
    system = step_chain("2.0")
    result = system.simulate(stop_time=0.5, step_size=0.1)
    assert sorted(result.names) == ["g1.y", "g2.y", "g3.y", "src.y"]


def test_recording_an_unconnected_input_and_a_parameter():
    sim = two_gains().start(step_size=0.1, stop_time=1.0, record=["g1.u", "g1.k", "g2.y"])
    sim.step(2)
    sim.set("g1.u", 1.25)
    sim.step(2)
    result = sim.stop()
    np.testing.assert_array_equal(result["g1.u"], [0.7, 0.7, 0.7, 1.25, 1.25])
    np.testing.assert_array_equal(result["g1.k"], 2.0)


@pytest.mark.parametrize("name, unknown, hint", [
    ("g1.yy", "'yy'", "'y'"),
    ("g11.y", "'g11'", "'g1'"),
    ("g1.ku", "'ku'", "'k'"),
])
def test_recording_an_unknown_name_suggests_a_close_match(name, unknown, hint):
    with pytest.raises(ConfigurationError) as info:
        two_gains().simulate(stop_time=1.0, step_size=0.1, record=["g2.y", name])
    message = str(info.value)
    assert unknown in message
    assert hint in message.partition("did you mean")[2]


def test_record_needs_component_and_variable():
    with pytest.raises(ConfigurationError, match="component.variable"):
        two_gains().simulate(stop_time=1.0, step_size=0.1, record=["g1"])


def test_a_recorded_connected_input_is_the_value_the_component_holds():
    system = System("ramp")
    source(system, "src", waveform=2, amplitude=1.0, offset=0.0, start_time=0.0, duration=1.0)
    gain(system, "g", k=1.0)
    system.connect("src.y", "g.u")
    sim = system.start(step_size=0.1, stop_time=1.0, record=["g.u", "g.y"])
    sim.step(3)
    held = sim.get("g.u")
    result = sim.stop()
    assert result["g.u"][-1] == held
    np.testing.assert_array_equal(result["g.y"], result["g.u"])


# -- output file ----------------------------------------------------------------------------------

def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.mark.parametrize("output_interval", [None, 0.3])
def test_output_file_holds_the_result(tmp_path, output_interval):
    path = tmp_path / "run.csv"
    record = ["src.y", "g3.y", "g1.u"]
    result = step_chain("2.0").simulate(stop_time=0.9, step_size=0.1, record=record,
                                        output_interval=output_interval, output_file=path)
    header, data = read_csv(path)
    assert header == ["time", *record]
    assert len(result) == (10 if output_interval is None else 4)
    np.testing.assert_array_equal(data[:, 0], result.time)
    for i, name in enumerate(record):
        np.testing.assert_array_equal(data[:, i + 1], result[name])
    assert np.ptp(data[:, 2]) > 0


def test_output_file_of_a_stepped_simulation(tmp_path):
    path = tmp_path / "stepped.csv"
    sim = two_gains().start(step_size=0.1, stop_time=1.0, record=["g1.u", "g2.y"],
                            output_file=path)
    sim.step(2)
    sim.set("g1.u", -1.0)
    sim.step(3)
    result = sim.stop()
    header, data = read_csv(path)
    assert header == ["time", "g1.u", "g2.y"]
    np.testing.assert_array_equal(data, np.column_stack([result.time, result["g1.u"], result["g2.y"]]))
    assert data[-1, 2] == -6.0


# -- Python components -----------------------------------------------------------------------------

class PyGain(PythonComponent):
    """y = k*u + b, like the gain FMU."""
    parameters = {"k": 1.0, "b": 0.0}
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = self["k"] * self["u"] + self["b"]

    def do_step(self, t, h):
        self.update_outputs()


class PyIntegrator(PythonComponent):
    """y = integral of u (explicit Euler, exact for a held input); no feedthrough."""
    inputs = {"u": 0.0}
    outputs = {"y": ()}

    def do_step(self, t, h):
        self["y"] = self["y"] + self["u"] * h


BOOM = RuntimeError("sensor link lost")


class Exploding(PyGain):
    """A gain whose step fails from t = 0.3 on."""

    def do_step(self, t, h):
        if t >= 0.3:
            raise BOOM
        super().do_step(t, h)


def sandwich(middle, version):
    """sine source -> gain FMU -> middle -> gain FMU."""
    system = System("sandwich")
    source(system, "src", version, waveform=3, amplitude=1.0, offset=0.25, start_time=0.0,
           frequency=2.0)
    gain(system, "first", version, k=1.5, b=-0.5)
    system.add("middle", middle, parameters={"k": -2.5, "b": 0.75})
    gain(system, "last", version, k=0.5, b=1.0)
    system.connect("src.y", "first.u")
    system.connect("first.y", "middle.u")
    system.connect("middle.y", "last.u")
    return system


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_python_gain_between_fmus_matches_the_gain_fmu(fmi_version, algorithm):
    options = dict(stop_time=1.0, step_size=0.01, algorithm=algorithm,
                   record=["middle.y", "last.y"])
    python = sandwich(PyGain, fmi_version).simulate(**options)
    fmu = sandwich(twins.path("gain", fmi_version), fmi_version).simulate(**options)
    for name in options["record"]:
        np.testing.assert_array_equal(python[name], fmu[name], err_msg=name)
    assert np.ptp(python["last.y"]) > 0


def test_python_integrator_in_the_loop():
    system = System("integrate")
    source(system, "rate", waveform=0, amplitude=2.0, offset=0.0)
    system.add("integ", PyIntegrator)
    gain(system, "half", k=0.5)
    system.connect("rate.y", "integ.u")
    system.connect("integ.y", "half.u")
    options = dict(stop_time=1.0, step_size=0.1, algorithm="gauss-seidel",
                   record=["integ.y", "half.y"])
    first = system.simulate(**options)
    np.testing.assert_allclose(first["integ.y"], 2.0 * first.time, rtol=0, atol=1e-12)
    np.testing.assert_allclose(first["half.y"], first.time, rtol=0, atol=1e-12)
    # Each run starts from the pristine component, not from the last run's state.
    second = system.simulate(**options)
    np.testing.assert_array_equal(first["integ.y"], second["integ.y"])


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_an_exception_in_a_python_step_becomes_an_fmi_call_error(algorithm):
    with pytest.raises(FmiCallError) as info:
        sandwich(Exploding, "2.0").simulate(stop_time=1.0, step_size=0.1, algorithm=algorithm)
    error = info.value
    assert error.instance == "middle"
    assert error.time == 3 * 0.1
    assert "'middle'" in str(error) and "t=0.3" in str(error)
    assert "sensor link lost" in str(error)
    assert error.__cause__ is BOOM
    np.testing.assert_array_equal(error.partial_result.time, [k * 0.1 for k in range(4)])


# -- the time grid ---------------------------------------------------------------------------------

def integrating_pi():
    """A PI controller with kp=0, ki=1 and a unit error: u(t) = t - t0."""
    system = System("clock")
    system.add("pi", twins.path("pi_controller"),
               parameters={"kp": 0.0, "ki": 1.0, "setpoint": 1.0, "measurement": 0.0})
    return system


def test_times_are_t0_plus_n_h_as_fmpy_forms_them():
    result = integrating_pi().simulate(stop_time=2.0, step_size=0.1)
    assert result.time[3] == 3 * 0.1 == 0.30000000000000004     # not 0.3: n*h, as fmpy
    np.testing.assert_array_equal(result.time, [k * 0.1 for k in range(21)])


def test_a_stop_time_off_the_grid_ends_with_a_shorter_step():
    result = integrating_pi().simulate(stop_time=1.05, step_size=0.1)
    np.testing.assert_array_equal(result.time, [k * 0.1 for k in range(11)] + [1.05])
    u = result["pi.u"]
    assert u[-1] - u[-2] == pytest.approx(0.05, abs=1e-12)      # the last step was 0.05 s long
    assert u[-1] == pytest.approx(1.05, abs=1e-12)


def test_a_start_time_other_than_zero():
    result = integrating_pi().simulate(start_time=0.3, stop_time=1.0, step_size=0.1)
    np.testing.assert_array_equal(result.time, [0.3 + k * 0.1 for k in range(7)] + [1.0])
    np.testing.assert_allclose(result["pi.u"], result.time - 0.3, rtol=0, atol=1e-12)


# -- bad options -----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(step_size=0.0), "step_size"),
    (dict(step_size=-0.1), "step_size"),
    (dict(stop_time=0.0), "stop_time"),
    (dict(start_time=2.0), "stop_time"),
    (dict(output_interval=0.15), "output_interval"),
    (dict(output_interval=0.0), "output_interval"),
    (dict(algorithm="newton"), "jacobi, gauss-seidel"),
    (dict(step_size=1e-300), "below the resolution of time"),
    (dict(step_size=float("inf")), "step_size"),
    (dict(step_size=float("nan")), "step_size"),
    (dict(step_size="0.1"), "step_size"),
    (dict(stop_time=float("inf")), "stop_time"),
    (dict(output_interval=float("nan")), "output_interval"),
    (dict(variable_step=True, min_step=0.5, max_step=0.2), "min_step"),
    (dict(variable_step=True, min_step=-1.0), "min_step"),
], ids=["zero_step", "negative_step", "stop_at_start", "stop_before_start", "interval_off_grid",
        "zero_interval", "unknown_algorithm", "too_many_steps", "infinite_step", "nan_step",
        "text_step", "infinite_stop", "nan_interval", "min_above_max", "negative_min_step"])
def test_bad_options_are_refused(options, message):
    arguments = dict(stop_time=1.0, step_size=0.1) | options
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        two_gains().simulate(**arguments)


class TwoPaths(PythonComponent):
    """Two independent feedthrough paths: y1 = u1 + 1, y2 = 2*u2."""
    inputs = {"u1": 0.0, "u2": 0.0}
    outputs = {"y1": ("u1",), "y2": ("u2",)}

    def update_outputs(self):
        self["y1"] = self["u1"] + 1.0
        self["y2"] = 2.0 * self["u2"]

    def do_step(self, t, h):
        self.update_outputs()


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_initial_values_settle_along_chains_that_cross_between_components(algorithm):
    # a.u1 -> a.y1 -> b.u1 -> b.y1 -> a.u2 -> a.y2 -> b.u2 -> b.y2: no loop, but the
    # chain goes back and forth, so one pass over the components cannot settle it.
    system = System("crossing")
    system.add("a", TwoPaths)
    system.add("b", TwoPaths)
    system.connect("a.y1", "b.u1")
    system.connect("b.y1", "a.u2")
    system.connect("a.y2", "b.u2")
    assert cosim.algebraic_loops(system) == []
    result = system.simulate(stop_time=0.2, step_size=0.1, algorithm=algorithm)
    assert result["a.y1"][0] == 1.0
    assert result["b.y1"][0] == 2.0
    assert result["a.y2"][0] == 4.0
    assert result["b.y2"][0] == 8.0


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_restore_returns_to_the_snapshot_and_replays_exactly(algorithm, fmi_version):
    system = System("s")
    system.add("spindle", twins.path("spindle", fmi_version))
    system.add("furnace", twins.path("furnace", fmi_version))
    system.add("load", twins.path("gain", fmi_version), parameters={"k": 0.01})
    system.connect("furnace.energy", "load.u")
    system.connect("load.y", "spindle.load_torque")
    straight = system.simulate(stop_time=60.0, step_size=1.0, algorithm=algorithm)

    sim = system.start(stop_time=60.0, step_size=1.0, algorithm=algorithm)
    sim.run_until(20.0)
    snapshot = sim.snapshot()
    sim.set("spindle.speed_setpoint", 3000.0)        # a detour that the restore undoes
    sim.run_until(45.0)
    sim.restore(snapshot)
    assert sim.time == 20.0 and sim.step_index == 20
    assert sim.result.time[-1] == 20.0
    setpoint = system.model("spindle").variables["speed_setpoint"].start
    sim.set("spindle.speed_setpoint", setpoint)       # inputs set by hand are the caller's
    result = sim.run()
    sim.stop()
    assert np.array_equal(result.time, straight.time)
    for name in straight.names:
        assert np.array_equal(result[name], straight[name]), name


def test_restore_refuses_a_snapshot_of_another_simulation():
    system = two_gains()
    first = system.start(stop_time=1.0, step_size=0.1)
    second = system.start(stop_time=1.0, step_size=0.1)
    snapshot = first.snapshot()
    with pytest.raises(ConfigurationError, match="another simulation"):
        second.restore(snapshot)
    first.stop()
    second.stop()
