"""The documentation builds without a warning, and every code block in it runs as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_code_block_of_a_page_runs(page, tmp_path):
    """Python blocks share one namespace per page, in order; sh blocks run in
    bash with this environment's commands (``cosim``) first on the PATH."""
    blocks = re.findall(r"```(python|sh)\n(.*?)```", page.read_text(), re.S)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for kind, code in blocks:
            if kind == "python":
                exec(compile(code, str(page), "exec"), namespace)
            else:
                done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path,
                                      env=env, capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, f"{page.name}: {code}\n{done.stderr}"
    finally:
        os.chdir(cwd)


@pytest.mark.slow
def test_the_documentation_builds_without_warnings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS),
                           str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "api.html").stat().st_size > 10_000
