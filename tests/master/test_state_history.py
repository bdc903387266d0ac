"""The history a saved state carries for the holds and the variable step
control: its layout, a run continued from it, and histories that do not fit
or hold invalid step lengths (a saved state may come from an untrusted file)."""

import dataclasses
import struct

import pytest

import cosim
from cosim import ConfigurationError, System
from cosim.execution.state import decode_state, encode_state

# first-order holds on a fast transient: the history (previous point, step
# lengths) decides the holds' slopes and the next step tried
MASSES = ({"m": 1.0, "k": 400.0, "d": 8.0, "kc": 1.0, "x0": 1.0},
          {"m": 50.0, "k": 1.0, "d": 50.0, "kc": 1.0, "x0": 1.0})
TAIL = struct.Struct("<ddB7x")      # h_prev, h_next, have_prev, padding


def oscillator(path):
    system = System("oscillator")
    system.add("a", path, parameters=MASSES[0])
    system.add("b", path, parameters=MASSES[1])
    system.connect("a.x", "b.x_other")
    system.connect("b.x", "a.x_other")
    return system


def start(path):
    return cosim.Simulation(oscillator(path), stop_time=3.0, step_size=0.01, variable_step=True,
                            rtol=1e-3, extrapolation="foh")


def test_the_history_holds_the_previous_values_the_derivatives_and_the_step_lengths(test_fmus):
    with start(test_fmus("mass")) as sim:
        sim.run_until(1.0)
        history = decode_state(sim.save_state()).history
        times = sim.result.time
    n = len(history) - TAIL.size
    assert n > 0 and n % 16 == 0            # previous float64 values, then their derivatives
    h_prev, h_next, have_prev = TAIL.unpack_from(history, n)
    # every accepted step is recorded, so the last one is the last row's
    assert have_prev == 1
    assert h_prev == pytest.approx(times[-1] - times[-2], rel=1e-9)
    assert 0 < h_next <= 3.0


def test_a_run_loaded_from_a_saved_state_continues_like_the_run_that_saved_it(test_fmus):
    path = test_fmus("mass")
    with start(path) as sim:
        sim.run_until(1.0)
        saved = sim.save_state()
        sim.run()
        expected = sim.result.time[-5:], sim.result["a.x"][-5:]
    with start(path) as sim:
        sim.load_state(saved)
        sim.run()
        assert list(sim.result.time[-5:]) == list(expected[0])
        assert list(sim.result["a.x"][-5:]) == list(expected[1])


def altered_history(path, change):
    with start(path) as sim:
        sim.run_until(1.0)
        state = decode_state(sim.save_state())
    return encode_state(dataclasses.replace(state, history=change(state.history)))


def with_tail(h_prev, h_next, have_prev=1):
    return lambda history: history[:-TAIL.size] + TAIL.pack(h_prev, h_next, have_prev)


@pytest.mark.parametrize("change, message", [
    (lambda history: history[:-8], "the saved values do not belong to this system"),
    (with_tail(float("nan"), 0.01), "step history is invalid"),
    (with_tail(0.01, -1.0), "step history is invalid"),
    (with_tail(0.01, float("inf")), "step history is invalid"),
    (with_tail(0.01, 0.01, 7), "step history is invalid"),
])
def test_a_history_that_does_not_fit_or_is_invalid_is_refused(test_fmus, change, message):
    path = test_fmus("mass")
    data = altered_history(path, change)
    with start(path) as sim:
        with pytest.raises(ConfigurationError, match=message):
            sim.load_state(data)
        sim.run_until(0.5)          # refused before anything changed: the run goes on
        assert sim.time == pytest.approx(0.5)
