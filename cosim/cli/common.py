"""What the commands share: parameter values from the command line and when to show progress."""

from __future__ import annotations

import logging
import sys

from cosim import paths
from cosim.errors import ConfigurationError

log = logging.getLogger("cosim")


def parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parameter_values(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, value = paths.partition(item, "=")     # '"a=b".k=1': the name is quoted
        if not sep or not name:
            raise ConfigurationError(f"--parameter {item!r}: write NAME=VALUE")
        values[name] = parse_value(value)
    return values


def progress_shown(args) -> bool:
    """Whether a command shows its progress bar: on a terminal, or when asked
    with ``--progress``; never with ``--quiet``.  A bar in a log file or a
    pipe is only carriage returns and noise."""
    if args.quiet:
        return False
    return bool(args.progress) or sys.stderr.isatty()


_BYTE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def byte_count(text: str, option: str) -> int:
    """A byte count written as digits with an optional K, M, G or T (powers of 1024)."""
    number, unit = text.strip().upper().removesuffix("B"), ""
    if number[-1:] in _BYTE_UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = int(float(number) * _BYTE_UNITS[unit])
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{option} must be a number of bytes > 0 (e.g. 1G, 500M), not {text!r}")
    return value
