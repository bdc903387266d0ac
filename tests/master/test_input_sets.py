"""Inputs are set only when their value changed (tests/fmus/set_counter).

The set_counter FMU counts the sets of each of its inputs, and restarts its
own solver on every set the way FMUs with variable-step integrators do, so
a set that changes nothing still changes its result.  Its counts are part of
its FMU state: a rollback or a restore takes them back with the state.
"""

import numpy as np
import pytest

import reference_master
from cosim import System, twins


def counters(test_fmus, version, *, frequency=1.5):
    """sine -> c.u (changes every step), types.m -> c.n and types.both -> c.flag
    (constant), c.w unconnected; const -> d.u (constant)."""
    system = System("counters")
    system.add("sine", twins.path("source", version),
               parameters={"waveform": 3, "amplitude": 2.0, "offset": 0.5, "frequency": frequency,
                           "start_time": 0.0})
    system.add("const", twins.path("source", version),
               parameters={"waveform": 0, "amplitude": 4.0, "offset": 0.0})
    system.add("types", test_fmus("types", version), parameters={"n": 3, "flag": True})
    system.add("c", test_fmus("set_counter", version))
    system.add("d", test_fmus("set_counter", version))
    system.connect("sine.y", "c.u")
    system.connect("types.m", "c.n")
    system.connect("types.both", "c.flag")
    system.connect("const.y", "d.u")
    return system


COUNTS = ["c.sets_u", "c.sets_n", "c.sets_flag", "c.sets_w", "d.sets_u", "d.sets_w"]


def counts(sim):
    return {name: sim.get(name) for name in COUNTS}


@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_only_changed_inputs_are_set(test_fmus, fmi_version, algorithm):
    with counters(test_fmus, fmi_version).start(step_size=0.01, stop_time=2.0,
                                                algorithm=algorithm) as sim:
        start = counts(sim)
        # the FMUs hold their start values; connected inputs are set by the first push
        assert start == {"c.sets_u": 1, "c.sets_n": 1, "c.sets_flag": 1, "c.sets_w": 0,
                         "d.sets_u": 1, "d.sets_w": 0}
        sim.step(50)
        after = counts(sim)
    # The sine changes every step; under Jacobi the first step sets its value at
    # t=0, which initialization has set already.
    assert after["c.sets_u"] == start["c.sets_u"] + (49 if algorithm == "jacobi" else 50)
    for name in ("c.sets_n", "c.sets_flag", "d.sets_u"):         # constant sources: never again
        assert after[name] == start[name], name
    assert after["c.sets_w"] == after["d.sets_w"] == 0          # unconnected: never set


def test_a_user_set_reaches_the_fmu_once(test_fmus, fmi_version):
    with counters(test_fmus, fmi_version).start(step_size=0.01, stop_time=2.0) as sim:
        sim.step(3)
        sim.set("c.w", 5.0)
        assert sim.get("c.w") == 5.0
        sim.step(10)
        assert sim.get("c.w") == 5.0
        assert sim.get("c.sets_w") == 1
        write = sim.writer(["d.w"])
        write([1.5])
        sim.step(5)
        assert sim.get("d.w") == 1.5 and sim.get("d.sets_w") == 1


def test_same_results_as_the_reference_master(test_fmus, fmi_version):
    # The reference master sets inputs by the same rule; the counters' solvers
    # restart on every set, so any extra or missing set changes x.
    system = counters(test_fmus, fmi_version)
    record = ["c.x", "d.x", *COUNTS]
    for algorithm in ("jacobi", "gauss-seidel"):
        native = system.simulate(stop_time=1.0, step_size=0.01, record=record, algorithm=algorithm)
        reference = reference_master.simulate(system, stop_time=1.0, step_size=0.01,
                                              record=record, algorithm=algorithm)
        for name in record:
            np.testing.assert_array_equal(native[name], reference[name], err_msg=name)
        assert native["d.sets_u"][-1] == 1
        assert native["c.sets_u"][-1] == (100 if algorithm == "jacobi" else 101)


def test_rollbacks_restore_what_the_fmus_were_set(test_fmus, fmi_version):
    # A fast sine makes the step control reject steps.  After each rollback the
    # FMU holds the inputs of the point before, so the step taken again must set
    # the new value again, and the constant input still never.
    system = counters(test_fmus, fmi_version, frequency=1.0)
    with system.start(step_size=0.05, stop_time=2.0, variable_step=True, rtol=1e-2, atol=1e-3,
                      record=["sine.y", "c.y", "c.sets_u", "d.sets_u"]) as sim:
        result = sim.run()
        stats = sim.stats["c"]
    assert stats.rejected > 0
    assert result["d.sets_u"][-1] == 1
    # every accepted step but the first (whose value at t=0 initialization set) sets u
    assert result["c.sets_u"][-1] == 1 + stats.steps - stats.rejected - 1
    # Jacobi, zero-order hold: over each step c holds the sine's value at its start
    np.testing.assert_array_equal(result["c.y"][1:], result["sine.y"][:-1])


def test_restored_snapshots_and_loaded_states_continue_exactly(test_fmus, fmi_version):
    system = counters(test_fmus, fmi_version)
    record = ["c.x", "d.x", *COUNTS]
    straight = system.simulate(stop_time=2.0, step_size=0.01, record=record)
    with system.start(step_size=0.01, stop_time=2.0, record=record) as sim:
        sim.step(100)
        snapshot = sim.snapshot()
        saved = sim.save_state()
        sim.step(50)
        sim.restore(snapshot)
        restored = sim.run()
    with system.start(step_size=0.01, stop_time=2.0, record=record) as other:
        other.load_state(saved)
        loaded = other.run()
    for name in record:
        np.testing.assert_array_equal(restored[name], straight[name], err_msg=name)
        np.testing.assert_array_equal(loaded[name], straight[name][100:], err_msg=name)
