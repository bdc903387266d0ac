"""Every code block of the README runs as written, in order, in a folder laid
out like a clone: Python blocks share one namespace, sh blocks run in bash,
servers they start keep running for the blocks after them, and a session
(a text block of ``$ command`` and its output) must print what it shows.
CI runs the README's test command."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rpc_servers import READY, self_signed

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.S | re.M)

# Commands that make the environment these tests run in; they are not run
# again here (the rest of their line is).
SETUP = ("python3 -m venv .venv", ".venv/bin/pip install ", "bash scripts/setup-tests.sh",
         ".venv/bin/pytest")      # the suite itself: test_ci_runs_the_readme_test_command
SERVER = re.compile(r"^cosim serve(-twin)?\s")
DEFAULT_PORT = "50051"
# A session is run with these arguments made smaller; its output must have
# the shape shown, numbers aside.
SHORTER = {"--clients 50 --seconds 20": "--clients 4 --seconds 3"}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, padded with the newlines before
    it so that errors give README line numbers."""
    return [(m.group(1), "\n" * text.count("\n", 0, m.start(2)) + m.group(2))
            for m in FENCE.finditer(text)]


def test_every_block_is_run_or_a_session():
    blocks = code_blocks(README.read_text())
    assert {language for language, _ in blocks} <= {"python", "sh", "text"}
    for language, code in blocks:
        if language == "text":
            assert code.strip().startswith("$ "), f"a text block is not a session:\n{code.strip()}"


def test_ci_runs_the_readme_test_command():
    command = re.search(r"## Run the tests\n\n```sh\n(.*?)\n```", README.read_text(), re.S)
    assert command, "README has no test command"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text().splitlines()


def _commands(code: str) -> list[str]:
    """The commands of an sh block: continued lines joined, setup left out."""
    commands = []
    for line in code.replace("\\\n", " ").strip().splitlines():
        parts = [part for part in line.split(" && ") if not part.strip().startswith(SETUP)]
        if parts:
            commands.append(" && ".join(parts))
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clone:
    """A folder laid out like a clone of the repository, where the README's
    commands run, and the servers they started."""

    def __init__(self, path: Path):
        self.path = path
        ignore = shutil.ignore_patterns("__pycache__", "*.ssp", "*.png", "*.parquet", "*.csv")
        for folder in ("examples", "benchmarks"):
            shutil.copytree(ROOT / folder, path / folder, ignore=ignore)
        (path / "cosim").symlink_to(ROOT / "cosim")      # cosim/twins/... as in a clone
        (path / ".venv").symlink_to(Path(sys.prefix))     # the environment set up
        # what the production server commands take for granted
        (path / "twins").mkdir()
        (path / "token").write_text("a-long-random-token\n")
        self_signed(path, "server")
        self_signed(path, "clients-ca")
        self.ports: dict[str, str] = {}         # port in the README -> port here
        self.servers: list[subprocess.Popen] = []

    def localize(self, code: str) -> str:
        """``code`` with the README's server ports replaced by the ones used here."""
        for shown, used in self.ports.items():
            code = code.replace(f"127.0.0.1:{shown}", f"127.0.0.1:{used}")
        return code

    def start_server(self, command: str) -> str:
        """Start a server command on a free port; returns its ready line."""
        args = shlex.split(command, comments=True)
        port = str(_free_port())
        if "--port" in args:
            i = args.index("--port") + 1
            self.ports[args[i]], args[i] = port, port
        else:
            self.ports.setdefault(DEFAULT_PORT, port)
            args += ["--port", port]
        process = subprocess.Popen(args, cwd=self.path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.servers.append(process)
        ready = process.stdout.readline()
        assert READY.search(ready), f"{command}: {ready!r} {process.stderr.read() if process.poll() is not None else ''}"
        return ready

    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", self.localize(command)],
                              cwd=self.path, capture_output=True, text=True, timeout=600)

    def stop(self) -> None:
        for process in self.servers:
            process.terminate()
            process.wait(15)


def _session(clone: Clone, code: str) -> None:
    """Run the ``$ command`` of a session; its output has the lines shown, numbers aside."""
    command, *shown = code.strip().splitlines()
    command = command.removeprefix("$ ")
    for long, short in SHORTER.items():
        command = command.replace(long, short)
    done = clone.run(command)
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    printed = done.stdout.strip().splitlines()
    assert len(printed) == len(shown), (shown, printed)
    for want, got in zip(shown, printed):
        pattern = re.escape(want)
        pattern = re.sub(r"\\\{.*\\\}", r"\{.*\}", pattern)       # a dict of counts
        pattern = re.sub(r"\d[\d,]*(?:\\\.\d+)?", r"[\\d,]+(?:\\.\\d+)?", pattern)
        assert re.fullmatch(pattern, got), f"README shows {want!r}, the command printed {got!r}"


@pytest.mark.slow
def test_every_block_runs_in_order(tmp_path, monkeypatch, capsys):
    clone = Clone(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        for language, code in code_blocks(README.read_text()):
            if language == "python":
                exec(compile(clone.localize(code), str(README), "exec"), namespace)
            elif language == "text":
                _session(clone, code)
            else:
                for command in _commands(code):
                    if SERVER.match(command):
                        clone.start_server(command)
                        continue
                    done = clone.run(command)
                    assert done.returncode == 0, f"{command}\n{done.stderr}"
    finally:
        clone.stop()
    out = capsys.readouterr().out
    assert "['belt', 'load', 'spindle'] []" in out
    assert (tmp_path / "line.csv").stat().st_size > 0
    for written in ("line.png", "spindle.csv", "line.parquet", "factory.mat", "furnace.png",
                    "sweep.parquet", "what_if.png", "live.png"):
        assert (tmp_path / written).stat().st_size > 0, written
    # a twin, an orchestrator, three production servers, one with the live view
    assert len(clone.servers) == 6
