"""FMI 3 array variables on connections: every element gets its own slot in
the loop's buffers, so values, holds, unit conversions, loops and records
work element by element.

The test models (tests/fmus/vector_source, vector_gain) compute their
outputs as explicit functions of time and inputs, so every expectation
below is written out by hand.
"""

import csv
import zipfile

import numpy as np
import pytest

import cosim
import reference_master
from cosim import (ConfigurationError, InvalidConnectionError, System, SystemStructureError,
                   twins)
from cosim.fmi.model import read_model_info

AMPLITUDE = np.array([1.0, 2.0, 3.0])
OMEGA = np.array([1.0, 2.0, 0.5])
K = np.array([2.0, -1.0, 0.5])
B = np.array([0.1, 0.2, 0.3])


def source_y(t):
    """vector_source.y at times t: shape (len(t), 3)."""
    return AMPLITUDE * np.sin(OMEGA * np.asarray(t)[:, None])


@pytest.fixture
def paths(test_fmus):
    return test_fmus("vector_source", "3.0"), test_fmus("vector_gain", "3.0")


def vector_system(paths, **connect):
    source, gain = paths
    system = System("vectors")
    system.add("src", source)
    system.add("g", gain, parameters={"k": K.tolist(), "b": B.tolist()})
    system.connect("src.y", "g.u", **connect)
    system.connect("src.grid", "g.w")
    system.connect("src.ticks", "g.ui")
    system.connect("src.positive", "g.flags")
    return system


def seen_by_gain(algorithm, t, h):
    """Source values the gain's inputs hold over the step ending at each t[n]
    (n >= 1): Jacobi sets them from the previous point, Gauss-Seidel from the
    source that has just stepped."""
    return source_y(t[:-1] if algorithm == "jacobi" else t[1:])


# -- values flow element by element -----------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_every_element_reaches_its_own_input(paths, algorithm):
    h = 0.05
    result = cosim.simulate(vector_system(paths), stop_time=1.0, step_size=h, algorithm=algorithm)
    t = result.time
    assert len(t) == 21
    np.testing.assert_allclose(result["src.y"], source_y(t), atol=1e-14)
    np.testing.assert_allclose(result["src.grid"][:, 1, :], 2 * source_y(t), atol=1e-14)
    u = seen_by_gain(algorithm, t, h)
    # y = k*u + b, element by element; row 0 is the initialization's exchange
    np.testing.assert_allclose(result["g.y"][1:], K * u + B, atol=1e-14)
    np.testing.assert_allclose(result["g.y"][0], K * source_y([0.0])[0] + B, atol=1e-14)
    # the 2-D input: w[r][c] = (r + 1)*y[c], weighted by (r + 1)*(c + 1)
    np.testing.assert_allclose(result["g.w_total"][1:], 5 * (u * [1, 2, 3]).sum(axis=1), atol=1e-13)
    # integer and boolean arrays
    ticks = np.floor(np.outer(t[:-1] if algorithm == "jacobi" else t[1:], [1, 2, 3]) + 1e-9)
    np.testing.assert_array_equal(result["g.yi"][1:], 2 * ticks)
    np.testing.assert_array_equal(result["g.count"][1:], (u > 0).sum(axis=1))
    # the integral of the held input: one value per element and step
    np.testing.assert_allclose(result["g.integral"][1:], np.cumsum(u * h, axis=0), atol=1e-13)
    assert np.ptp(result["g.y"], axis=0).min() > 0.1        # every element moves


def test_a_linear_transformation_applies_to_every_element(paths):
    result = cosim.simulate(vector_system(paths, factor=2.0, offset=1.0), stop_time=0.5,
                            step_size=0.05, algorithm="gauss-seidel")
    np.testing.assert_allclose(result["g.y"][1:], K * (2 * source_y(result.time[1:]) + 1) + B,
                               atol=1e-13)


def test_the_native_loop_matches_the_reference_master_on_arrays(paths):
    system = vector_system(paths)
    record = ["src.y", "g.y", "g.w_total", "g.yi", "g.integral"]
    for algorithm in ("jacobi", "gauss-seidel"):
        native = system.simulate(record=record, stop_time=0.6, step_size=0.02, algorithm=algorithm)
        reference = reference_master.simulate(system, record=record, stop_time=0.6,
                                              step_size=0.02, algorithm=algorithm)
        np.testing.assert_array_equal(native.time, reference["time"])
        for name in record:
            np.testing.assert_allclose(native[name], reference[name], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{algorithm}: {name}")


# -- first-order holds ------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_first_order_holds_work_per_element(paths, algorithm):
    # FMI 3 units take no input derivatives: each element is set to the hold's
    # mean over the step, which the gain's integral adds up exactly.
    h = 0.05
    result = cosim.simulate(vector_system(paths), stop_time=1.0, step_size=h, algorithm=algorithm,
                            extrapolation="foh", record=["g.y", "g.integral"])
    y = source_y(result.time)
    if algorithm == "jacobi":
        # extrapolated from the last two points; the first step has only one
        slope = np.vstack([np.zeros((1, 3)), np.diff(y, axis=0)[:-1] / h])
        held = y[:-1] + 0.5 * h * slope
    else:
        held = 0.5 * (y[:-1] + y[1:])        # interpolated: the source has stepped
    np.testing.assert_allclose(result["g.y"][1:], K * held + B, atol=1e-13)
    np.testing.assert_allclose(result["g.integral"][1:], np.cumsum(held * h, axis=0), atol=1e-13)


def test_first_order_holds_on_arrays_integrate_more_accurately(paths):
    exact = (AMPLITUDE / OMEGA) * (1 - np.cos(OMEGA * 1.0))     # integral of y over [0, 1]
    errors = {}
    for hold in ("zoh", "foh"):
        result = cosim.simulate(vector_system(paths), stop_time=1.0, step_size=0.02,
                                algorithm="gauss-seidel", extrapolation=hold, record=["g.integral"])
        errors[hold] = np.abs(result["g.integral"][-1] - exact)
    assert np.all(errors["foh"] < errors["zoh"] / 50), errors


# -- multi-rate, variable step, loops -----------------------------------------------------------

def test_a_slow_component_holds_every_element_over_its_step(paths):
    h = 0.05
    result = cosim.simulate(vector_system(paths), stop_time=1.0, step_size=h,
                            step_multiples={"g": 4}, record=["g.y", "g.integral"])
    t = result.time
    for row in range(len(t)):
        # the gain steps over [t[4j], t[4j + 4]] on the inputs of t[4j], and shows
        # the outputs at the window's end
        shown = max(4 * (row // 4) - 4, 0)
        np.testing.assert_allclose(result["g.y"][row], K * source_y([t[shown]])[0] + B,
                                   atol=1e-13, err_msg=f"row {row}")
    np.testing.assert_allclose(result["g.integral"][-1],
                               (source_y(t[0:-1:4]) * 4 * h).sum(axis=0), atol=1e-13)


def test_variable_steps_move_arrays_like_fixed_ones(paths):
    result = cosim.simulate(vector_system(paths), stop_time=2.0, step_size=0.01,
                            variable_step=True, rtol=1e-3, atol=1e-6, max_step=0.2,
                            record=["src.y", "g.y"])
    steps = np.diff(result.time)
    assert steps.max() > 2 * steps.min()                  # the control did vary the step
    # Jacobi: each row shows the gain of the source's previous point
    np.testing.assert_allclose(result["g.y"][1:], K * result["src.y"][:-1] + B, atol=1e-13)


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_an_algebraic_loop_through_arrays_is_solved_per_element(paths, algorithm):
    _, gain = paths
    k_a, b_a = np.array([0.5, -0.5, 2.0]), np.array([1.0, 2.0, 3.0])
    k_b, b_b = np.array([0.5, 1.0, 0.25]), np.array([0.5, -1.0, 2.0])
    system = System("loop")
    system.add("ga", gain, parameters={"k": k_a.tolist(), "b": b_a.tolist()})
    system.add("gb", gain, parameters={"k": k_b.tolist(), "b": b_b.tolist()})
    system.connect("ga.y", "gb.u")
    system.connect("gb.y", "ga.u")
    result = cosim.simulate(system, stop_time=0.3, step_size=0.1, algorithm=algorithm,
                            record=["ga.y", "gb.y"])
    u_a = (k_b * b_a + b_b) / (1 - k_a * k_b)
    for row in range(len(result.time)):
        np.testing.assert_allclose(result["ga.y"][row], k_a * u_a + b_a, rtol=1e-9)
        np.testing.assert_allclose(result["gb.y"][row], u_a, rtol=1e-9)


# -- values by name, snapshots ----------------------------------------------------------------------

def test_get_returns_arrays_and_set_takes_sequences(paths):
    _, gain = paths
    system = System("alone")
    system.add("g", gain)
    with system.start(stop_time=1.0, step_size=0.1) as sim:
        value = sim.get("g.k")
        assert isinstance(value, np.ndarray) and value.shape == (3,)
        np.testing.assert_array_equal(value, [2.0, -1.0, 0.5])
        sim.set("g.u", [1.0, 2.0, 3.0])
        sim.set("g.w", [[1, 0, 0], [0, 0, 1]])
        sim.set("g.flags", [True, False, True])
        sim.step()
        np.testing.assert_allclose(sim.get("g.y"), [2.0, -2.0, 1.5])
        assert sim.get("g.w").shape == (2, 3)
        assert sim.get("g.w_total") == pytest.approx(1 + 6)
        assert sim.get("g.count") == 2
        np.testing.assert_array_equal(sim.get("g.flags"), [True, False, True])
        sim.set("g.k", np.array([1.0, 1.0, 1.0]))       # a tunable array parameter
        sim.step()
        np.testing.assert_allclose(sim.get("g.y"), [1.0, 2.0, 3.0])
        with pytest.raises(ConfigurationError, match=r"g\.u is an array of shape \[3\] "
                                                     r"\(3 elements\); got 2 values"):
            sim.set("g.u", [1.0, 2.0])


def test_snapshot_and_restore_replay_arrays_exactly(paths):
    system = vector_system(paths)
    with system.start(stop_time=2.0, step_size=0.05, extrapolation="foh",
                      record=["g.y", "g.integral"]) as sim:
        sim.step(7)
        snapshot = sim.snapshot()
        state = sim.save_state()
        sim.step(9)
        first = sim.get("g.integral"), sim.result["g.y"][-9:].copy()
        sim.restore(snapshot)
        sim.step(9)
        np.testing.assert_array_equal(sim.get("g.integral"), first[0])
        np.testing.assert_array_equal(sim.result["g.y"][-9:], first[1])
    with system.start(stop_time=2.0, step_size=0.05, extrapolation="foh",
                      record=["g.y", "g.integral"]) as other:
        other.load_state(state)
        other.step(9)
        np.testing.assert_array_equal(other.get("g.integral"), first[0])


# -- recording --------------------------------------------------------------------------------------

def test_array_outputs_are_recorded_one_column_per_element_in_csv_and_result(paths, tmp_path):
    out = tmp_path / "vectors.csv"
    result = cosim.simulate(vector_system(paths), stop_time=0.2, step_size=0.1,
                            record=["src.y", "src.grid", "g.count"], output_file=out)
    expected = (["src.y[0]", "src.y[1]", "src.y[2]"]
                + [f"src.grid[{r},{c}]" for r in range(2) for c in range(3)] + ["g.count"])
    assert result.names == expected
    assert "src.grid" in result and "src.grid[1,2]" in result
    assert result["src.grid"].shape == (3, 2, 3)
    np.testing.assert_array_equal(result["src.grid[1,2]"], result["src.grid"][:, 1, 2])
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", *expected]
    np.testing.assert_allclose(np.array(rows[1:], dtype=float)[:, 1:4], result["src.y"], rtol=1e-15)
    with pytest.raises(KeyError, match="'src.gird' was not recorded"):
        result["src.gird"]


def test_every_output_is_recorded_by_default_arrays_included(paths):
    result = cosim.simulate(vector_system(paths), stop_time=0.1, step_size=0.1)
    assert "g.y[2]" in result.names and "src.positive[0]" in result.names
    assert result["src.positive"].shape == (2, 3)


# -- refused --------------------------------------------------------------------------------------

def test_a_shape_mismatch_names_both_variables_and_shapes(paths):
    source, gain = paths
    system = System("bad")
    system.add("src", source)
    system.add("g", gain)
    with pytest.raises(InvalidConnectionError,
                       match=r"cannot connect src\.grid \[2, 3\] -> g\.u \[3\]: the dimensions differ"):
        system.connect("src.grid", "g.u")
    with pytest.raises(InvalidConnectionError, match=r"src\.total \[\] -> g\.u \[3\]"):
        system.connect("src.total", "g.u")


def test_a_type_mismatch_names_both_types(paths):
    source, gain = paths
    system = System("bad")
    system.add("src", source)
    system.add("g", gain)
    with pytest.raises(InvalidConnectionError,
                       match=r"src\.ticks \(int32\) -> g\.u \(float64\): the types differ"):
        system.connect("src.ticks", "g.u")
    with pytest.raises(InvalidConnectionError, match=r"src\.y \(float64\) -> g\.flags \(bool\)"):
        system.connect("src.y", "g.flags")


def test_array_parameters_need_every_element(paths):
    _, gain = paths
    system = System("bad")
    with pytest.raises(SystemStructureError, match=r"g\.k is an array of shape \[3\] \(3 elements\); "
                                                   r"\[1\.0, 2\.0\] has 2"):
        system.add("g", gain, parameters={"k": [1.0, 2.0]})
    with pytest.raises(SystemStructureError, match=r"g\.k is float64; 'x'"):
        system.add("g", gain, parameters={"k": [1.0, 2.0, "x"]})


def with_structural_dimension(tmp_path):
    """The FMI 3 gain twin with an array sized by a structural parameter."""
    source = twins.path("gain", "3.0")
    target = tmp_path / "gain_sized.fmu"
    extra = ('    <UInt64 name="n" valueReference="95" causality="structuralParameter" '
             'variability="fixed" start="4"/>\n'
             '    <Float64 name="arr" valueReference="96" causality="output" '
             'variability="continuous" initial="calculated"><Dimension valueReference="95"/>'
             '</Float64>\n')
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = data.replace(b"  </ModelVariables>", extra.encode() + b"  </ModelVariables>")
            zout.writestr(item, data)
    return target


def test_a_dimension_from_a_structural_parameter_takes_its_start_and_cannot_be_changed(tmp_path):
    path = with_structural_dimension(tmp_path)
    arr = read_model_info(str(path)).variables["arr"]
    assert arr.shape == (4,) and arr.dimension_parameters == ("n",)
    system = System("sized")
    system.add("c", path, parameters={"n": 5})
    with pytest.raises(ConfigurationError,
                       match=r"component 'c' \(.*gain_sized\.fmu\): structural parameter n sizes "
                             r"array c\.arr \(shape \[4\] at its start value 4\); cosim does not "
                             r"enter configuration mode"):
        cosim.simulate(system, stop_time=0.1, step_size=0.1)
