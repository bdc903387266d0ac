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
FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.S | re.M)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, the code preceded by as many
    newlines as lines before it, so that errors give the page's line numbers."""
    return [(m.group(1), "\n" * text.count("\n", 0, m.start(2)) + m.group(2))
            for m in FENCE.finditer(text)]


def test_every_block_of_every_page_is_run_or_a_directive():
    """Only python and sh blocks are code, and both run below; a block in any
    other language (text, console, ...) would be shown without being checked."""
    for page in PAGES:
        for language, code in code_blocks(page.read_text()):
            assert language in ("python", "sh") or language.startswith("{"), \
                f"{page.name}:{code.count(chr(10)) - code.lstrip(chr(10)).count(chr(10))}: " \
                f"a ```{language} block is not run; make it python or sh"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_code_block_of_a_page_runs(page, tmp_path, monkeypatch):
    """Python blocks share one namespace per page, in order; sh blocks run in
    bash.  Both find this environment's commands (``cosim``) first on the
    PATH, as in an activated virtual environment, and a page must stop every
    process it starts."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for kind, code in code_blocks(page.read_text()):
        if kind == "python":
            exec(compile(code, str(page), "exec"), namespace)
        elif kind == "sh":
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{page.name}: {code.strip()}\n{done.stderr}"
    left = [p for p in namespace.values() if isinstance(p, subprocess.Popen) and p.poll() is None]
    for process in left:
        process.kill()
        process.wait(10)
    assert not left, f"{page.name} leaves {[p.args for p in left]} running"


@pytest.mark.slow
def test_the_documentation_builds_without_warnings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS),
                           str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "html" / "api.html").stat().st_size > 10_000
    for page in PAGES:
        assert (tmp_path / "html" / f"{page.stem}.html").exists(), f"{page.name} was not built"
