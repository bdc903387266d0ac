"""`cosim serve` runs hosted FMUs in worker processes: a client's FMU that
crashes or hangs fails only that client's system; the server and the other
systems go on."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cosim import System, twins
from cosim.errors import ServiceError
from cosim.rpc import Client
from worker_processes import cosim_workers

HOW = {"SIGSEGV": 1, "SIGABRT": 2, "exit": 3, "hang": 4}


pytestmark = pytest.mark.usefixtures("no_client_defaults")


def crashing_ssp(test_fmus, folder: Path, how: str, at: float = 0.35) -> Path:
    system = System("crashing")
    system.add("src", twins.path("source"))
    system.add("bad", test_fmus("crashing_gain"), parameters={"crash_time": at,
                                                             "crash_how": HOW[how]})
    system.connect("src.y", "bad.u")
    path = folder / f"crashing-{how}.ssp"
    system.save(path)
    return path


def healthy_ssp(folder: Path) -> Path:
    system = System("healthy")
    system.add("src", twins.path("source"))
    system.add("gain", twins.path("gain"), parameters={"k": 2.0})
    system.connect("src.y", "gain.u")
    path = folder / "healthy.ssp"
    system.save(path)
    return path


@pytest.mark.parametrize("how", ["SIGSEGV", "SIGABRT", "exit"])
def test_a_crashing_fmu_fails_only_its_own_system(start_server, tmp_path, test_fmus, how):
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=60) as client:
        good = client.create_system(healthy_ssp(tmp_path))
        good.initialize(step_size=0.1, stop_time=100.0)
        bad = client.create_system(crashing_ssp(test_fmus, tmp_path, how))
        bad.initialize(step_size=0.1, stop_time=10.0)
        with pytest.raises(ServiceError) as caught:
            bad.step(10)
        message = str(caught.value)
        assert "component 'bad'" in message and "resources/crashing_gain.fmu" in message
        assert "cosim-ssp-" not in message and "/tmp" not in message     # no server folders
        assert (f"killed by {how}" if how != "exit" else "exited with status") in message
        assert bad.status().state == "failed" and "cosim-ssp-" not in bad.status().error
        assert good.step(50) == pytest.approx(5.0)          # the other system goes on
        assert good.get(["gain.y"])["gain.y"] == pytest.approx(2.0 * good.get(["src.y"])["src.y"])
    assert server.proc.poll() is None                        # and so does the server
    assert server.terminate() == 0


def test_a_hanging_fmu_is_ended_by_the_call_timeout_and_terminate_answers(start_server, tmp_path,
                                                                          test_fmus):
    server = start_server("serve", "--root", tmp_path, "--call-timeout", "3")
    with Client(server.url, timeout=60) as client:
        good = client.create_system(healthy_ssp(tmp_path))
        good.initialize(step_size=0.1, stop_time=100.0)
        stuck = client.create_system(crashing_ssp(test_fmus, tmp_path, "hang"))
        stuck.initialize(step_size=0.1, stop_time=10.0)
        failure: list[BaseException] = []

        def step():
            try:
                stuck.step(10)
            except ServiceError as exc:
                failure.append(exc)

        stepping = threading.Thread(target=step)
        stepping.start()
        time.sleep(1.0)                     # the FMU is now stuck in its step
        assert good.step(10) == pytest.approx(1.0)          # others are served meanwhile
        began = time.monotonic()
        stuck.terminate()
        assert time.monotonic() - began < 2.0
        stepping.join(30)
        assert failure and ("call_timeout" in str(failure[0]) or "terminated" in str(failure[0]))
        assert [s.system_id for s in client.systems()] == [good.id]
    deadline = time.monotonic() + 10       # the stuck worker is killed, the healthy two stay
    while len(cosim_workers(server.proc.pid)) != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(cosim_workers(server.proc.pid)) == 2
    assert server.terminate() == 0


def test_no_isolate_loads_fmus_into_the_server(start_server, tmp_path):
    isolated = start_server("serve", "--root", tmp_path)
    plain = start_server("serve", "--root", tmp_path, "--no-isolate")
    for server, workers in ((isolated, 2), (plain, 0)):
        with Client(server.url, timeout=60) as client:
            system = client.create_system(healthy_ssp(tmp_path))
            system.initialize(step_size=0.1, stop_time=1.0)
            assert system.step(10) == pytest.approx(1.0)
            assert len(cosim_workers(server.proc.pid)) == workers


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_call_timeout_must_be_a_positive_number(tmp_path, value):
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                           f"--call-timeout={value}", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--call-timeout must be" in done.stderr, done.stderr


def test_a_client_fmu_past_the_memory_limit_fails_only_its_system(start_server, tmp_path,
                                                                  test_fmus):
    leaky = System("leaky")
    leaky.add("src", twins.path("source"))
    leaky.add("leak", test_fmus("leaking_gain"), parameters={"leak_time": 0.15,
                                                              "leak_bytes": 8_000_000})
    leaky.connect("src.y", "leak.u")
    leaky.save(tmp_path / "leaky.ssp")
    server = start_server("serve", "--root", tmp_path, "--memory-limit", "64M")
    with Client(server.url, timeout=60) as client:
        good = client.create_system(healthy_ssp(tmp_path))
        good.initialize(step_size=0.1, stop_time=100.0)
        bad = client.create_system(tmp_path / "leaky.ssp")
        bad.initialize(step_size=0.1, stop_time=100.0)
        with pytest.raises(ServiceError, match="past memory_limit=64.0 MiB"):
            bad.step(200)
        assert bad.status().state == "failed"
        assert good.step(10) == pytest.approx(1.0)
    # the option is checked when the server starts
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                           "--memory-limit", "1M", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "memory_limit must be" in done.stderr, done.stderr


def test_a_worker_stuck_in_a_call_ends_with_its_server(start_server, tmp_path, test_fmus):
    server = start_server("serve", "--root", tmp_path, "--call-timeout", "1000")
    with Client(server.url, timeout=60) as client:
        stuck = client.create_system(crashing_ssp(test_fmus, tmp_path, "hang"))
        stuck.initialize(step_size=0.1, stop_time=10.0)
        stepping = threading.Thread(target=lambda: pytest.raises(ServiceError, stuck.step, 10),
                                    daemon=True)
        stepping.start()
        time.sleep(1.0)
        workers = cosim_workers(server.proc.pid)
        assert len(workers) == 2            # the source's and the stuck FMU's
    server.terminate(timeout=15)
    alive = lambda: [w for w in workers if Path(f"/proc/{w}").exists()]
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), "workers outlived their server"
