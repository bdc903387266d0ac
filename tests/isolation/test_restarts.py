"""on_crash="restart": a crashed, exited or hung isolated worker is started
again, the system goes back to its last checkpoint and the steps since then
are taken again, so that the run ends as it would have without the crash."""

import logging
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cosim import ComponentCrashedError, ConfigurationError, System, twins
from cosim.errors import FmiCallError, ModelError
from cosim.fmi._binding import Instance
from cosim.fmi.loader import load_fmu

from test_crashes import HOW, workers


def chain(test_fmus, *, version="2.0", how="SIGSEGV", at=1e300, marker=None, threads_apart=False):
    """source -> bad (isolated, crashes at `at`) -> gain (in process), and a
    second isolated gain beside: every kind of component goes back."""
    system = System("restarting")
    system.add("src", twins.path("source", version))
    parameters = {"crash_time": at, "crash_how": HOW[how]}
    if marker is not None:
        parameters["crash_marker"] = str(marker)
    system.add("bad", test_fmus("crashing_gain", version), isolate=True, parameters=parameters)
    system.add("after", twins.path("gain", version), parameters={"k": 2.0})
    system.add("beside", twins.path("gain", version), isolate=True)
    system.connect("src.y", "bad.u")
    system.connect("bad.y", "after.u")
    system.connect("src.y", "beside.u")
    return system


def bits(result) -> dict:
    return {name: result[name].tobytes() for name in result.names} | {
        "time": np.asarray(result.time).tobytes()}


RUN = {"stop_time": 10.0, "step_size": 0.1}


@pytest.mark.parametrize("version,how", [("2.0", "SIGSEGV"), ("3.0", "SIGABRT"), ("2.0", "exit")])
def test_a_crash_once_gives_the_bits_of_a_run_without_it(test_fmus, tmp_path, caplog, version,
                                                         how):
    plain = chain(test_fmus, version=version).simulate(output_file=tmp_path / "plain.csv", **RUN)
    with caplog.at_level(logging.WARNING, logger="cosim"):
        restarted = chain(test_fmus, version=version, how=how, at=5.0,
                          marker=tmp_path / "crashed").simulate(
            output_file=tmp_path / "restarted.csv", on_crash="restart", checkpoint_interval=2.0,
            **RUN)
    assert (tmp_path / "crashed").exists()          # it did crash
    assert bits(restarted) == bits(plain)
    assert (tmp_path / "restarted.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert len(restarted) == 101 and np.all(np.diff(restarted.time) > 0)
    assert restarted.end_reason == "reached the stop time"
    assert restarted.stats["bad"].restarts == 1
    assert {restarted.stats[n].restarts for n in ("src", "after", "beside")} == {0}
    assert plain.stats["bad"].restarts == 0
    [line] = [r.getMessage() for r in caplog.records if r.name == "cosim"]
    cause = {"SIGSEGV": "crashed (SIGSEGV)", "SIGABRT": "crashed (SIGABRT)",
             "exit": "exited with status 3"}[how]
    assert line.startswith(f"component 'bad' {cause} at t=5 s; restarting it from the "
                           "checkpoint at t=4 s (restart 1 of at most 3)"), line
    assert workers() == []


@pytest.mark.parametrize("output_file", ["out.parquet", "out.mat"])
def test_binary_output_files_hold_each_row_once(test_fmus, tmp_path, output_file):
    plain = chain(test_fmus).simulate(output_file=tmp_path / f"plain-{output_file}", **RUN)
    chain(test_fmus, at=3.0, marker=tmp_path / "crashed").simulate(
        output_file=tmp_path / output_file, on_crash="restart", **RUN)
    from cosim.results import read_result
    again = read_result(tmp_path / output_file)
    assert bits(again) == bits(read_result(tmp_path / f"plain-{output_file}"))
    assert len(again) == len(plain)


def test_a_hang_past_the_call_timeout_is_restarted_too(test_fmus, tmp_path, caplog):
    plain = chain(test_fmus, version="3.0").simulate(**RUN)
    with caplog.at_level(logging.WARNING, logger="cosim"):
        restarted = chain(test_fmus, version="3.0", how="hang", at=5.0,
                          marker=tmp_path / "hung").simulate(
            on_crash="restart", call_timeout=0.5, **RUN)
    assert bits(restarted) == bits(plain)
    assert restarted.stats["bad"].restarts == 1
    assert any(r.getMessage().startswith("component 'bad' did not return from fmi3DoStep within "
                                         "call_timeout at t=5 s; restarting it")
               for r in caplog.records)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_crash_that_repeats_ends_the_run_after_max_restarts(test_fmus, caplog, threads):
    with caplog.at_level(logging.WARNING, logger="cosim"):
        with pytest.raises(ComponentCrashedError) as caught:
            chain(test_fmus, at=2.55).simulate(on_crash="restart", max_restarts=2,
                                               threads=threads, **RUN)
    error = caught.value
    assert error.instance == "bad" and error.signal == "SIGSEGV" and error.restarts == 2
    assert "(after it was restarted 2 times from checkpoints)" in str(error)
    assert error.time == pytest.approx(2.5)
    restarts = [r.getMessage() for r in caplog.records if r.name == "cosim"]
    assert len(restarts) == 2 and "restart 2 of at most 2" in restarts[1]
    partial = error.partial_result
    assert partial.time[-1] == pytest.approx(2.5) and len(partial) == 26
    assert np.all(np.diff(partial.time) > 0)            # each row once
    assert partial.stats["bad"].restarts == 2
    assert workers() == []


def test_inputs_set_from_outside_are_set_again_at_their_steps(test_fmus, tmp_path):
    def run(**options):
        system = System("driven")
        parameters = {"crash_time": 1.25, "crash_marker": str(tmp_path / "crashed")} \
            if options else {}
        system.add("bad", test_fmus("crashing_gain"), isolate=True, parameters=parameters)
        system.add("after", twins.path("gain"), parameters={"k": 2.0})
        system.add("beside", twins.path("gain"), isolate=True)
        system.connect("bad.y", "after.u")
        with system.start(stop_time=2.0, step_size=0.1, **options) as sim:
            write = sim.writer(["beside.u"])
            for n in range(20):
                sim.set("bad.u", math.sin(n))
                if n % 3 == 0:
                    write([1.0 + n])
                sim.step(1)
            return sim.stop()

    plain = run()
    restarted = run(on_crash="restart", checkpoint_interval=0.5)
    assert (tmp_path / "crashed").exists()
    assert restarted.stats["bad"].restarts == 1
    assert bits(restarted) == bits(plain)


def test_a_restore_moves_the_checkpoint(test_fmus, tmp_path):
    plain = chain(test_fmus).simulate(**RUN)
    system = chain(test_fmus, at=6.0, marker=tmp_path / "crashed")
    with system.start(on_crash="restart", checkpoint_interval=100.0, **RUN) as sim:
        sim.run_until(1.0)
        snapshot = sim.snapshot()
        sim.run_until(4.0)
        sim.restore(snapshot)       # taken again from t=1: the crash goes back to t=1
        result = sim.run()
    assert result.stats["bad"].restarts == 1
    assert bits(result) == bits(plain)


def test_steps_in_a_crashed_run_restart_alike(test_fmus, tmp_path):
    plain = chain(test_fmus).simulate(**RUN)
    with chain(test_fmus, at=0.45, marker=tmp_path / "crashed").start(
            on_crash="restart", checkpoint_interval=0.3, **RUN) as sim:
        for _ in range(100):
            sim.step(1)
        assert sim.stats["bad"].restarts == 1
        result = sim.stop()
    assert bits(result) == bits(plain)


@pytest.mark.parametrize("option,value,message", [
    ("on_crash", "sometimes", "on_crash must be one of fail, restart, got 'sometimes'"),
    ("checkpoint_interval", -1, "checkpoint_interval must be a positive number, got -1"),
    ("checkpoint_interval", math.nan, "checkpoint_interval must be a positive number, got nan"),
    ("checkpoint_interval", "1", "checkpoint_interval must be a positive number, got '1'"),
    ("max_restarts", -1, "max_restarts must be a whole number from 1 to"),
    ("max_restarts", 2.5, "max_restarts must be a whole number from 1 to"),
])
def test_bad_restart_options_are_named(test_fmus, option, value, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        chain(test_fmus).start(**{option: value}, **RUN)


def test_restart_needs_an_isolated_component():
    system = System("nothing isolated")
    system.add("g", twins.path("gain"))
    with pytest.raises(ConfigurationError, match="on_crash='restart' restarts isolated "
                                                 "components, and none is isolated"):
        system.simulate(on_crash="restart", **RUN)


def test_restart_needs_isolated_fmus_that_serialize_their_state(test_fmus):
    system = System("unserializable")
    system.add("plain", test_fmus("unserializable_gain"), isolate=True)
    with pytest.raises(ConfigurationError, match=r"isolated component 'plain' "
                       r"\(unserializable_gain\) .* cannot serialize its state \(the FMU "
                       r"binary does not export fmi2SerializedFMUstateSize"):
        system.simulate(on_crash="restart", **RUN)
    assert workers() == []
    # isolated without restarts, it runs
    assert len(system.simulate(**RUN)) == 101


def test_restart_needs_every_component_to_save_its_state(test_fmus):
    system = System("stateless beside")
    system.add("bad", test_fmus("crashing_gain"), isolate=True)
    system.add("old", test_fmus("crashing_gain", "1.0"))
    with pytest.raises(ConfigurationError, match=r"component 'old' \(crashing_gain\) cannot "
                                                  r"save its state \(FMI 1.0 cannot save state\)"):
        system.simulate(on_crash="restart", **RUN)


@pytest.mark.parametrize("options,what", [({"variable_step": True}, "variable_step"),
                                          ({"realtime": 100.0}, "realtime")])
def test_restart_takes_fixed_unpaced_steps(test_fmus, options, what):
    with pytest.raises(ConfigurationError, match=f"not supported with {what}"):
        chain(test_fmus).start(on_crash="restart", **options, **RUN)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *args], check=False, capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_restarts_and_says_so_in_one_line(test_fmus, tmp_path):
    fmu = test_fmus("crashing_gain")
    common = ["run", str(fmu), "--isolate", "-q", "--stop-time", "2", "--step-size", "0.1"]
    plain = run_cli(*common, "-o", str(tmp_path / "plain.csv"))
    assert plain.returncode == 0, plain.stderr
    done = run_cli(*common, "--on-crash", "restart", "--checkpoint-interval", "0.5",
                   "-p", "crash_time=1.25", "-p", f"crash_marker={tmp_path / 'crashed'}",
                   "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING cosim.fmu")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("WARNING cosim: component 'crashing_gain' crashed (SIGSEGV) at "
                               "t=1.2 s; restarting it from the checkpoint at t=1 s"), lines[0]
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    bad = run_cli(*common, "--on-crash", "sometimes")
    assert bad.returncode == 2 and "invalid choice: 'sometimes'" in bad.stderr


def test_a_worker_killed_from_outside_comes_back_with_its_events(test_fmus):
    # FMI 3 event mode: the new instance is initialized and put in step mode again
    def system():
        s = System("ball")
        s.add("ball", test_fmus("bouncing_ball_events", "3.0"), isolate=True)
        return s

    plain = system().simulate(stop_time=3.0, step_size=0.01)
    with system().start(stop_time=3.0, step_size=0.01, on_crash="restart",
                        checkpoint_interval=0.25) as sim:
        sim.run_until(1.1)
        [pid] = workers()
        os.kill(pid, signal.SIGKILL)
        result = sim.run()
        assert workers() != [pid]
    assert result.stats["ball"].restarts == 1 and result.stats["ball"].events > 0
    assert bits(result) == bits(plain)


def test_states_saved_before_a_respawn_are_refused_after_it():
    archive, library = load_fmu(twins.path("gain", "2.0"), isolate=True)
    instance = Instance(archive, library, "g")
    instance.setup_experiment(0.0)
    instance.enter_initialization_mode()
    instance.exit_initialization_mode()
    old = instance.get_state()
    blob = instance.serialize_state(old)
    [pid] = workers()
    instance.respawn()
    [new_pid] = workers()
    assert new_pid != pid and instance.crashed() is None
    with pytest.raises(FmiCallError, match="saved in a worker process that has since been "
                                           "replaced"):
        instance.set_state(old)
    del old                                         # freeing it calls nothing
    instance.setup_experiment(0.0)
    instance.enter_initialization_mode()
    instance.exit_initialization_mode()
    instance.set_state(instance.deserialize_state(blob))
    os.kill(new_pid, signal.SIGKILL)
    instance.respawn()                              # a dead worker is reaped and replaced
    assert instance.crashed() is None and len(workers()) == 1
    instance.setup_experiment(0.0)
    instance.enter_initialization_mode()
    instance.exit_initialization_mode()
    instance.do_step(0.0, 0.1)
    instance.free()
    archive.close()
    assert workers() == []
    in_process = Instance(*load_fmu(twins.path("gain", "2.0")), "p")
    with pytest.raises(ModelError, match="component 'p': only isolated components can be "
                                         "restarted"):
        in_process.respawn()
    assert in_process.crashed() is None
    in_process.free()


def test_string_columns_come_back_alike(test_fmus, tmp_path):
    def system(**parameters):
        s = System("texts")
        s.add("text", test_fmus("text_source", "3.0"), isolate=True)
        s.add("bad", test_fmus("crashing_gain", "3.0"), isolate=True, parameters=parameters)
        return s

    plain = system().simulate(stop_time=2.0, step_size=0.1, output_file=tmp_path / "plain.csv")
    restarted = system(crash_time=1.45, crash_marker=str(tmp_path / "crashed")).simulate(
        stop_time=2.0, step_size=0.1, on_crash="restart", checkpoint_interval=0.5,
        output_file=tmp_path / "restarted.csv")
    assert restarted.stats["bad"].restarts == 1
    for name in ("text.state", "text.phase"):
        assert list(restarted[name]) == list(plain[name])
    assert (tmp_path / "restarted.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()


@pytest.mark.parametrize("options", [
    {"algorithm": "gauss-seidel", "extrapolation": "foh"},
    {"step_multiples": {"beside": 3, "after": 2}, "extrapolation": "foh"},
    {"output_interval": 0.3},
])
def test_coupling_options_restart_alike(test_fmus, tmp_path, options):
    # checkpoints every 5 steps: within the slower components' steps and output rows
    plain = chain(test_fmus).simulate(**options, **RUN)
    restarted = chain(test_fmus, at=3.77, marker=tmp_path / "crashed").simulate(
        on_crash="restart", checkpoint_interval=0.5, **options, **RUN)
    assert restarted.stats["bad"].restarts == 1
    assert bits(restarted) == bits(plain)


def test_clock_schedules_go_back_with_the_checkpoint(test_fmus, tmp_path):
    """FMI 3 clocks in mid-schedule (a triggered tick waiting, a changed
    interval, a countdown) beside a worker that crashes once: the ticks and
    values equal those of a run without the crash."""
    def run(crash: bool):
        system = System("clocked")
        system.add("ramp", twins.path("source", "3.0"),
                   parameters={"waveform": 2, "amplitude": 100.0, "duration": 100.0})
        system.add("smp", test_fmus("clock_sampler", "3.0"))
        system.add("cd", test_fmus("clock_countdown", "3.0"))
        system.add("clk", test_fmus("clock_tunable", "3.0"))
        parameters = {"crash_time": 1.2 if crash else 1e300, "crash_how": HOW["SIGSEGV"],
                      "crash_marker": str(tmp_path / "crashed")}
        system.add("bad", test_fmus("crashing_gain", "3.0"), isolate=True, parameters=parameters)
        system.connect("ramp.y", "smp.u")
        system.connect("ramp.y", "bad.u")
        with system.start(stop_time=2.0, step_size=0.1, on_crash="restart",
                          checkpoint_interval=0.5) as sim:
            sim.run_until(0.3)
            sim.set("clk.period", 0.35)
            sim.tick("smp.trigger", at=0.77)
            sim.run_until(2.0)
            ticks = [sim.clock_ticks(c) for c in ("smp.tick", "smp.trigger", "cd.alarm", "clk.tick")]
            return bits(sim.result), ticks, sim.stats["bad"].restarts

    plain, crashed = run(False), run(True)
    assert (tmp_path / "crashed").exists()
    assert crashed[2] == 1 and plain[2] == 0
    assert crashed[:2] == plain[:2]
