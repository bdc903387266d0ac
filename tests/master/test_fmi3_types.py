"""Every FMI 3 type through the master (tests/fmus/all_types).

all_types has an input u_T and outputs y_T = u_T and n_T (u_T with the step
count added, integers wrapping) of every FMI 3 type T.  Two instances in a
chain, a.n_T -> b.u_T, carry each type over a connection; values are set at
the extremes of each type, and everything recorded must come back exactly.
"""

import math

import fmpy
import numpy as np
import pyarrow.parquet as pq
import pytest

from cosim import System, simulate
from cosim.errors import InvalidConnectionError

# short name -> numpy dtype of the FMI 3 type
NUMERIC = {"f64": np.float64, "f32": np.float32, "i8": np.int8, "u8": np.uint8,
           "i16": np.int16, "u16": np.uint16, "i32": np.int32, "u32": np.uint32,
           "i64": np.int64, "u64": np.uint64, "bool": np.bool_}


def extremes(short):
    """Values of a type that lose something in any other type: its ends, or a
    float32 that is not a float64 and a NaN."""
    dtype = NUMERIC[short]
    if dtype is np.bool_:
        return [True, False]
    if dtype is np.float32:
        return [np.float32(0.1), np.float32(-3.4028235e38), np.float32("nan")]
    if dtype is np.float64:
        return [0.1, -1.7976931348623157e308, 5e-324]
    info = np.iinfo(dtype)
    return [info.min, info.max, info.max - 1]


def chain(test_fmus):
    system = System("chain")
    system.add("a", test_fmus("all_types", "3.0"))
    system.add("b", test_fmus("all_types", "3.0"))
    for short in NUMERIC:
        system.connect(f"a.y_{short}", f"b.u_{short}")
    return system


def same(got, expected, dtype):
    """Equal bit for bit as ``dtype`` (NaN equal to NaN)."""
    got, expected = np.asarray(got, dtype=dtype), np.asarray(expected, dtype=dtype)
    return got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("short", NUMERIC)
def test_connections_carry_exact_values(test_fmus, short):
    record = [f"b.y_{short}", f"b.n_{short}"]
    with chain(test_fmus).start(step_size=0.1, stop_time=1.0, record=record) as sim:
        for value in extremes(short):
            sim.set(f"a.u_{short}", value)
            sim.step(2)     # Jacobi: b sees a's output one step later
            assert same(sim.get(f"b.y_{short}"), value, NUMERIC[short]), (short, value)
        result = sim.result
    column = result[f"b.y_{short}"]
    assert column.dtype == NUMERIC[short]
    # the rows at the end of each pair of steps hold the values set, exactly
    assert same(column[2::2][:len(extremes(short))], extremes(short), NUMERIC[short])


def test_outputs_change_with_the_step_count(test_fmus):
    result = chain(test_fmus).simulate(stop_time=0.5, step_size=0.1,
                                       record=[f"a.n_{s}" for s in NUMERIC])
    # start values: the type's extremes, so the count wraps the integers around
    np.testing.assert_array_equal(result["a.n_u8"], np.array([255, 0, 1, 2, 3, 4], np.uint8))
    np.testing.assert_array_equal(result["a.n_i64"], np.int64(-2**63) + np.arange(6))
    np.testing.assert_array_equal(result["a.n_u64"],
                                  np.array([2**64 - 1, 0, 1, 2, 3, 4], dtype=np.uint64))
    np.testing.assert_array_equal(result["a.n_f32"], np.float32(0.1) + np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(result["a.n_bool"], [True, False] * 3)


def test_recorded_files_have_columns_of_each_type(test_fmus, tmp_path):
    record = [f"b.y_{s}" for s in NUMERIC]
    csv_path = tmp_path / "out.csv"
    with chain(test_fmus).start(step_size=0.1, stop_time=0.3, record=record,
                                output_file=csv_path) as sim:
        sim.set("a.u_i64", -2**63)
        sim.set("a.u_u64", 2**64 - 1)
        sim.set("a.u_f32", np.float32("nan"))
        sim.run()
        result = sim.result
    result.to_parquet(tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    for short, dtype in NUMERIC.items():
        column = table.column(f"b.y_{short}").to_numpy()
        assert column.dtype == dtype, short
        assert same(column, result[f"b.y_{short}"], dtype), short
    assert table.column("b.y_u64").to_pylist()[-1] == 2**64 - 1
    assert table.column("b.y_i64").to_pylist()[-1] == -2**63
    assert math.isnan(table.column("b.y_f32").to_pylist()[-1])
    lines = csv_path.read_text().splitlines()
    header = lines[0].split(",")
    last = dict(zip(header, lines[-1].split(",")))
    # integers are written as integers, exactly; booleans as 0/1
    assert last["b.y_u64"] == str(2**64 - 1)
    assert last["b.y_i64"] == str(-2**63)
    assert last["b.y_u8"] == "255" and last["b.y_bool"] == "1"
    assert last["b.y_f32"] == "nan"
    assert float(last["b.y_f64"]) == 1.5


@pytest.mark.parametrize("short", NUMERIC)
def test_set_and_get_each_type(test_fmus, short):
    system = System("one")
    system.add("a", test_fmus("all_types", "3.0"))
    with system.start(step_size=0.1, stop_time=1.0) as sim:
        for value in extremes(short):
            sim.set(f"a.u_{short}", value)
            assert same(sim.get(f"a.u_{short}"), value, NUMERIC[short])
            assert same(sim.get(f"a.y_{short}"), value, NUMERIC[short])


def test_snapshots_and_saved_states_keep_every_type(test_fmus):
    record = [f"b.{kind}_{s}" for s in NUMERIC for kind in ("y", "n")]
    system = chain(test_fmus)

    def run(sim, before):
        sim.set("a.u_u64", 2**64 - 2)
        sim.set("a.u_i64", 2**63 - 3)
        sim.set("a.u_f32", np.float32(1e-40))      # a float32 subnormal
        sim.step(before)

    with system.start(step_size=0.1, stop_time=1.0, record=record) as sim:
        run(sim, 3)
        snapshot = sim.snapshot()
        saved = sim.save_state()
        sim.set("a.u_u64", 7)
        sim.step(2)
        sim.restore(snapshot)
        restored = sim.run()
    with system.start(step_size=0.1, stop_time=1.0, record=record) as sim:
        run(sim, 10)
        straight = sim.result
    with system.start(step_size=0.1, stop_time=1.0, record=record) as sim:
        sim.load_state(saved)
        loaded = sim.run()
    for name in record:
        dtype = NUMERIC[name.rsplit("_", 1)[1]]
        assert same(restored[name], straight[name], dtype), name
        assert same(loaded[name], straight[name][3:], dtype), name
    assert restored["b.y_u64"][-1] == 2**64 - 2


def test_mismatched_types_are_refused_naming_both(test_fmus):
    system = System("s")
    system.add("a", test_fmus("all_types", "3.0"))
    system.add("b", test_fmus("all_types", "3.0"))
    with pytest.raises(InvalidConnectionError) as error:
        system.connect("a.y_i64", "b.u_u64")
    assert "a.y_i64 (int64)" in str(error.value) and "b.u_u64 (uint64)" in str(error.value)
    with pytest.raises(InvalidConnectionError, match="float64 values, not float32"):
        system.connect("a.y_f32", "b.u_f32", factor=2.0)


def test_same_outputs_as_fmpy(test_fmus):
    path = test_fmus("all_types", "3.0")
    names = [f"{kind}_{s}" for s in NUMERIC for kind in ("y", "n")]
    theirs = fmpy.simulate_fmu(str(path), stop_time=1.0, output_interval=0.1,
                               start_values={"u_u64": 2**64 - 5, "u_f32": 2.5},
                               output=names)
    system = System("one")
    system.add("a", path, parameters={"u_u64": 2**64 - 5, "u_f32": 2.5})
    ours = simulate(system, stop_time=1.0, step_size=0.1, record=[f"a.{n}" for n in names])
    np.testing.assert_array_equal(ours.time, theirs["time"])
    for name in names:
        assert ours[f"a.{name}"].dtype == theirs[name].dtype, name
        assert same(ours[f"a.{name}"], theirs[name], theirs[name].dtype), name


@pytest.mark.parametrize("short, values", [
    ("str", ["", "x" * 255, "ünïcödé"]),
    ("bin", [b"", b"\0\0\x01\0", bytes(range(256)) * 16]),
])
def test_set_and_get_strings_and_binaries(test_fmus, short, values):
    system = System("one")
    system.add("a", test_fmus("all_types", "3.0"))
    with system.start(step_size=0.1, stop_time=1.0) as sim:
        start = sim.get(f"a.u_{short}")
        assert start == ("start" if short == "str" else b"\x00\xff\x10")     # model.toml's
        for value in values:
            sim.set(f"a.u_{short}", value)
            assert sim.get(f"a.u_{short}") == value
            sim.step(1)
            assert sim.get(f"a.y_{short}") == value
            # n_T appends the step count to what fits of u_T in the FMU's buffer
            count = sim.step_index
            expected = value[:244] + str(count) if short == "str" else value[:4095] + bytes([count])
            assert sim.get(f"a.n_{short}") == expected
