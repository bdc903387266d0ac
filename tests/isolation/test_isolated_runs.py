"""Isolated components give the same results as in-process ones, bit for bit:
values of every type, arrays, rollback, snapshots, saved states, FMI 3 event
mode and the FMU's log all pass through the worker process."""

import logging

import numpy as np
import pytest
from cosim.fmi._binding import Instance

from cosim import (
    ComponentCrashedError,
    ConfigurationError,
    PythonComponent,
    System,
    twins,
)
from cosim.errors import ModelError, SystemStructureError
from cosim.fmi.loader import load_fmu


def same(a, b) -> bool:
    """Equal bit for bit (NaN equal to NaN)."""
    return np.asarray(a).tobytes() == np.asarray(b).tobytes()


def same_results(a, b) -> None:
    assert a.names == b.names
    assert same(a.time, b.time)
    for name in a.names:
        assert same(a[name], b[name]) or list(a[name]) == list(b[name]), name


def factory_line(version, isolate):
    system = System("line")
    system.add("source", twins.path("source", version), isolate=isolate)
    system.add("spindle", twins.path("spindle", version), isolate=isolate)
    system.add("gain", twins.path("gain", version), isolate=isolate, parameters={"k": 2.5})
    system.connect("source.y", "gain.u")
    system.connect("gain.y", "spindle.load_torque")
    return system


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@pytest.mark.parametrize("algorithm", ["jacobi", "gauss-seidel"])
def test_twins_give_the_same_bits_isolated(version, algorithm):
    runs = [factory_line(version, isolate).simulate(stop_time=2.0, step_size=0.01,
                                                    algorithm=algorithm)
            for isolate in (False, True)]
    same_results(*runs)
    assert len(runs[1]) == 201


def test_the_run_option_isolates_every_fmu_and_variable_steps_roll_back_alike():
    options = {"stop_time": 3.0, "step_size": 0.05, "variable_step": True, "rtol": 1e-6,
               "atol": 1e-9}
    plain = factory_line("2.0", False).simulate(**options)
    isolated = factory_line("2.0", False).simulate(isolate=True, **options)
    same_results(plain, isolated)
    assert isolated.stats["spindle"].rollbacks == plain.stats["spindle"].rollbacks


def test_every_fmi3_type_passes_exactly(test_fmus):
    def chain(isolate):
        system = System("types")
        system.add("a", test_fmus("all_types", "3.0"), isolate=isolate)
        system.add("b", test_fmus("all_types", "3.0"), isolate=isolate)
        for short in ("f64", "f32", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "bool"):
            system.connect(f"a.y_{short}", f"b.u_{short}")
        return system

    results = []
    for isolate in (False, True):
        with chain(isolate).start(step_size=0.1, stop_time=1.0) as sim:
            sim.set("a.u_i64", -2**63)
            sim.set("a.u_u64", 2**64 - 1)
            sim.set("a.u_f64", 5e-324)
            sim.set("a.u_str", "text through the channel")
            sim.set("a.u_bin", b"\x00\x01binary\xff")
            sim.step(3)
            seen = (sim.get("b.y_i64"), sim.get("b.y_u64"), sim.get("b.y_f64"),
                    sim.get("a.y_str"), sim.get("a.y_bin"))
            sim.run()
            results.append((seen, sim.result))
    assert results[0][0] == results[1][0]
    assert results[1][0][3] == "text through the channel"
    assert results[1][0][4] == b"\x00\x01binary\xff"
    same_results(results[0][1], results[1][1])


def test_arrays_pass_exactly(test_fmus):
    def system(isolate):
        s = System("vectors")
        s.add("src", test_fmus("vector_source", "3.0"), isolate=isolate)
        s.add("g", test_fmus("vector_gain", "3.0"), isolate=isolate,
              parameters={"k": [1.0, 2.0, 3.0], "b": [0.5, 0.0, -0.5]})
        s.connect("src.y", "g.u")
        s.connect("src.grid", "g.w")
        s.connect("src.ticks", "g.ui")
        s.connect("src.positive", "g.flags")
        return s

    same_results(*(system(i).simulate(stop_time=1.0, step_size=0.01) for i in (False, True)))


def test_fmi3_event_mode_runs_isolated(test_fmus):
    def system(isolate):
        s = System("ball")
        s.add("ball", test_fmus("bouncing_ball_events", "3.0"), isolate=isolate)
        return s

    plain, isolated = (system(i).simulate(stop_time=3.0, step_size=0.01) for i in (False, True))
    same_results(plain, isolated)
    assert isolated.stats["ball"].events == plain.stats["ball"].events > 0


def test_snapshots_and_saved_states_continue_the_same_run():
    system = factory_line("3.0", False)
    with system.start(step_size=0.01, stop_time=2.0, isolate=True) as sim:
        sim.run_until(0.5)
        snapshot = sim.snapshot()
        saved = sim.save_state()
        sim.run_until(1.0)
        first = sim.get("spindle.speed")
        sim.restore(snapshot)
        sim.run_until(1.0)
        assert sim.get("spindle.speed") == first
        sim.load_state(saved)
        sim.run_until(1.0)
        assert sim.get("spindle.speed") == first
    with system.start(step_size=0.01, stop_time=2.0) as plain:
        plain.run_until(1.0)
        assert plain.get("spindle.speed") == first


def test_the_fmu_log_reaches_the_cosim_logger(test_fmus, caplog):
    system = System("log")
    system.add("talker", test_fmus("chatty"), isolate=True, parameters={"messages_per_step": 2})
    with caplog.at_level(logging.DEBUG, logger="cosim.fmu"):
        system.simulate(stop_time=0.03, step_size=0.01, logging_on=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "cosim.fmu"]
    assert "[talker] step from t=0.01: message 2 of 2" in lines


def test_an_fmu_call_error_stays_an_fmi_call_error(test_fmus):
    system = System("failing")
    system.add("g", test_fmus("failing_gain"), isolate=True, parameters={"fail_time": 0.25})
    with pytest.raises(Exception) as caught:
        system.simulate(stop_time=1.0, step_size=0.1)
    error = caught.value
    assert type(error).__name__ == "FmiCallError"
    assert "fmi2DoStep returned error" in str(error)
    assert "failing on purpose: fail_time=0.25" in str(error)
    assert error.partial_result.time[-1] == pytest.approx(0.2)


def test_fmi1_runs_isolated(test_fmus):
    def system(isolate):
        s = System("one")
        s.add("g", test_fmus("failing_gain", "1.0"), isolate=isolate,
              parameters={"k": 3.0, "u": 0.5})
        return s

    same_results(*(system(i).simulate(stop_time=1.0, step_size=0.1) for i in (False, True)))


def test_instances_live_in_worker_processes():
    archive, library = load_fmu(twins.path("gain", "2.0"), isolate=True)
    assert library.isolated and library.path == str(archive.binary)
    first, second = Instance(archive, library, "a"), Instance(archive, library, "b")
    for instance, k in ((first, 2.0), (second, 3.0)):
        instance.set("float64", [1], np.array([k]))
        instance.setup_experiment(0.0)
        instance.enter_initialization_mode()
        instance.exit_initialization_mode()
        instance.set("float64", [3], np.array([4.0]))     # u
    first.do_step(0.0, 0.1)
    second.do_step(0.0, 0.1)
    assert list(first.get("float64", [4])) == [8.0]
    assert list(second.get("float64", [4])) == [12.0]
    first.free()
    second.free()
    archive.close()


# -- bad input ------------------------------------------------------------------------------

class Doubler(PythonComponent):
    inputs = {"u": 0.0}
    outputs = {"y": 0.0}

    def do_step(self, t, h):
        self["y"] = 2 * self["u"]


def test_isolate_applies_to_fmu_files_only():
    system = System("s")
    with pytest.raises(SystemStructureError, match="component 'p': .*isolate= apply to FMU files"):
        system.add("p", Doubler, isolate=True)
    with pytest.raises(SystemStructureError, match="isolate must be True or False, got 'yes'"):
        system.add("g", twins.path("gain"), isolate="yes")


def test_model_exchange_fmus_cannot_be_isolated(test_fmus):
    path = test_fmus("bouncing_ball", model_exchange=True)
    with pytest.raises(SystemStructureError, match="only co-simulation FMUs can be isolated"):
        System("s").add("ball", path, interface="model-exchange", isolate=True)
    with pytest.raises(ModelError, match="only co-simulation FMUs can be isolated"):
        load_fmu(path, isolate=True)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_call_timeout_must_be_a_positive_number(value):
    system = factory_line("2.0", True)
    with pytest.raises(ConfigurationError, match="call_timeout must be a positive number"):
        system.simulate(stop_time=1.0, step_size=0.1, call_timeout=value)


@pytest.mark.parametrize("option, value", [("call_timeout", 1.0), ("memory_limit", 2**30)])
def test_isolation_limits_need_an_isolated_component(option, value):
    with pytest.raises(ConfigurationError, match=f"{option} bounds isolated components, and none "
                                                 "is isolated"):
        factory_line("2.0", False).simulate(stop_time=1.0, step_size=0.1, **{option: value})


def test_the_isolate_option_must_be_a_bool():
    with pytest.raises(ConfigurationError, match="isolate must be True or False"):
        factory_line("2.0", False).simulate(stop_time=1.0, step_size=0.1, isolate=1)


def test_crash_error_is_an_fmi_call_error():
    from cosim.errors import FmiCallError
    assert issubclass(ComponentCrashedError, FmiCallError)


def test_one_round_trip_per_component_and_step():
    import ctypes

    from cosim.isolation import PROXY

    trips = ctypes.CDLL(str(PROXY)).cosim_proxy_round_trips
    trips.restype = ctypes.c_uint64
    system = factory_line("2.0", True)
    with system.start(step_size=0.01, stop_time=10.0) as sim:
        sim.step(5)                 # past start-up: instantiate, initialize, first gets
        before = trips()
        sim.step(200)
        assert trips() - before == 3 * 200


def test_fmi3_clocks_tick_alike_isolated(test_fmus, caplog):
    def system(isolate):
        s = System("clocks")
        s.add("ramp", twins.path("source", "3.0"), isolate=isolate,
              parameters={"waveform": 2, "amplitude": 100.0, "duration": 100.0})
        s.add("smp", test_fmus("clock_sampler", "3.0"), isolate=isolate)
        s.add("thr", test_fmus("clock_threshold", "3.0"), isolate=isolate)
        s.add("cnt", test_fmus("clock_sampler", "3.0"), isolate=isolate)
        s.connect("ramp.y", "smp.u")
        s.connect("thr.crossed", "cnt.trigger")
        return s

    with caplog.at_level(logging.WARNING, logger="cosim.fmu"):
        plain, isolated = (system(i).simulate(stop_time=2.0, step_size=0.1) for i in (False, True))
    same_results(plain, isolated)
    assert isolated.stats["smp"].events == plain.stats["smp"].events == 7
    assert [r.getMessage() for r in caplog.records] == []     # no get the proxy made fails


def test_a_failed_set_is_named_with_the_call_it_was_sent_with():
    from cosim.errors import FmiCallError

    archive, library = load_fmu(twins.path("gain", "2.0"), isolate=True)
    instance = Instance(archive, library, "g")
    instance.setup_experiment(0.0)
    instance.enter_initialization_mode()
    instance.exit_initialization_mode()
    instance.set("float64", [1], np.array([5.0]))     # k is fixed: refused after initialization
    with pytest.raises(FmiCallError) as caught:
        instance.do_step(0.0, 0.1)
    assert caught.value.function == "fmi2SetReal (sent with fmi2DoStep)"
    instance.free()
    archive.close()


def test_isolation_is_kept_in_nested_systems():
    from cosim import flatten

    inner = System("inner")
    inner.add("g", twins.path("gain"), isolate=True)
    inner.add("h", twins.path("gain"))
    top = System("top")
    top.add("cell", inner)
    flat = flatten(top)
    assert flat.isolated("cell.g") and not flat.isolated("cell.h")
    result = top.simulate(stop_time=0.1, step_size=0.01, call_timeout=10.0)
    assert len(result) == 11


def test_a_missing_worker_executable_is_named(monkeypatch, tmp_path):
    import cosim.isolation

    monkeypatch.setattr(cosim.isolation, "WORKER", tmp_path / "cosim-worker")
    with pytest.raises(ModelError, match=r"isolated components need .*cosim-worker, which is built"):
        load_fmu(twins.path("gain"), isolate=True)


def test_a_binary_that_cannot_load_is_named(tmp_path):
    from cosim.isolation import probe

    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared library")
    with pytest.raises(ModelError, match=r"cannot load FMU binary .*broken.so: .*broken.so"):
        probe(broken, "2.0")
