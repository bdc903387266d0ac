"""An isolated FMU that crashes, aborts, exits or hangs ends the run with a
ComponentCrashedError naming it; the process, the rows computed so far and
the other components' workers are kept or shut down cleanly."""

import subprocess
import sys
import time

import pytest

from cosim import ComponentCrashedError, System, twins
from worker_processes import cosim_workers

HOW = {"SIGSEGV": 1, "SIGABRT": 2, "exit": 3, "hang": 4}


def workers() -> list[int]:
    """Worker processes of this process still running (zombies count too)."""
    return cosim_workers()


def crashing(test_fmus, how, *, version="2.0", beside=False, at=0.35):
    system = System("crashing")
    system.add("src", twins.path("source", version), isolate=beside)
    system.add("bad", test_fmus("crashing_gain", version), isolate=True,
               parameters={"crash_time": at, "crash_how": HOW[how]})
    system.connect("src.y", "bad.u")
    if beside:
        system.add("good", twins.path("gain", version), isolate=True)
        system.connect("src.y", "good.u")
    return system


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@pytest.mark.parametrize("signal", ["SIGSEGV", "SIGABRT"])
def test_a_crash_names_the_component_the_signal_and_the_time(test_fmus, version, signal):
    with pytest.raises(ComponentCrashedError) as caught:
        crashing(test_fmus, signal, version=version).simulate(stop_time=1.0, step_size=0.1)
    error = caught.value
    assert error.instance == "bad" and error.signal == signal and error.reason == "crashed"
    assert error.time == pytest.approx(0.3)
    assert error.function == f"fmi{version[0]}DoStep"
    assert error.fmu.endswith("crashing_gain.fmu")
    message = str(error)
    assert message.startswith("component 'bad' (") and "crashing_gain.fmu" in message
    assert f"killed by {signal}" in message and "at t=0.3 s" in message
    assert "crashing on purpose at t=0.3" in message        # the FMU's last log line
    assert "\n" not in message
    assert error.partial_result.time[-1] == pytest.approx(0.3)
    assert len(error.partial_result) == 4
    assert workers() == []


def test_an_exit_is_reported_with_its_status(test_fmus):
    with pytest.raises(ComponentCrashedError) as caught:
        crashing(test_fmus, "exit").simulate(stop_time=1.0, step_size=0.1)
    assert caught.value.exit_code == 3 and caught.value.signal is None
    assert "its worker process exited with status 3" in str(caught.value)


def test_a_hang_is_killed_after_the_call_timeout(test_fmus):
    started = time.monotonic()
    with pytest.raises(ComponentCrashedError) as caught:
        crashing(test_fmus, "hang", version="3.0").simulate(stop_time=1.0, step_size=0.1,
                                                             call_timeout=0.5)
    assert time.monotonic() - started < 10
    error = caught.value
    assert error.reason == "timed out"
    assert "fmi3DoStep did not return within call_timeout=0.5 s" in str(error)
    assert error.partial_result.time[-1] == pytest.approx(0.3)
    assert workers() == []


@pytest.mark.parametrize("threads", [1, 2])
def test_a_crash_beside_healthy_workers_keeps_rows_and_stops_them_cleanly(test_fmus, threads):
    with pytest.raises(ComponentCrashedError) as caught:
        crashing(test_fmus, "SIGSEGV", beside=True).simulate(stop_time=1.0, step_size=0.1,
                                                              threads=threads)
    result = caught.value.partial_result
    assert len(result) == 4 and "good.y" in result.names
    assert workers() == []
    # the process goes on, and runs again
    again = crashing(test_fmus, "SIGSEGV", beside=True, at=10.0).simulate(stop_time=1.0,
                                                                          step_size=0.1)
    assert len(again) == 11
    assert workers() == []


def test_a_stepwise_run_keeps_its_state_after_a_crash(test_fmus):
    sim = crashing(test_fmus, "SIGABRT", beside=True).start(stop_time=1.0, step_size=0.1)
    sim.step(3)
    with pytest.raises(ComponentCrashedError):
        sim.step(1)
    result = sim.stop()
    assert result.time[-1] == pytest.approx(0.3)
    assert workers() == []


def test_a_crash_in_the_first_step_keeps_the_initial_row(test_fmus):
    system = crashing(test_fmus, "SIGSEGV", at=-1.0)
    with pytest.raises(ComponentCrashedError, match="killed by SIGSEGV") as caught:
        system.simulate(stop_time=1.0, step_size=0.1)
    assert caught.value.time == 0.0
    assert list(caught.value.partial_result.time) == [0.0]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *args], check=False, capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_exits_1_with_one_line(test_fmus, tmp_path):
    fmu = test_fmus("crashing_gain")
    done = run_cli("run", str(fmu), "--isolate", "-q", "--stop-time", "1", "--step-size", "0.1",
                   "-p", "crash_time=0.25", "-p", "crash_how=1", "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 1, done.stderr
    # besides the FMU's own warning (logged in process too), one line says what happened
    lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING cosim.fmu")]
    assert len(lines) == 1 and "killed by SIGSEGV" in lines[0], done.stderr
    assert lines[0].startswith("cosim: error: component 'crashing_gain'")
    hang = run_cli("run", str(fmu), "--isolate", "--call-timeout", "0.3", "-q", "--stop-time", "1",
                   "--step-size", "0.1", "-p", "crash_time=0.25", "-p", "crash_how=4")
    assert hang.returncode == 1
    assert "did not return within call_timeout=0.3 s" in hang.stderr


def test_the_same_fmu_in_process_takes_the_process_down(test_fmus):
    # the reason for isolation: the very same run without it ends the interpreter
    code = ("import sys; from cosim import System; s = System('c'); "
            f"s.add('bad', {str(test_fmus('crashing_gain'))!r}, "
            "parameters={'crash_time': 0.25, 'crash_how': 1}); "
            "s.simulate(stop_time=1.0, step_size=0.1)")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          timeout=120)
    assert done.returncode == -11
