"""Strings (FMI 2 and 3) and binaries (FMI 3) through the master.

text_source has string outputs that change over time (``state`` grows a
character a step, ``phase`` changes every ``period`` steps); text_sink echoes
its string input into its length, a checksum, a copy and a count of its
sets; binary_echo has a binary output that grows a byte a step (NUL bytes
included) and echoes a binary input the same way.
"""

import csv

import numpy as np
import pyarrow.parquet as pq
import pytest

from cosim import PythonComponent, System
from cosim.errors import InvalidConnectionError
from cosim.results import read_result
from fmpy_driver import Driver


def state(n):
    return f"state-{n}" + "+" * min(n, 200)


def counter(n):
    return bytes((n - i) % 256 for i in range(min(n + 1, 300)))


def text_chain(test_fmus, version, *, source="state"):
    system = System("texts")
    system.add("src", test_fmus("text_source", version))
    system.add("sink", test_fmus("text_sink", version))
    system.connect(f"src.{source}", "sink.s")
    return system


@pytest.mark.parametrize("algorithm, lag", [("jacobi", 1), ("gauss-seidel", 0)])
def test_strings_arrive_with_the_algorithms_delay(test_fmus, fmi_version, algorithm, lag):
    record = ["src.state", "sink.echo", "sink.length", "sink.checksum"]
    result = text_chain(test_fmus, fmi_version).simulate(
        stop_time=1.0, step_size=0.1, algorithm=algorithm, record=record)
    assert len(result) == 11
    states = result["src.state"]
    assert states.dtype == object
    assert list(states) == [state(n) for n in range(11)]
    received = [state(0)] * lag + [state(n) for n in range(11 - lag)]
    assert list(result["sink.echo"]) == received
    assert list(result["sink.length"]) == [len(s) for s in received]
    assert list(result["sink.checksum"]) == [sum(s.encode()) for s in received]


def test_a_string_input_is_set_only_when_it_changes(test_fmus, fmi_version):
    system = text_chain(test_fmus, fmi_version, source="phase")
    result = system.simulate(stop_time=1.0, step_size=0.1, record=["sink.echo", "sink.sets"])
    echo = list(result["sink.echo"])
    assert echo == ["phase-0"] * 4 + ["phase-1"] * 3 + ["phase-2"] * 3 + ["phase-3"]
    changes = sum(a != b for a, b in zip(echo, echo[1:]))
    assert changes == 3
    sets = result["sink.sets"]
    assert sets[-1] - sets[0] == changes          # one set per change, none in between
    assert list(np.diff(sets)) == [int(a != b) for a, b in zip(echo, echo[1:])]


def test_binaries_are_exchanged_recorded_and_set_on_change(test_fmus):
    system = System("bytes")
    system.add("a", test_fmus("binary_echo", "3.0"))
    system.add("b", test_fmus("binary_echo", "3.0"))
    system.connect("a.counter", "b.b")
    result = system.simulate(stop_time=1.0, step_size=0.1, algorithm="gauss-seidel",
                             record=["a.counter", "b.echo", "b.size", "b.checksum", "b.sets"])
    expected = [counter(n) for n in range(11)]
    assert list(result["a.counter"]) == expected      # NUL bytes kept, at the end too
    assert list(result["b.echo"]) == expected
    assert list(result["b.size"]) == [len(c) for c in expected]
    assert list(result["b.checksum"]) == [sum(c) for c in expected]
    assert list(np.diff(result["b.sets"])) == [1] * 10


def test_long_runs_grow_the_stores_and_keep_every_value(test_fmus):
    # 300 steps: `state` reaches 200 '+' and stays there; far more bytes than a
    # first block holds, so the stores add blocks while values stay where they are
    result = text_chain(test_fmus, "3.0").simulate(stop_time=30.0, step_size=0.1,
                                                   algorithm="gauss-seidel",
                                                   record=["src.state", "sink.echo"])
    assert list(result["sink.echo"]) == [state(n) for n in range(301)]


def test_files_hold_strings_as_text_and_binaries_as_hex(test_fmus, tmp_path):
    system = System("bytes")
    system.add("src", test_fmus("text_source", "3.0"))
    system.add("bin", test_fmus("binary_echo", "3.0"))
    record = ["src.state", "bin.counter", "src.steps"]
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"out{suffix}"
        result = system.simulate(stop_time=0.5, step_size=0.1, record=record, output_file=path)
        back = read_result(path)
        assert list(back["src.state"]) == [state(n) for n in range(6)]
        assert list(back["src.steps"]) == list(range(6))
        if suffix == ".parquet":
            assert list(back["bin.counter"]) == [counter(n) for n in range(6)]
            table = pq.read_table(path)
            assert str(table.schema.field("src.state").type) == "string"
            assert str(table.schema.field("bin.counter").type) == "binary"
        result.save(tmp_path / f"again{suffix}")
        assert list(read_result(tmp_path / f"again{suffix}")["src.state"]) == \
            list(back["src.state"])
    # hex digits read back as whatever they look like: check the text itself
    with open(tmp_path / "out.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", *record]
    assert [row[1:3] for row in rows[1:]] == [[state(n), counter(n).hex()] for n in range(6)]
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "out.csv").read_bytes()


def test_mat_files_leave_strings_out_with_a_warning(test_fmus, tmp_path, caplog):
    system = System("texts")
    system.add("src", test_fmus("text_source", "2.0"))
    path = tmp_path / "out.mat"
    system.simulate(stop_time=0.3, step_size=0.1, output_file=path)
    assert "src.state, src.phase are left out" in caplog.text
    back = read_result(path)
    assert back.names == ["src.steps"]
    assert list(back["src.steps"]) == [0, 1, 2, 3]


def test_a_single_fmus_strings_match_fmpy(test_fmus, fmi_version):
    # fmpy's own recorder keeps numbers only: its FMU classes step the FMU here
    path = test_fmus("text_source", fmi_version)
    system = System("one")
    system.add("src", path)
    result = system.simulate(stop_time=1.0, step_size=0.1, record=["src.state", "src.phase"])
    driver = Driver(path).initialize()
    theirs = {"state": [], "phase": []}
    try:
        for _ in range(11):
            for name in theirs:
                theirs[name].append(driver.get(name))
            driver.step(0.1)
    finally:
        driver.close()
    assert theirs["state"] == list(result["src.state"]) == [state(n) for n in range(11)]
    assert theirs["phase"] == list(result["src.phase"])


def test_a_single_fmus_binaries_match_fmpy(test_fmus):
    path = test_fmus("binary_echo", "3.0")
    system = System("one")
    system.add("a", path)
    result = system.simulate(stop_time=1.0, step_size=0.1, record=["a.counter"])
    driver = Driver(path).initialize()
    theirs = []
    try:
        for _ in range(11):
            theirs.append(driver.get("counter"))
            driver.step(0.1)
    finally:
        driver.close()
    assert theirs == list(result["a.counter"])


def test_restoring_a_snapshot_gives_the_same_strings(test_fmus):
    system = text_chain(test_fmus, "3.0")
    system.add("a", test_fmus("binary_echo", "3.0"))
    system.add("b", test_fmus("binary_echo", "3.0"))
    system.connect("a.counter", "b.b")
    with system.start(stop_time=2.0, step_size=0.1,
                      record=["sink.echo", "b.echo", "b.sets"]) as sim:
        sim.step(3)
        snapshot = sim.snapshot()
        sim.step(5)
        first = (list(sim.result["sink.echo"]), list(sim.result["b.echo"]))
        sim.restore(snapshot)
        sim.step(5)
        again = (list(sim.result["sink.echo"]), list(sim.result["b.echo"]))
        assert again == first
        saved = sim.save_state()
    with system.start(stop_time=2.0, step_size=0.1,
                      record=["sink.echo", "b.echo", "b.sets"]) as sim:
        sim.load_state(saved)
        sim.step(2)
        assert sim.get("sink.echo") == state(9)
        assert sim.get("b.echo") == counter(9)


def test_python_access_to_strings_and_binaries(test_fmus):
    system = System("bytes")
    system.add("b", test_fmus("binary_echo", "3.0"))
    system.add("sink", test_fmus("text_sink", "3.0"))
    with system.start(stop_time=1.0, step_size=0.1, record=["b.echo", "sink.echo"]) as sim:
        sim.set("b.b", b"\x00ab\x00")
        sim.set("sink.s", "grüße")
        sim.step()
        assert sim.get("b.echo") == b"\x00ab\x00"
        assert sim.get("sink.echo") == "grüße"
        assert sim.get("sink.length") == len("grüße".encode())
    assert sim.result["sink.echo"][-1] == "grüße"
    assert sim.result["b.echo"][-1] == b"\x00ab\x00"


def test_mismatched_types_and_transformations_are_refused(test_fmus):
    system = System("bad")
    system.add("src", test_fmus("text_source", "2.0"))
    system.add("sink", test_fmus("text_sink", "2.0"))
    system.add("g", test_fmus("types", "2.0"))
    with pytest.raises(InvalidConnectionError,
                       match=r"cannot connect src\.state \(string\) -> g\.x \(float64\): "
                             "the types differ"):
        system.connect("src.state", "g.x")
    with pytest.raises(InvalidConnectionError,
                       match=r"cannot connect src\.state -> sink\.s: linear transformations "
                             "apply to float64 values, not string"):
        system.connect("src.state", "sink.s", factor=2.0)
    assert system.connections == []


def test_a_loop_of_strings_settles_like_other_discrete_values(test_fmus, fmi_version):
    # each sink's echo feeds the other's input straight through: an algebraic
    # loop whose values are strings only; set from outside, they must settle
    system = System("loop")
    system.add("a", test_fmus("text_sink", fmi_version))
    system.add("b", test_fmus("text_sink", fmi_version))
    system.connect("a.echo", "b.s")
    system.connect("b.echo", "a.s")
    for algorithm in ("jacobi", "gauss-seidel"):
        result = system.simulate(stop_time=0.3, step_size=0.1, algorithm=algorithm,
                                 record=["a.echo", "b.echo", "a.length"])
        assert list(result["a.echo"]) == list(result["b.echo"]) == [""] * 4
        assert list(result["a.length"]) == [0] * 4


class Shout(PythonComponent):
    """Upper-cases a string input and counts its steps into another string."""

    inputs = {"text": ""}
    outputs = {"loud": ("text",), "count": ()}
    output_types = {"loud": "string", "count": "string"}

    def update_outputs(self):
        self["loud"] = self["text"].upper()

    def do_step(self, t, h):
        self.steps = getattr(self, "steps", 0) + 1
        self["count"] = f"py-{self.steps}"
        self.update_outputs()


def test_python_components_exchange_strings_with_fmus(test_fmus):
    system = System("mixed")
    system.add("src", test_fmus("text_source", "2.0"))
    system.add("py", Shout)
    system.add("sink", test_fmus("text_sink", "2.0"))
    system.connect("src.phase", "py.text")
    system.connect("py.count", "sink.s")
    result = system.simulate(stop_time=0.5, step_size=0.1, algorithm="gauss-seidel",
                             record=["py.loud", "sink.echo"])
    assert list(result["py.loud"]) == ["PHASE-0"] * 3 + ["PHASE-1"] * 3
    assert list(result["sink.echo"])[1:] == [f"py-{n}" for n in range(1, 6)]
