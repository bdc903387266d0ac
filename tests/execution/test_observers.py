"""Observers: the result, output files and a caller's own watcher attach through one interface."""

import csv

import numpy as np
import pytest

from cosim import System, twins
from cosim.execution import Observer


class Log(Observer):
    def __init__(self):
        self.events, self.times, self.rows_seen = [], [], []

    def started(self, result):
        self.events.append(("started", list(result.names), list(result.types)))

    def rows(self, times, rows):
        self.times.append(np.array(times))
        self.rows_seen.append(np.array(rows).view(np.float64))

    def rewound(self, time):
        self.events.append(("rewound", time))

    def stopped(self, result):
        self.events.append(("stopped", result))


def spindle():
    system = System("one")
    system.add("s", twins.path("spindle", "2.0"), parameters={"speed_setpoint": 1200.0})
    return system


RECORD = ["s.speed", "s.motor_power"]


def test_an_observer_sees_every_row_the_result_holds_and_the_end():
    log = Log()
    result = spindle().simulate(stop_time=1.0, step_size=0.01, record=RECORD, observers=[log])
    assert log.events[0] == ("started", RECORD, ["float64", "float64"])
    assert log.events[-1] == ("stopped", result)
    np.testing.assert_array_equal(np.concatenate(log.times), result.time)
    rows = np.concatenate(log.rows_seen)
    for i, name in enumerate(RECORD):
        np.testing.assert_array_equal(rows[:, i], result[name])


def test_an_observer_attached_later_is_told_the_columns_and_the_rewinds():
    log = Log()
    with spindle().start(stop_time=1.0, step_size=0.01, record=RECORD) as sim:
        sim.step(10)
        sim.observe(log)
        assert log.events == [("started", RECORD, ["float64", "float64"])]
        snapshot = sim.snapshot()
        sim.step(5)
        sim.restore(snapshot)
        assert log.events[-1] == ("rewound", snapshot.time)
        sim.step(2)
    assert len(np.concatenate(log.times)) == 7     # rows after it attached, before and after
    assert log.events[-1][0] == "stopped"


def test_a_failing_observer_does_not_keep_the_output_file_open(tmp_path):
    class Broken(Observer):
        def stopped(self, result):
            raise RuntimeError("the dashboard went away")

    out = tmp_path / "run.csv"
    sim = spindle().start(stop_time=1.0, step_size=0.1, record=RECORD, output_file=out,
                          observers=[Broken()])
    sim.step(3)
    with pytest.raises(RuntimeError, match="the dashboard went away"):
        sim.stop()
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", *RECORD] and len(rows) == 5      # header + 4 points
