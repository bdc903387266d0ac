"""Replay of CSV and Parquet recordings into a SignalStore, polled and paced."""

import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cosim import ConfigurationError
from cosim.live import Replay, SignalStore

TIMES = np.arange(0.0, 5.0, 0.25)           # 20 rows
A = np.sin(TIMES)
B = 100.0 + TIMES ** 2


def write(path, columns):
    table = pa.table(columns)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


@pytest.fixture(params=["csv", "parquet"])
def recording(request, tmp_path):
    return write(tmp_path / f"plant.{request.param}", {"time": TIMES, "a": A, "b": B})


def test_polled_replay_delivers_exactly_the_samples_up_to_each_point(recording):
    replay = Replay(recording)
    assert replay.signals == ("a", "b")
    store = SignalStore(replay.signals)
    replay.start(store)
    for until in (0.0, 0.3, 0.3, 1.0, 2.6, 4.75, 10.0):
        replay.poll(until)
        store.drain(until)
        expected = TIMES[TIMES <= until]
        times, values = store.series("a")
        np.testing.assert_array_equal(times, expected)
        np.testing.assert_array_equal(values, A[:len(expected)])
        np.testing.assert_array_equal(store.series("b")[1], B[:len(expected)])
        assert replay.delivered == len(expected)
    assert replay.finished
    assert store.stats()["a"].received == len(TIMES)      # nothing delivered twice
    replay.stop()


def test_columns_renamed_selected_and_offset(recording):
    replay = Replay(recording, columns={"b": "furnace_power"}, time_offset=-1.0)
    assert replay.signals == ("furnace_power",)
    store = SignalStore(["furnace_power"])
    replay.start(store)
    replay.poll(1.0)        # recorded times up to 2.0
    store.drain(1.0)
    times, values = store.series("furnace_power")
    np.testing.assert_array_equal(times, TIMES[TIMES <= 2.0] - 1.0)
    np.testing.assert_array_equal(values, B[TIMES <= 2.0])
    listed = Replay(recording, columns=["b"])
    assert listed.signals == ("b",)


def test_a_different_time_column_name(tmp_path):
    path = write(tmp_path / "r.csv", {"t_s": [0.0, 1.0], "a": [1.0, 2.0]})
    replay = Replay(path, time_column="t_s")
    assert replay.signals == ("a",)
    np.testing.assert_array_equal(replay.times, [0.0, 1.0])


def test_gaps_in_a_column_reach_the_store_as_non_finite(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text("time,a\n0,1\n1,\n2,3\n")
    replay = Replay(path)
    store = SignalStore(["a"])
    replay.start(store)
    replay.poll(2.0)
    store.drain(2.0)
    np.testing.assert_array_equal(store.series("a")[0], [0.0, 2.0])
    assert store.rejected == {"non-finite": 1}


def replay_threads(path):
    return [t for t in threading.enumerate() if t.name == f"replay {path.name}" and t.is_alive()]


def test_a_source_is_a_context_manager_that_stops(tmp_path):
    path = write(tmp_path / "slow.csv", {"time": [0.0, 1000.0], "a": [1.0, 2.0]})
    with Replay(path, speed=1.0) as replay:
        replay.start(SignalStore(replay.signals))
        assert len(replay_threads(path)) == 1
    assert replay_threads(path) == []
    assert replay.delivered == 1


# -- errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ConfigurationError, match="nothing.csv does not exist"):
        Replay(tmp_path / "nothing.csv")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "plant.xlsx"
    path.write_bytes(b"not a table")
    with pytest.raises(ConfigurationError, match=r"plant.xlsx: expected a \.csv or \.parquet"):
        Replay(path)


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ConfigurationError, match="broken.parquet cannot be read"):
        Replay(path)


def test_missing_time_column(tmp_path):
    path = write(tmp_path / "r.csv", {"t": [0.0, 1.0], "a": [1.0, 2.0]})
    with pytest.raises(ConfigurationError, match=r"r.csv: no time column 'time' \(columns: t, a\)"):
        Replay(path)


@pytest.mark.parametrize("columns", [["a", "zz"], {"zz": "a"}])
def test_missing_column(tmp_path, columns):
    path = write(tmp_path / "r.parquet", {"time": [0.0, 1.0], "a": [1.0, 2.0]})
    with pytest.raises(ConfigurationError, match=r"r.parquet: no column 'zz'"):
        Replay(path, columns=columns)


def test_non_numeric_column(tmp_path):
    path = write(tmp_path / "r.csv", {"time": [0.0, 1.0], "state": ["running", "stopped"]})
    with pytest.raises(ConfigurationError, match=r"r.csv: column 'state' is not numeric"):
        Replay(path)


def test_non_numeric_time_column(tmp_path):
    path = write(tmp_path / "r.parquet", {"time": ["a", "b"], "x": [1.0, 2.0]})
    with pytest.raises(ConfigurationError, match=r"r.parquet: column 'time' is not numeric"):
        Replay(path)


def test_time_going_back_names_file_and_row(tmp_path):
    path = write(tmp_path / "r.csv", {"time": [0.0, 1.0, 2.0, 1.5, 3.0], "a": [0.0] * 5})
    with pytest.raises(ConfigurationError, match=r"r.csv: time column 'time' goes back at data row 4"):
        Replay(path)


def test_a_missing_time_names_the_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("time,a\n0,1\n1,2\n,3\n")
    with pytest.raises(ConfigurationError, match=r"r.csv: time column 'time' has no valid time at "
                                                 r"data row 3"):
        Replay(path)


@pytest.mark.parametrize("speed", [0, -1.0, float("nan")])
def test_bad_speed(recording, speed):
    with pytest.raises(ConfigurationError, match="replay speed must be > 0"):
        Replay(recording, speed=speed)


# -- paced -----------------------------------------------------------------------------------


def test_paced_replay_delivers_everything_on_the_wall_clock(tmp_path):
    # 2 s of recording at speed 20: 0.1 s of wall time.
    times = np.arange(0.0, 2.0 + 1e-9, 0.01)
    path = write(tmp_path / "r.parquet", {"time": times + 100.0, "a": times})
    replay = Replay(path, speed=20.0)
    store = SignalStore(["a"], time_origin=100.0, max_lead=None)
    began = time.perf_counter()
    replay.start(store)
    seen = []                       # (seconds since the start, samples delivered by then)
    while not replay.finished and time.perf_counter() - began < 5.0:
        seen.append((time.perf_counter() - began, replay.delivered))
        time.sleep(0.002)
    elapsed = time.perf_counter() - began
    replay.stop()
    assert replay.finished
    assert 0.09 <= elapsed < 1.0
    # Paced, not all at once: no sample before it was due (one every 0.5 ms of
    # wall time), and some still to come while the replay ran.
    assert all(delivered <= 1 + wall / 0.0005 for wall, delivered in seen)
    assert any(0 < delivered < len(times) for _, delivered in seen)
    replay.poll(0.0)                # a paced replay ignores polls
    store.drain(0.0)
    t, v = store.series("a")
    np.testing.assert_allclose(t, times, atol=1e-9)
    np.testing.assert_array_equal(v, times)
    assert store.stats()["a"].received == len(times)


def test_stop_ends_the_pacing_thread_early(tmp_path):
    times = np.arange(0.0, 1000.0, 1.0)
    path = write(tmp_path / "r.csv", {"time": times, "a": times})
    replay = Replay(path, speed=10.0)       # 100 s of wall time if left alone
    store = SignalStore(["a"], max_lead=None)
    replay.start(store)
    time.sleep(0.3)
    assert len(replay_threads(path)) == 1
    began = time.perf_counter()
    replay.stop()
    assert time.perf_counter() - began < 1.0
    assert replay_threads(path) == []
    assert 1 <= replay.delivered < 20
    replay.stop()                           # idempotent
