"""What every command shares: one spelling per option, progress only where
someone watches, a hint when results go nowhere, errors said once, and a clear
word when a folder named cosim hides the installed package."""

import argparse
import os
import pty
import re
import subprocess
import sys

import pytest

from cosim import RemoteTwinError, ServiceError, System, twins
from cosim.cli import build_parser, main
from cosim.cli.run import NOT_WRITTEN
from cosim.rpc import Client, orchestrator_server, twin_server
from cosim.rpc.common import ServerSecurity

SPINDLE = str(twins.path("spindle"))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_an_option_means_the_same_in_every_command():
    """An option string shown in several commands takes the same kind of value
    in each (``-p`` is NAME=VALUE wherever it is shown)."""
    meaning: dict[str, set] = {}
    for sub in _subcommands(build_parser()).values():
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or not action.option_strings:
                continue
            for option in action.option_strings:
                # a file written, whatever its kind, is one meaning
                value = "PATH" if action.metavar in ("FILE", "IMAGE") else action.metavar
                meaning.setdefault(option, set()).add((value, action.nargs, type(action).__name__))
    mixed = {option: kinds for option, kinds in meaning.items() if len(kinds) > 1}
    assert not mixed, mixed
    assert ("NAME=VALUE", None, "_AppendAction") in meaning["-p"]


def test_sweep_varies_with_vary_and_still_takes_param():
    parser = build_parser()
    new = parser.parse_args(["sweep", "x.ssp", "--vary", "a.k=1,2", "-p", "b.k=3"])
    old = parser.parse_args(["sweep", "x.ssp", "--param", "a.k=1,2", "--parameter", "b.k=3"])
    assert new.vary == old.vary == ["a.k=1,2"]
    assert new.parameter == old.parameter == ["b.k=3"]
    assert "--param " not in parser.format_help() + _subcommands(parser)["sweep"].format_help()


def test_sweep_without_vary_names_the_option(capsys):
    assert main(["sweep", SPINDLE, "--stop-time", "1", "--step-size", "0.1"]) == 2
    assert "give at least one --vary NAME=SPEC" in capsys.readouterr().err


def _serve_twin(*options) -> tuple[str, str]:
    """(ready line, stderr) of ``cosim serve-twin`` on a free port, stopped once ready."""
    proc = subprocess.Popen([sys.executable, "-m", "cosim", "serve-twin", SPINDLE, "--port", "0",
                             *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return line, err


def test_serve_twin_exposes_with_expose_and_says_so_for_the_old_spelling():
    line, err = _serve_twin("--expose", "initial_wear", "--expose", "wear_rate")
    assert "(parameters: initial_wear, wear_rate)" in line, (line, err)
    assert "--expose" not in err
    line, err = _serve_twin("-p", "initial_wear", "--parameter", "wear_rate")
    assert "(parameters: initial_wear, wear_rate)" in line, (line, err)
    assert "-p/--parameter NAME is now --expose NAME" in err
    line, err = _serve_twin("--expose", "initial_wear=0.3")
    assert line == ""
    assert err.strip().endswith("cosim: error: spindle has no variable 'initial_wear=0.3' to "
                                "expose (did you mean 'initial_wear'?); --expose takes a "
                                "parameter NAME, and clients set its value"), err


def _run_spindle(tmp_path, *extra, terminal: bool) -> str:
    """stderr of a 2 s real-time run of the spindle, on a pseudo-terminal or a pipe."""
    command = [sys.executable, "-m", "cosim", "run", SPINDLE, "--stop-time", "2",
               "--step-size", "0.01", "--realtime", *extra]
    if not terminal:
        return subprocess.run(command, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path).stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower, cwd=tmp_path)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:          # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_progress_shows_on_a_terminal_only_unless_asked(tmp_path):
    assert "[###" in _run_spindle(tmp_path, terminal=True)
    piped = _run_spindle(tmp_path, terminal=False)
    assert "[" not in piped and "\r" not in piped, piped
    assert "ran 1 component(s)" in piped
    asked = _run_spindle(tmp_path, "--progress", terminal=False)
    assert "[####" in asked and asked.count("100.0%  t=2 s") == 1, asked
    assert "[" not in _run_spindle(tmp_path, "--progress", "--quiet", terminal=False)


def test_progress_counts_from_the_start_time(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cosim", "run", SPINDLE, "--start-time", "9",
                           "--stop-time", "10", "--step-size", "0.01", "--progress"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    shares = [float(share) for share in re.findall(r"\] +([\d.]+)%  t=", done.stderr)]
    assert shares and shares[0] < 50.0 and shares[-1] == 100.0, done.stderr


def test_run_without_output_says_the_results_were_not_written(tmp_path, capsys):
    assert main(["run", SPINDLE, "--stop-time", "0.5"]) == 0
    err = capsys.readouterr().err
    assert err.count(NOT_WRITTEN) == 1 and "add -o FILE" in NOT_WRITTEN
    assert main(["run", SPINDLE, "--stop-time", "0.5", "-o", str(tmp_path / "s.csv")]) == 0
    assert NOT_WRITTEN not in capsys.readouterr().err
    assert main(["run", SPINDLE, "--stop-time", "0.5", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_a_refused_token_is_said_once():
    security = ServerSecurity(token="right")
    server = orchestrator_server(security=security).start()
    try:
        with Client(server.url, token="wrong") as client, pytest.raises(ServiceError) as caught:
            client.systems()
    finally:
        server.stop()
    message = str(caught.value)
    assert message.lower().count("authentication failed") == 1, message
    assert "missing or invalid token; check the token (COSIM_TOKEN or token=)" in message

    twin = twin_server(twins.path("gain"), security=ServerSecurity(token="right")).start()
    try:
        with pytest.raises(RemoteTwinError) as caught:
            System("remote").add("gain", twin.url, token="wrong")
    finally:
        twin.stop()
    message = str(caught.value)
    assert message.lower().count("authentication failed") == 1, message


def _editable() -> bool:
    """Whether cosim is installed in editable mode, through setuptools' finder."""
    return any("editable" in type(f).__name__.lower() or "editable" in getattr(f, "__name__", "").lower()
               for f in sys.meta_path)


def test_a_folder_named_cosim_in_the_way_is_named(tmp_path):
    (tmp_path / "cosim").mkdir()
    done = subprocess.run([sys.executable, "-m", "cosim", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    if not _editable():     # a regular install is found before a bare folder
        assert done.returncode == 0 and done.stdout.startswith("cosim "), done.stderr
        return
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"cosim: error: the folder {tmp_path / 'cosim'} hides the installed cosim (Python "
        "imports a folder named cosim in the current directory, or beside the script, in its "
        "place); rename that folder or run from another directory"]
