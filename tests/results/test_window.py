"""A bounded window of rows in memory for long runs, while the output file gets every row."""

import numpy as np
import pytest

from cosim import ConfigurationError, System, read_result, twins

RECORD = ["s.speed", "s.motor_power"]


def spindle():
    system = System("one")
    system.add("s", twins.path("spindle", "2.0"), parameters={"speed_setpoint": 1200.0})
    return system


@pytest.fixture(scope="module")
def full():
    return spindle().simulate(stop_time=20.0, step_size=0.001, record=RECORD)


def test_the_last_rows_stay_in_memory_and_every_row_goes_to_the_file(tmp_path, full):
    out = tmp_path / "run.csv"
    kept = spindle().simulate(stop_time=20.0, step_size=0.001, record=RECORD, keep_rows=1000,
                              output_file=out)
    assert len(kept) == 1000 and kept.total == len(full) == 20001
    np.testing.assert_array_equal(kept.time, full.time[-1000:])
    np.testing.assert_array_equal(kept["s.speed"], full["s.speed"][-1000:])
    on_disk = read_result(out)
    assert len(on_disk) == len(full)
    np.testing.assert_array_equal(on_disk["s.motor_power"], full["s.motor_power"])


def test_a_window_in_simulation_seconds(full):
    kept = spindle().simulate(stop_time=20.0, step_size=0.001, record=RECORD, keep_seconds=2.5)
    assert kept.time[0] == pytest.approx(17.5) and kept.time[-1] == pytest.approx(20.0)
    np.testing.assert_array_equal(kept.time, full.time[full.time >= kept.time[0]])


def test_rows_since_a_count_skip_what_the_window_dropped():
    with spindle().start(stop_time=20.0, step_size=0.01, record=RECORD, keep_rows=50) as sim:
        sim.step(100)
        times, rows = sim.result.since(10)       # rows 10..49 are gone: only the window
        assert sim.result.total == 101
        np.testing.assert_array_equal(times, sim.result.time)
        times, _ = sim.result.since(99)
        assert list(times) == list(sim.result.time[-2:])


def test_restoring_and_loading_states_keep_the_window_and_the_count_consistent():
    with spindle().start(stop_time=20.0, step_size=0.01, record=RECORD, keep_rows=50) as sim:
        sim.step(100)
        snapshot = sim.snapshot()
        saved = sim.save_state()
        sim.step(30)
        sim.restore(snapshot)
        assert sim.result.time[-1] == pytest.approx(1.0) and sim.result.total == 101
        sim.step(10)
        # rows 81..100 were still in the window at the restore; 10 more since
        assert len(sim.result) == 30 and sim.result.total == 111
        assert sim.result.time[0] == pytest.approx(0.81)
        sim.load_state(saved)
        assert sim.result.total == len(sim.result) == 1      # a new run from the state


@pytest.mark.parametrize("keywords, message", [
    ({"keep_rows": 0}, "keep_rows must be a positive integer"),
    ({"keep_rows": 10.5}, "keep_rows must be a positive integer"),
    ({"keep_seconds": -1.0}, "keep_seconds must be a positive number"),
    ({"keep_seconds": float("inf")}, "keep_seconds must be a positive number"),
])
def test_bad_windows_are_named(keywords, message):
    with pytest.raises(ConfigurationError, match=message):
        spindle().simulate(stop_time=1.0, step_size=0.1, **keywords)
