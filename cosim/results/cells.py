"""The 8-byte cells in which the master hands over recorded values.

Rows arrive as 8-byte cells, one per column: a double for float types, an
int64 for signed integers and bools, a uint64 for unsigned integers, so that
every value (int64 and uint64 extremes too) is kept exactly.  A string or
binary column's cell holds an index into the column's table of distinct
values (a list of str or bytes, kept beside the rows: ``Result.texts``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TEXT_TYPES", "cell_dtype", "decode", "encode", "encode_text"]

_UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
#: Column types whose cells index a table of values.
TEXT_TYPES = ("string", "binary")


def cell_dtype(type_: str):
    """The numpy dtype of the cells of a column of value type ``type_``."""
    if type_ in ("float64", "float32"):
        return np.float64
    return np.uint64 if type_ in _UNSIGNED else np.int64


def decode(cells: np.ndarray, type_: str, table=None) -> np.ndarray:
    """A column of cells as values of ``type_`` (a new array); string and
    binary columns give an object array of str or bytes, looked up in ``table``."""
    if type_ in TEXT_TYPES:
        values = np.empty(len(table or ()), dtype=object)
        values[:] = table or []
        return values[np.ascontiguousarray(cells).view(np.uint64).view(np.int64)]
    values = np.ascontiguousarray(cells).view(np.uint64).view(cell_dtype(type_))
    return values.astype(np.dtype(type_) if type_ != "bool" else bool)


def encode(values, type_: str) -> np.ndarray:
    """A column of values of ``type_`` as cells (uint64), the inverse of :func:`decode`."""
    return np.ascontiguousarray(np.asarray(values).astype(cell_dtype(type_))).view(np.uint64)


def encode_text(values) -> tuple[np.ndarray, list]:
    """A column of str or bytes values as cells and the table they index."""
    index: dict = {}
    cells = np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)
    return cells.view(np.uint64), list(index)
