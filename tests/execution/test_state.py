"""Saved states: bytes in an explicit format that continue a run exactly, and that
refuse anything else (old pickled states, truncated or altered data) with an error
saying what is wrong, without running anything in the data."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim import ConfigurationError, ModelError, PythonComponent, System, twins
from cosim.execution.state import MAGIC, STATE_VERSION, decode_state


class Integrator(PythonComponent):
    """x' = u, with a tuple of history kept as its own state."""

    inputs = {"u": 0.0}
    outputs = {"x": ()}

    def initialize(self):
        self.x = 0.0
        self.trace = [0, "start", None, True]

    def do_step(self, t, h):
        self.x += self["u"] * h
        self["x"] = self.x


class HoldsAnArray(Integrator):
    def initialize(self):
        super().initialize()
        self.buffer = np.zeros(3)


def line(component=Integrator):
    system = System("line")
    system.add("g", twins.path("gain", "2.0"), parameters={"k": 2.0, "u": 0.5})
    system.add("i", component())
    system.add("spindle", twins.path("spindle", "3.0"), parameters={"speed_setpoint": 900.0})
    system.connect("g.y", "i.u")
    return system


RECORD = ["i.x", "spindle.speed", "spindle.bearing_temperature"]


def saved_at_one_second():
    with line().start(step_size=0.01, stop_time=2.0, record=RECORD) as sim:
        sim.step(100)
        return sim.save_state()


def test_a_loaded_state_continues_as_the_run_it_was_saved_from():
    straight = line().simulate(stop_time=2.0, step_size=0.01, record=RECORD)
    data = saved_at_one_second()
    assert data.startswith(MAGIC)
    with line().start(step_size=0.01, stop_time=2.0, record=RECORD) as sim:
        sim.load_state(data)
        assert sim.time == pytest.approx(1.0)
        loaded = sim.run()
    for name in RECORD:
        np.testing.assert_array_equal(loaded[name], straight[name][100:], err_msg=name)


def test_a_python_component_whose_state_is_not_json_is_named():
    with line(HoldsAnArray).start(step_size=0.01, stop_time=1.0, record=RECORD) as sim:
        sim.step(3)
        with pytest.raises(ModelError, match=r"component 'i' .*saved as JSON"):
            sim.save_state()
        sim.step(1)         # the simulation goes on
        assert sim.step_index == 4


def test_a_pickled_state_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with line().start(step_size=0.01, stop_time=1.0, record=RECORD) as sim:
        for data in (pickle.dumps({"format": "cosim-state-5"}), pickle.dumps(Payload())):
            with pytest.raises(ConfigurationError, match="does not start with the cosim state"):
                sim.load_state(data)
        assert not marker.exists()
        assert sim.step(1) == pytest.approx(0.01)


def test_broken_states_are_refused_with_the_reason():
    data = saved_at_one_second()
    header_end = len(MAGIC) + 12
    broken = {
        "truncated": (data[:-5], "shorter than its header says"),
        "extended": (data + b"x", "length does not match"),
        "other version": (MAGIC + (STATE_VERSION + 1).to_bytes(4, "little") + data[len(MAGIC) + 4:],
                          f"format version {STATE_VERSION + 1}"),
        "header not json": (data[:header_end] + b"x" + data[header_end + 1:], "not JSON"),
        "not bytes": ("a string", "expected bytes"),
    }
    with line().start(step_size=0.01, stop_time=2.0, record=RECORD) as sim:
        for bad, reason in broken.values():
            with pytest.raises(ConfigurationError, match=reason):
                sim.load_state(bad)
        sim.load_state(data)        # still usable, and the good state still loads
        assert sim.time == pytest.approx(1.0)


def test_a_state_of_another_set_up_names_what_differs():
    data = saved_at_one_second()
    with line().start(step_size=0.01, stop_time=2.0, record=["i.x"]) as sim:
        with pytest.raises(ConfigurationError, match="recording"):
            sim.load_state(data)
    with line().start(step_size=0.02, stop_time=2.0, record=RECORD) as sim:
        with pytest.raises(ConfigurationError, match="step_size=0.01"):
            sim.load_state(data)
    other = System("other")
    other.add("g", twins.path("gain", "2.0"))
    with other.start(step_size=0.01, stop_time=2.0) as sim:
        with pytest.raises(ConfigurationError, match="of components"):
            sim.load_state(data)


@pytest.fixture(scope="module")
def saved():
    return saved_at_one_second()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_altered_framing_is_refused_or_read_never_crashes(saved, data):
    """Any change to the magic, version, lengths or header gives a ConfigurationError
    or a state that reads back; never another exception."""
    header_len = int.from_bytes(saved[len(MAGIC) + 4:len(MAGIC) + 12], "little")
    end = len(MAGIC) + 12 + header_len
    at = data.draw(st.integers(0, end - 1))
    new = data.draw(st.binary(min_size=0, max_size=8))
    altered = saved[:at] + new + saved[at + data.draw(st.integers(0, 8)):]
    try:
        decode_state(altered)
    except ConfigurationError as exc:
        assert str(exc).startswith("the data is not a state saved by Simulation.save_state")


def test_altered_contents_are_refused_before_any_component_is_touched():
    data = bytearray(saved_at_one_second())
    for at in (len(data) // 2, len(data) - 5):
        altered = bytearray(data)
        altered[at] ^= 0xFF
        with line().start(step_size=0.01, stop_time=2.0, record=RECORD) as sim:
            with pytest.raises(ConfigurationError, match="checksum mismatch"):
                sim.load_state(bytes(altered))
            assert sim.step(1) == pytest.approx(0.01)      # untouched: still at the start
