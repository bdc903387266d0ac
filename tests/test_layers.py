"""The layers import only downward: the graph knows no master, file format or network;
the master's core knows no execution; the execution layer knows no live data,
network or file format.  Read from the source, so an import hidden in a function
counts too."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cosim"


def imported(path: Path) -> set[str]:
    """Every cosim module ``path`` imports, at any depth of its code (Cython
    files by their import lines, which Python's parser does not read)."""
    if path.suffix == ".pyx":
        return set(re.findall(r"^\s*(?:from|c?import)\s+(cosim[\w.]*)", path.read_text(),
                              re.MULTILINE))
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("cosim")}


def files(part: str) -> list[Path]:
    target = PACKAGE / part
    return sorted(target.rglob("*.py")) + sorted(target.rglob("*.pyx")) if target.is_dir() \
        else [target]


RULES = [
    ("system.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.master")),
    ("analysis.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live")),
    ("component.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.system")),
    ("sources.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.system")),
    ("references.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.system")),
    # what a valid connection and a valid parameter value are: below the graph
    ("connections.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.master",
                        "cosim.system")),
    ("parameters.py", ("cosim.execution", "cosim.ssp", "cosim.rpc", "cosim.live", "cosim.master",
                       "cosim.system")),
    # the OSP connections know no reader of other formats and nothing that runs
    ("ssp/osp_connections.py", ("cosim.execution", "cosim.rpc", "cosim.live", "cosim.master",
                                "cosim.ssp.reader", "cosim.ssp.writer")),
    ("execution", ("cosim.live", "cosim.rpc", "cosim.ssp", "cosim.cli")),
    ("master", ("cosim.execution", "cosim.live", "cosim.rpc", "cosim.ssp", "cosim.system")),
    ("fmi", ("cosim.execution", "cosim.system", "cosim.ssp", "cosim.rpc", "cosim.live")),
    # the web view sits on top: it may use rpc, live and execution; nothing below uses it
    *[(part, ("cosim.web",)) for part in ("system.py", "analysis.py", "execution", "master",
                                          "fmi", "live", "rpc", "ssp", "results")],
]


@pytest.mark.parametrize("part, forbidden", RULES, ids=[rule[0] for rule in RULES])
def test_each_layer_imports_only_below_it(part, forbidden):
    found = {f"{path.relative_to(PACKAGE)} imports {name}"
             for path in files(part) for name in imported(path)
             if name.startswith(forbidden)}
    assert not found, sorted(found)


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from cosim.rpc.remote import RemoteTwin\n")
    assert "cosim.rpc.remote" in imported(module)
    native = tmp_path / "m.pyx"
    native.write_text("cimport cython\ndef f():\n    from cosim.system import System\n")
    assert imported(native) == {"cosim.system"}
