"""What the view keeps of a run: decimation, the ring, rewinds, cells of each
type; and the browser helper's refusal to skip when Chromium is missing."""

from __future__ import annotations

import numpy as np
import pytest

import cosim
import web_browser
from cosim import twins
from cosim.web.tap import Tap, decimate


def test_decimate_keeps_at_most_the_limit_evenly_with_the_last_row():
    times = np.arange(1000.0)
    values = times[:, None] * 2
    t, v = decimate(times, values, 100)
    assert len(t) <= 100 and t[-1] == 999 and np.all(np.diff(t) == 10)
    assert np.array_equal(v[:, 0], 2 * t)
    t, _ = decimate(times[:5], values[:5], 100)
    assert len(t) == 5


def test_the_tap_keeps_a_decimated_ring_of_a_real_run_and_starts_over_on_a_rewind():
    system = cosim.System("one")
    system.add("spindle", twins.path("spindle"))
    tap = Tap(keep=50, per_chunk=10)
    sim = system.start(step_size=0.01, observers=[tap])
    try:
        for _ in range(20):
            sim.step(100)                   # chunks of 100 rows: 10 of each kept
        recorded = len(sim.result.time)                  # 2001 rows, t=0 included
        assert 200 <= tap.total <= recorded // 9         # at most 10 of each chunk
        column = tap.names.index("spindle.speed")
        times, values, cursor = tap.since(0, [column], limit=1000)
        assert len(times) == 50 and cursor == tap.total  # the ring's size
        assert times[-1] == pytest.approx(sim.time)
        recorded = dict(zip(sim.result.time, sim.result["spindle.speed"]))
        assert all(recorded[t] == v for t, v in zip(times, values[:, 0]))
        _, _, same = tap.since(cursor, [column], limit=10)
        assert same == cursor
        snapshot = sim.snapshot()
        sim.step(100)
        sim.restore(snapshot)
        assert tap.generation == 1 and tap.total == 0
    finally:
        sim.stop()


def test_browser_tests_fail_clearly_without_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(web_browser, "CHROMIUM", tmp_path / "chromium")
    with pytest.raises(AssertionError, match="install Debian's chromium"):
        web_browser.Browser()
