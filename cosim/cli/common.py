"""What the commands share: parameter values from the command line and the progress bar."""

from __future__ import annotations

import logging

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
