"""Result: rows kept in chunks as a run appends them."""

import numpy as np

from cosim.results import Result


def chunked(n_chunks: int) -> Result:
    result = Result(["a", "b"])
    for i in range(n_chunks):
        t = np.array([2.0 * i, 2.0 * i + 1.0])
        result.append(t, np.column_stack([t, -t]))
    return result


def test_rows_since_a_row_span_chunks_and_match_the_joined_table():
    result = chunked(10)
    assert len(result) == 20
    for start in (0, 1, 5, 6, 19):
        times, rows = result.since(start)
        np.testing.assert_array_equal(times, result.time[start:])
        np.testing.assert_array_equal(rows[:, 1], -result.time[start:])
    times, rows = result.since(20)
    assert times.shape == (0,) and rows.shape == (0, 2)


def test_length_and_truncation_agree():
    result = chunked(5)
    result.truncate(4.0)
    assert len(result) == 5 and result.time[-1] == 4.0
    result.append(np.array([4.5]), np.array([[4.5, -4.5]]))
    assert len(result) == 6
    np.testing.assert_array_equal(result.since(4)[0], [4.0, 4.5])


def test_a_row_after_every_step_stays_cheap_to_count_and_stream():
    # A live system appends a row per step and streams the new ones: len()
    # and since() of the newest rows must not join the whole run each time.
    result = chunked(20000)
    joins = []
    original = np.concatenate

    def counting(arrays, *args, **kwargs):
        joins.append(len(arrays))
        return original(arrays, *args, **kwargs)

    np.concatenate = counting
    try:
        assert len(result) == 40000
        times, _ = result.since(39998)
    finally:
        np.concatenate = original
    assert times.tolist() == [39998.0, 39999.0]
    assert max(joins) == 1          # only the newest chunk was touched
