"""Limits on isolated components: a worker past its memory limit ends with an
error that says so, and SIGINT or SIGTERM end a run whose isolated FMU is
stuck in a call."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from cosim import ComponentCrashedError, ConfigurationError, System, twins
from worker_processes import cosim_workers

MB = 1024 * 1024


def leaking(test_fmus, *, leak_time: float = 0.25, leak_bytes: int = 8_000_000) -> System:
    system = System("leaking")
    system.add("src", twins.path("source"))
    system.add("leaky", test_fmus("leaking_gain"), isolate=True,
               parameters={"leak_time": leak_time, "leak_bytes": leak_bytes})
    system.connect("src.y", "leaky.u")
    return system


def test_a_worker_past_its_memory_limit_ends_the_run_saying_so(test_fmus):
    with pytest.raises(ComponentCrashedError) as caught:
        leaking(test_fmus).simulate(stop_time=10.0, step_size=0.1, memory_limit=64 * MB)
    error = caught.value
    assert error.instance == "leaky" and error.reason == "out of memory"
    message = str(error)
    assert "past memory_limit=64.0 MiB" in message and "resident memory" in message
    # eight steps of 8 MB on top of the worker itself pass 64 MiB: the run stopped there
    assert 0.4 < error.time < 1.5
    assert error.partial_result.time[-1] == pytest.approx(error.time)


def test_a_leak_under_the_limit_runs_to_the_end(test_fmus):
    result = leaking(test_fmus, leak_bytes=100_000).simulate(stop_time=2.0, step_size=0.1,
                                                             memory_limit=256 * MB)
    assert result.time[-1] == pytest.approx(2.0)


def test_an_out_of_memory_worker_is_restarted_like_a_crash(test_fmus):
    # the leak starts at 0.25 s: every restart leaks again, so restarts run out
    with pytest.raises(ComponentCrashedError, match="restarted 2 times") as caught:
        leaking(test_fmus).simulate(stop_time=10.0, step_size=0.1, memory_limit=64 * MB,
                                    on_crash="restart", max_restarts=2)
    assert caught.value.reason == "out of memory"


@pytest.mark.parametrize("limit", [0, -1, 1000, 2.5e9, True, "1G"])
def test_a_memory_limit_must_be_a_whole_number_of_bytes(test_fmus, limit):
    with pytest.raises(ConfigurationError, match="memory_limit must be a whole number of bytes"):
        leaking(test_fmus).simulate(stop_time=1.0, step_size=0.1, memory_limit=limit)


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "cosim", *args], check=False, capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_the_command_line_takes_a_memory_limit(test_fmus, tmp_path):
    fmu = test_fmus("leaking_gain")
    done = run_cli("run", str(fmu), "--isolate", "--memory-limit", "64M", "-q", "--stop-time", "10",
                   "--step-size", "0.1", "-p", "leak_time=0.25")
    assert done.returncode == 1
    assert "past memory_limit=64.0 MiB" in done.stderr
    bad = run_cli("run", str(fmu), "--isolate", "--memory-limit", "lots", "--stop-time", "1",
                  "--step-size", "0.1")
    assert bad.returncode == 1 and "--memory-limit must be a number of bytes" in bad.stderr


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_a_run_whose_isolated_fmu_is_stuck(test_fmus, tmp_path, how):
    fmu = test_fmus("crashing_gain")
    out = tmp_path / "out.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "cosim", "run", str(fmu), "--isolate", "-q", "--stop-time", "10",
         "--step-size", "0.1", "-p", "crash_time=0.25", "-p", "crash_how=4", "-o", str(out)],
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:          # until the FMU is stuck in its step
        if out.exists() and "0.2" in out.read_text():
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None
    sent = time.monotonic()
    process.send_signal(how)
    status = process.wait(30)
    assert time.monotonic() - sent < 1.5
    said = process.stderr.read()
    assert status == 130, said
    assert "interrupted" in said and "terminate failed" not in said, said
    rows = out.read_text().splitlines()
    assert rows[-1].startswith("0.2") or rows[-1].startswith("0.3")    # the rows so far are kept
    assert not cosim_workers(process.pid)


def test_without_a_signal_the_interrupt_watch_changes_nothing(test_fmus, tmp_path):
    fmu = test_fmus("crashing_gain")
    done = run_cli("run", str(fmu), "--isolate", "-q", "--stop-time", "1", "--step-size", "0.1",
                   "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 12
