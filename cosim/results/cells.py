"""The 8-byte cells in which the master hands over recorded values.

Rows arrive as 8-byte cells, one per column: a double for float types, an
int64 for signed integers and bools, a uint64 for unsigned integers, so that
every value (int64 and uint64 extremes too) is kept exactly.
"""

from __future__ import annotations

import numpy as np

_UNSIGNED = ("uint8", "uint16", "uint32", "uint64")


def cell_dtype(type_: str):
    """The numpy dtype of the cells of a column of value type ``type_``."""
    if type_ in ("float64", "float32"):
        return np.float64
    return np.uint64 if type_ in _UNSIGNED else np.int64


def decode(cells: np.ndarray, type_: str) -> np.ndarray:
    """A column of cells as values of ``type_`` (a new array)."""
    values = np.ascontiguousarray(cells).view(np.uint64).view(cell_dtype(type_))
    return values.astype(np.dtype(type_) if type_ != "bool" else bool)


def encode(values, type_: str) -> np.ndarray:
    """A column of values of ``type_`` as cells (uint64), the inverse of :func:`decode`."""
    return np.ascontiguousarray(np.asarray(values).astype(cell_dtype(type_))).view(np.uint64)
