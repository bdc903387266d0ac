"""`cosim serve --state-dir`: hosted systems survive a restart of the server,
SIGTERM and `kill -9` alike, with their ids, at their last checkpoint, and
go on exactly as a system that was never interrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import cosim
from cosim.errors import ServiceError
from cosim.rpc import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "line_twin"))
from line_twin import build_line  # noqa: E402

OUTPUTS = ["spindle.speed", "spindle.wear", "furnace.energy", "transfer.parts_delivered"]
SETPOINT = "spindle.speed_setpoint"


pytestmark = pytest.mark.usefixtures("no_client_defaults")


def serve(start_server, root, state, *extra):
    return start_server("serve", "--root", root, "--state-dir", state, *extra)


def local(setpoint_at: float, value: float, until: float) -> dict:
    """The line run here without interruption: the setpoint changed at one point."""
    with cosim.Simulation(build_line(), step_size=1.0, stop_time=400.0) as sim:
        sim.run_until(setpoint_at)
        sim.set(SETPOINT, value)
        sim.run_until(until)
        return {name: sim.get(name) for name in OUTPUTS}


def wait_for_checkpoint(state: Path, system_id: str, time_: float, timeout=20.0) -> None:
    status = state / system_id / "status.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads(status.read_text())["time"] == time_:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint at t={time_} in {status}")


def test_a_killed_server_brings_systems_back_at_their_checkpoint(start_server, tmp_path, line_ssp):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state, "--checkpoint-every", "0.2")
    with Client(server.url, timeout=60) as client:
        line = client.create_system(line_ssp, name="line-1")
        assert line.warnings == []          # every twin serializes its state
        line.initialize(step_size=1.0, stop_time=400.0, record=OUTPUTS)
        line.run_until(50.0)
        line.set(SETPOINT, 1500.0)
        line.run_until(120.0)
        before = line.get(OUTPUTS)
        wait_for_checkpoint(state, line.id, 120.0)
    server.proc.kill()                      # kill -9: no chance to save anything more
    server.proc.wait(10)

    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        [status] = client.systems()
        assert (status.system_id, status.name, status.time) == (line.id, "line-1", 120.0)
        assert status.state == "running"
        back = client.system(line.id)
        assert back.get(OUTPUTS) == before
        back.run_until(300.0)
        after = back.get(OUTPUTS)
    assert after == local(50.0, 1500.0, 300.0)          # bitwise, as if never stopped


def test_sigterm_checkpoints_every_system_where_it_is(start_server, tmp_path, line_ssp):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state, "--checkpoint-every", "3600")
    with Client(server.url, timeout=60) as client:
        kept, gone = client.create_system(line_ssp), client.create_system(line_ssp)
        for system in (kept, gone):
            system.initialize(step_size=1.0, stop_time=400.0)
        kept.set(SETPOINT, 1200.0)
        kept.step(77)
        gone.terminate()
        assert not (state / gone.id).exists()
    assert server.terminate() == 0

    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        assert [s.system_id for s in client.systems()] == [kept.id]
        back = client.system(kept.id)
        assert back.status().time == 77.0
        back.run_until(200.0)
        assert back.get(OUTPUTS) == local(0.0, 1200.0, 200.0)


def test_a_created_system_not_yet_initialized_comes_back_created(start_server, tmp_path, line_ssp):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state)
    with Client(server.url, timeout=60) as client:
        line = client.create_system(line_ssp)
    server.terminate()
    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        [status] = client.systems()
        assert (status.system_id, status.state) == (line.id, "created")
        client.system(line.id).initialize(step_size=1.0, stop_time=10.0)
        assert client.system(line.id).step(10) == 10.0


def without_serialization(fmu: Path, out: Path) -> Path:
    """A copy of ``fmu`` whose modelDescription.xml says it cannot serialize its state."""
    with zipfile.ZipFile(fmu) as source, zipfile.ZipFile(out, "w") as copy:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "modelDescription.xml":
                data = data.replace(b'canSerializeFMUstate="true"', b'canSerializeFMUstate="false"')
            copy.writestr(item, data)
    return out


def test_a_system_that_cannot_be_checkpointed_is_named_and_comes_back_failed(start_server, tmp_path):
    system = cosim.System("plain")
    system.add("nostate", without_serialization(cosim.twins.path("gain"), tmp_path / "nostate.fmu"))
    system.save(tmp_path / "plain.ssp")
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state)
    with Client(server.url, timeout=60) as client:
        plain = client.create_system(tmp_path / "plain.ssp")
        assert len(plain.warnings) == 1 and "nostate" in plain.warnings[0]
        assert "cannot serialize their state" in plain.warnings[0]
        plain.initialize(step_size=0.1, stop_time=10.0)
        plain.step(5)
    server.terminate()
    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        [status] = client.systems()
        assert status.state == "failed" and "could not be saved" in status.error
        assert "nostate" in status.error
        with pytest.raises(ServiceError, match="has failed"):
            client.system(plain.id).step(1)


def test_a_damaged_checkpoint_fails_its_system_and_spares_the_others(start_server, tmp_path,
                                                                      line_ssp):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state)
    with Client(server.url, timeout=60) as client:
        damaged, healthy = client.create_system(line_ssp), client.create_system(line_ssp)
        for system in (damaged, healthy):
            system.initialize(step_size=1.0, stop_time=400.0)
            system.step(10)
    server.terminate()
    saved = state / damaged.id / "state.bin"
    data = bytearray(saved.read_bytes())
    data[-40] ^= 0xFF                   # one flipped byte: the checksum no longer fits
    saved.write_bytes(bytes(data))
    (state / "not-a-system").mkdir()     # a stranger's folder is left alone
    (state / ("f" * 32)).mkdir()         # a system's folder without its request

    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        statuses = {s.system_id: s for s in client.systems()}
        assert set(statuses) == {damaged.id, healthy.id}
        assert statuses[damaged.id].state == "failed"
        error = statuses[damaged.id].error
        assert "could not be brought back from its checkpoint" in error
        assert "checksum mismatch" in error
        assert statuses[healthy.id].time == 10.0
        assert client.system(healthy.id).step(5) == 15.0
    assert (state / "not-a-system").is_dir()
    again.terminate()
    log = again.proc.stderr.read()
    assert "not-a-system is not a hosted system's folder" in log
    assert f"system {'f' * 32} cannot be read back (system.pb is missing)" in log


@pytest.mark.parametrize("make", ["file", "symlink"])
def test_a_state_dir_that_cannot_be_one_is_refused_at_start(tmp_path, make):
    target = tmp_path / "state"
    if make == "file":
        target.write_text("not a folder")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                           "--state-dir", str(target), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert f"--state-dir {target}: is " in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("args, said", [
    (["--state-dir", "s", "--checkpoint-every", "0"], "--checkpoint-every must be"),
    (["--checkpoint-every", "5"], "give --state-dir too")])
def test_checkpoint_every_must_be_positive_and_go_with_a_state_dir(tmp_path, args, said):
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path), *args,
                           "--port", "0"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 1 and said in done.stderr, done.stderr


def test_checkpoint_files_are_private_and_whole(start_server, tmp_path, line_ssp):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state, "--checkpoint-every", "0.05")
    with Client(server.url, timeout=60) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=400.0)
        for _ in range(20):
            line.step(5)
    server.terminate()
    folder = state / line.id
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in folder.iterdir()) == [
        "initialize.pb", "state.bin", "status.json", "system.pb"]
    assert json.loads((folder / "status.json").read_text())["time"] == 100.0
    assert os.stat(folder / "state.bin").st_size > 0


def test_a_second_server_on_the_same_state_dir_is_refused(start_server, tmp_path):
    state = tmp_path / "state"
    first = serve(start_server, tmp_path, state)
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                           "--state-dir", str(state), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "another server is using it" in done.stderr
    assert first.proc.poll() is None
    assert first.terminate() == 0
    again = serve(start_server, tmp_path, state)        # free once the first has stopped
    assert again.terminate() == 0


@pytest.mark.parametrize("damage", ["fifo", "directory", "garbage-status"])
def test_damaged_state_files_bring_their_system_back_failed(start_server, tmp_path, line_ssp,
                                                           damage):
    state = tmp_path / "state"
    server = serve(start_server, tmp_path, state)
    with Client(server.url, timeout=60) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=400.0)
        line.step(7)
    server.terminate()
    folder = state / line.id
    if damage == "fifo":                 # opening it must not wait for a writer
        (folder / "status.json").unlink()
        os.mkfifo(folder / "status.json")
        named = "status.json is not a regular file"
    elif damage == "directory":
        (folder / "state.bin").unlink()
        (folder / "state.bin").mkdir()
        named = "state.bin is not a regular file"
    else:
        (folder / "status.json").write_text("[]")
        named = "status.json is not a JSON object"
    again = serve(start_server, tmp_path, state)
    with Client(again.url, timeout=60) as client:
        [status] = client.systems()
        assert status.system_id == line.id and status.state == "failed"
        assert named in status.error and "damaged" in status.error


def test_an_in_process_server_lets_the_next_one_use_its_state_dir(tmp_path, line_ssp):
    from cosim.rpc import orchestrator_server
    state = tmp_path / "state"
    first = orchestrator_server(root=tmp_path, state_dir=state).start()
    with Client(first.url, timeout=60) as client:
        line = client.create_system(line_ssp)
        line.initialize(step_size=1.0, stop_time=400.0)
        line.step(3)
    first.stop()
    second = orchestrator_server(root=tmp_path, state_dir=state).start()
    try:
        with Client(second.url, timeout=60) as client:
            assert client.system(line.id).status().time == 3.0
    finally:
        second.stop()


def test_an_empty_state_dir_name_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                           "--state-dir", "", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "give a directory" in done.stderr, done.stderr
