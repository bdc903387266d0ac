"""SignalStore: ordering, hold and interpolation, and every kind of bad sample."""

import math
import threading

import numpy as np
import pytest

from cosim import ConfigurationError
from cosim.live import REJECTIONS, SignalStore


def store_with(name, times, values, **options):
    store = SignalStore([name], **options)
    store.push_many(name, times, values)
    store.drain(0.0)
    return store


# -- reading values --------------------------------------------------------------------------


@pytest.mark.parametrize("time, hold, sample_time, interpolated", [
    (1.0, 10.0, 1.0, 10.0),         # exactly on a sample
    (1.5, 10.0, 1.0, 15.0),         # between 1 s (10) and 2 s (20)
    (2.0, 20.0, 2.0, 20.0),
    (2.25, 20.0, 2.0, 16.25),       # between 2 s (20) and 4 s (-10): 20 - 30/8
    (4.0, -10.0, 4.0, -10.0),
    (9.0, -10.0, 4.0, -10.0),       # after the last sample: held, even when interpolating
])
def test_hold_and_interpolation(time, hold, sample_time, interpolated):
    store = store_with("p", [1.0, 2.0, 4.0], [10.0, 20.0, -10.0])
    assert store.value_at("p", time) == (hold, sample_time)
    # The time given with an interpolated value is that of the older sample.
    assert store.value_at("p", time, interpolate=True) == (pytest.approx(interpolated), sample_time)


def test_before_the_first_sample_there_is_no_value():
    store = store_with("p", [1.0, 2.0], [10.0, 20.0])
    assert store.value_at("p", 0.999) is None
    assert store.value_at("p", 0.999, interpolate=True) is None
    assert store.value_at("never", 5.0) is None


def test_time_origin_moves_plant_clock_to_simulation_time():
    store = SignalStore(["p"], time_origin=1_700_000_000.0)
    store.push("p", 1_700_000_010.0, 3.0)
    store.push("p", 1_700_000_020.0, 5.0)
    store.drain(0.0)
    assert store.value_at("p", 15.0, interpolate=True) == (4.0, 10.0)
    times, values = store.series("p")
    np.testing.assert_array_equal(times, [10.0, 20.0])
    np.testing.assert_array_equal(values, [3.0, 5.0])


def test_names_none_keeps_any_signal():
    store = SignalStore()
    store.push("anything", 0.0, 1.0)
    assert store.drain(0.0) == 1
    assert store.value_at("anything", 0.0) == (1.0, 0.0)


# -- order, duplicates, lateness ---------------------------------------------------------------


def test_out_of_order_samples_are_inserted_in_place():
    store = SignalStore(["p"])
    for t, v in [(0.0, 0.0), (3.0, 30.0), (1.0, 10.0), (2.0, 20.0), (-1.0, -10.0)]:
        store.push("p", t, v)
    store.drain(0.0)
    times, values = store.series("p")
    np.testing.assert_array_equal(times, [-1.0, 0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(values, [-10.0, 0.0, 10.0, 20.0, 30.0])
    stats = store.stats()["p"]
    assert (stats.received, stats.out_of_order, stats.duplicates) == (5, 3, 0)
    assert (stats.last_time, stats.last_value) == (3.0, 30.0)


def test_an_older_sample_arriving_in_a_later_drain_changes_later_reads():
    store = SignalStore(["p"])
    store.push_many("p", [0.0, 4.0], [0.0, 40.0])
    store.drain(0.0)
    assert store.value_at("p", 3.0) == (0.0, 0.0)
    assert store.value_at("p", 3.0, interpolate=True) == (30.0, 0.0)
    store.push("p", 2.0, 100.0)
    store.drain(3.0)
    assert store.value_at("p", 3.0) == (100.0, 2.0)
    assert store.value_at("p", 3.0, interpolate=True) == (70.0, 2.0)   # 100 - 60/2
    stats = store.stats()["p"]
    assert stats.out_of_order == 1
    assert stats.late == 1          # a read at t=3 had already passed it


def test_duplicates_later_arrival_wins_and_is_counted():
    store = SignalStore(["p"])
    store.push("p", 1.0, 1.0)
    store.push("p", 2.0, 2.0)
    store.push("p", 1.0, 111.0)
    store.drain(0.0)
    store.push_many("p", [2.0, 2.0], [222.0, 333.0])
    store.drain(0.0)
    times, values = store.series("p")
    np.testing.assert_array_equal(times, [1.0, 2.0])
    np.testing.assert_array_equal(values, [111.0, 333.0])
    stats = store.stats()["p"]
    assert (stats.received, stats.duplicates, stats.out_of_order) == (5, 3, 0)


def test_late_samples_are_those_at_or_before_a_time_already_read():
    store = SignalStore(["p"])
    store.push("p", 0.0, 0.0)
    store.drain(0.0)
    store.value_at("p", 5.0)
    store.push_many("p", [4.0, 5.0, 6.0], [4.0, 5.0, 6.0])
    store.drain(5.0)
    assert store.stats()["p"].late == 2
    # Late samples are kept for later reads.
    assert store.value_at("p", 5.5) == (5.0, 5.0)


def test_series_grow_past_their_initial_capacity_in_and_out_of_order():
    store = SignalStore(["p"], max_lead=None, history=1e9)
    times = np.arange(10_000, dtype=float)
    store.push_many("p", times, 2 * times)
    store.drain(0.0)
    shuffled = np.random.default_rng(1).permutation(np.arange(10_000, 15_000, dtype=float) + 0.5)
    store.push_many("p", shuffled, 2 * shuffled)
    store.drain(0.0)
    t, v = store.series("p")
    assert len(t) == 15_000
    assert np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(v, 2 * t)
    assert store.value_at("p", 12_000.75) == (24_001.0, 12_000.5)


def test_history_forgets_old_samples_but_keeps_one_before_the_window():
    store = SignalStore(["p"], history=10.0)
    store.push_many("p", np.arange(0.0, 100.0), np.arange(0.0, 100.0))
    store.drain(50.0)
    times, _ = store.series("p")
    assert times[0] == 40.0         # the sample that a read at t=40 needs
    assert store.value_at("p", 40.5) == (40.0, 40.0)
    assert store.value_at("p", 39.0) is None
    assert store.stats()["p"].received == 100


# -- bad samples -----------------------------------------------------------------------------


def test_each_kind_of_bad_sample_is_counted_and_named():
    store = SignalStore(["temp", "flow"], max_lead=10.0)
    store.push("temp", 0.0, 1.0)
    store.push("pressure", 0.0, 1.0)                     # unknown
    store.push_many("pressure", [1.0, 2.0], [1.0, 2.0])  # unknown, two samples
    store.push("temp", 1.0, "hot")                       # non-numeric
    store.push("temp", 2.0, "12.5")                      # text, even if it parses
    store.push("temp", 3.0, None)                        # non-numeric
    store.push("flow", 1.0, math.nan)                    # non-finite
    store.push("flow", math.inf, 1.0)                    # non-finite time
    store.push("flow", 2.0, -math.inf)                   # non-finite
    store.push("flow", 1e9, 5.0)                         # future
    store.push_many("flow", [3.0, 4.0], [1.0])           # malformed: lengths differ
    store.push_many("flow", 3.0, 1.0)                    # malformed: not sequences
    store.push("flow", 5.0, 7.0)                         # good, after all of the above
    store.push(["flow"], 6.0, 7.0)                       # a name that is not a string
    kept = store.drain(0.0)
    assert kept == 2
    assert store.rejected == {"unknown": 4, "non-numeric": 3, "non-finite": 3, "future": 1,
                              "malformed": 2}
    assert set(store.rejected) <= set(REJECTIONS)
    assert store.unknown_names == {"pressure": 3}
    text = "\n".join(store.problems)
    for expected in ("'pressure'", "'temp' got time 1.0, value 'hot'", "'12.5'",
                     "'flow' got a NaN or infinite", "'flow' sample at t=1e+09",
                     "batch for 'flow': 2 times but 1 values", "['flow']"):
        assert expected in text
    assert store.value_at("temp", 10.0) == (1.0, 0.0)
    assert store.value_at("flow", 10.0) == (7.0, 5.0)
    assert store.pending == 0


def test_numeric_types_other_than_float_are_accepted():
    store = SignalStore(["p"])
    store.push("p", 0, True)
    store.push("p", 1, np.int16(3))
    store.push_many("p", np.array([2, 3], dtype=np.int64), np.array([4.0, 5.0], dtype=np.float32))
    assert store.drain(0.0) == 4
    np.testing.assert_array_equal(store.series("p")[1], [1.0, 3.0, 4.0, 5.0])


def test_non_scalar_samples_are_malformed():
    store = SignalStore(["p"])
    store.push_many("p", [[0.0, 1.0]], [[1.0, 2.0]])
    store.drain(0.0)
    assert store.rejected == {"malformed": 1}
    assert "'p'" in store.problems[-1]


def test_future_check_follows_the_draining_time_and_can_be_off():
    store = SignalStore(["p"], max_lead=5.0)
    store.push_many("p", [14.0, 15.0, 15.5], [1.0, 2.0, 3.0])
    store.drain(10.0)
    assert store.rejected == {"future": 1}
    assert store.series("p")[0].tolist() == [14.0, 15.0]
    anything = SignalStore(["p"], max_lead=None)
    anything.push("p", 1e12, 1.0)
    assert anything.drain(0.0) == 1


def test_sources_can_report_their_own_rejections():
    store = SignalStore(["p"])
    store.reject("malformed", "MQTT payload on plant/p is not JSON", count=3)
    assert store.rejected["malformed"] == 3
    assert "plant/p" in store.problems[-1]


@pytest.mark.parametrize("options, message", [
    ({"max_lead": -1.0}, "max_lead"),
    ({"max_lead": math.nan}, "max_lead"),
    ({"history": -1.0}, "history"),
])
def test_bad_options(options, message):
    with pytest.raises(ConfigurationError, match=message):
        SignalStore(["p"], **options)


# -- threads ---------------------------------------------------------------------------------


def test_concurrent_pushes_while_draining_lose_nothing():
    """Four threads push 10k samples each (a tenth of them bad) while another
    thread drains and reads: every sample is kept or counted as rejected."""
    per_thread, threads = 10_000, 4
    store = SignalStore([f"s{k}" for k in range(threads)], max_lead=None, history=1e9)
    stop = threading.Event()

    def produce(k):
        for i in range(per_thread):
            if i % 10 == 9:
                store.push(f"s{k}", float(i), math.nan)
            elif i % 100 == 50:
                store.push_many(f"s{k}", [float(i)], [float(k)])
            else:
                store.push(f"s{k}", float(i), float(k))

    reads = []

    def consume():
        while not stop.is_set():
            store.drain(0.0)
            reads.append(store.value_at("s0", 1e9))

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=produce, args=(k,)) for k in range(threads)]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    stop.set()
    consumer.join()
    store.drain(0.0)
    stats = store.stats()
    received = sum(s.received for s in stats.values())
    assert received + sum(store.rejected.values()) == per_thread * threads
    assert store.rejected == {"non-finite": threads * per_thread // 10}
    for k in range(threads):
        times, values = store.series(f"s{k}")
        assert len(times) == per_thread * 9 // 10
        assert np.all(np.diff(times) > 0) and np.all(values == k)
    assert len(reads) > 0


def test_a_non_numeric_value_does_not_shift_the_samples_after_it():
    store = SignalStore(["p"])
    store.push("p", 0.0, 1.0)
    store.push("p", 3.0, None)
    store.push("p", 4.0, 5.0)
    store.push("p", "6", 6.0)        # a time as text is still a time
    store.push("p", object(), 7.0)
    assert store.drain(0.0) == 3
    times, values = store.series("p")
    np.testing.assert_array_equal(times, [0.0, 4.0, 6.0])
    np.testing.assert_array_equal(values, [1.0, 5.0, 6.0])
    assert store.rejected == {"non-numeric": 2}
