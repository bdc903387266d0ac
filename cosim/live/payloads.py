"""The payloads of plant samples on a message broker: what publishers send and sources read.

One sample is ``{"t": time, "v": value}``, a batch ``{"t": [...], "v": [...]}``,
several signals at one time ``{"t": time, "values": {name: value}}``; a bare
number is a sample stamped on arrival.  :func:`encode_sample`,
:func:`encode_batch` and :func:`encode_values` write them; the helpers below
read the columns of a batch, telling malformed, non-numeric and non-finite
values apart so that a source can reject exactly those.
"""

from __future__ import annotations

import json
import math

import numpy as np

from cosim.errors import ConfigurationError

__all__ = ["encode_batch", "encode_sample", "encode_values"]

_NUMBER = (int, float)


def _jsonable(value) -> float | bool | None:
    # Non-finite values go out as null, which every JSON parser reads; the
    # source counts them as non-finite, so a failed sensor shows at the twin.
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    value = float(value)
    return value if math.isfinite(value) else None


def encode_sample(time: float, value) -> bytes:
    """Payload of one sample: ``{"t": time, "v": value}``."""
    return json.dumps({"t": float(time), "v": _jsonable(value)}).encode()


def encode_batch(times, values) -> bytes:
    """Payload of a batch of samples of one signal: ``{"t": [...], "v": [...]}``."""
    times = [float(t) for t in times]
    values = [_jsonable(v) for v in values]
    if len(times) != len(values):
        raise ConfigurationError(f"a batch needs as many values as times: {len(times)} times, "
                                 f"{len(values)} values")
    return json.dumps({"t": times, "v": values}).encode()


def encode_values(time: float, values: dict) -> bytes:
    """Payload of several signals at one time: ``{"t": time, "values": {name: value}}``."""
    return json.dumps({"t": float(time),
                       "values": {str(k): _jsonable(v) for k, v in values.items()}}).encode()


# -- topics ------------------------------------------------------------------------------------

class _Bad(Exception):
    """A message that does not fit the wire format: ``reason`` is one of REJECTIONS."""

    def __init__(self, reason: str, what: str):
        super().__init__(what)
        self.reason = reason
        self.what = what


def _as_time(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        if isinstance(value, (list, dict)):
            raise _Bad("malformed", f"{what} must be a number, not a JSON "
                                    f"{'array' if isinstance(value, list) else 'object'}")
        raise _Bad("non-finite" if value is None else "non-numeric",
                   f"{what} {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise _Bad("non-finite", f"{what} is {value!r}")
    return value


def _column(items: list, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``items`` as floats with masks of the non-numeric and non-finite entries.

    Times may not be booleans; values may (digital signals read as 1/0).
    """
    if all(type(x) is float or type(x) is int for x in items):
        array = np.array(items, dtype=float)
        return array, np.zeros(len(items), dtype=bool), ~np.isfinite(array)
    array = np.full(len(items), math.nan)
    text = np.zeros(len(items), dtype=bool)
    for i, x in enumerate(items):
        if isinstance(x, bool):
            if kind == "time":
                text[i] = True
            else:
                array[i] = float(x)
        elif isinstance(x, _NUMBER):
            array[i] = float(x)
        elif x is not None:
            text[i] = True
    return array, text, ~text & ~np.isfinite(array)


