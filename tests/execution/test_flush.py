"""Rows reach the output file at least every wall-clock second, so a process that dies
in native code (no isolation) loses at most about the last second of rows."""

import csv
import subprocess
import sys
import time
import textwrap

from cosim import PythonComponent, System, twins
from cosim.execution import Observer


class Slow(PythonComponent):
    """Takes 2 ms of wall clock per step; at ``die_at`` s the process aborts."""

    parameters = {"die_at": -1.0}
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = self["u"]

    def do_step(self, t, h):
        time.sleep(0.002)


class Chunks(Observer):
    def __init__(self):
        self.sizes = []

    def rows(self, times, rows):
        self.sizes.append(len(times))


def test_rows_are_handed_over_before_a_chunk_is_full_on_a_slow_run():
    system = System("slow")
    system.add("g", twins.path("gain", "2.0"), parameters={"u": 1.0})
    system.add("s", Slow)
    system.connect("g.y", "s.u")
    chunks = Chunks()
    result = system.simulate(stop_time=3.0, step_size=0.001, observers=[chunks])
    assert sum(chunks.sizes) == len(result) == 3001
    # 3000 steps of at least 2 ms: at least 6 s, so at least 5 hand-overs of rows
    # that are not a full 4096-row chunk
    assert len(chunks.sizes) >= 5 and max(chunks.sizes) < 4096


SCRIPT = textwrap.dedent("""
    import os, sys, time
    from cosim import PythonComponent, System, twins

    class Dies(PythonComponent):
        inputs = {"u": 0.0}
        outputs = {"y": ("u",)}
        def update_outputs(self):
            self["y"] = self["u"]
        def do_step(self, t, h):
            time.sleep(0.002)
            if t >= 2.5:
                os.abort()          # as a crash in native code would end the process

    system = System("dies")
    system.add("g", twins.path("gain", "2.0"), parameters={"u": 1.0})
    system.add("d", Dies)
    system.connect("g.y", "d.u")
    system.simulate(stop_time=10.0, step_size=0.001, output_file=sys.argv[1])
""")


def test_a_process_killed_mid_run_leaves_all_but_about_the_last_second(tmp_path):
    out = tmp_path / "run.csv"
    script = tmp_path / "dies.py"
    script.write_text(SCRIPT)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), str(out)], capture_output=True)
    wall = time.monotonic() - started
    assert done.returncode < 0                  # killed by SIGABRT
    with open(out) as f:
        rows = list(csv.reader(f))[1:]
    last = float(rows[-1][0])
    # 2.5 s of simulation took at least 5 s of wall clock (2 ms a step); rows
    # older than a second of wall clock (500 steps at most) were on disk
    assert wall > 5.0
    assert last >= 2.5 - 0.5 * (wall / 5.0) - 0.05, (last, wall)
