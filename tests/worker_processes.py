"""The isolated components' worker processes a test can see."""

from __future__ import annotations

import os
from pathlib import Path


def cosim_workers(parent: int | None = None) -> list[int]:
    """Process ids of the ``cosim-worker`` processes whose parent is ``parent``
    (default: this process), zombies included."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
            if name == "cosim-worker" and int(rest.split()[1]) == parent:
                found.append(int(entry.name))
    return found
