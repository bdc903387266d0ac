"""The README's Python example runs as written; CI runs the README's test command."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_example_runs(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no Python example"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), {})
    finally:
        os.chdir(cwd)
    assert (tmp_path / "line.csv").stat().st_size > 0
    assert "['belt', 'load', 'spindle'] []" in capsys.readouterr().out


def test_ci_runs_the_readme_test_command():
    command = re.search(r"## Run the tests\n\n```sh\n(.*?)\n```", README.read_text(), re.S)
    assert command, "README has no test command"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text().splitlines()
