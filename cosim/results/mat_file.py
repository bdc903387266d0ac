"""MAT result files in the Modelica result layout (Dymola's ``dsres.mat``).

Dymola, OpenModelica and OMSimulator write their results this way, and the
tools their users have read it (Dymola's ``dymload``, DyMat, OMPython,
``scipy.io.loadmat``).  It is a MATLAB level 4 file of six matrices, stored
transposed ("binTrans") so that each time point's values are contiguous:

``Aclass``
    ``["Atrajectory", "1.1", "", "binTrans"]``: what the file is.
``name``
    One column per variable: ``time`` first, then the recorded references
    (``spindle.speed``, ``line."DP Controller".y``, ``src.arr[0]``).
``description``
    Per variable its description with its unit in brackets at the end, the
    way Dymola writes units: ``"Spindle speed [rpm]"`` (``"[rpm]"`` when the
    model gives no description).
``dataInfo``
    Per variable ``[2, k, 0, -1]``: its values are row ``k`` (1-based) of
    ``data_2``; time is ``[0, 1, 0, -1]``.
``data_1``
    The start and end time (the Modelica layout keeps parameters here;
    cosim records none).
``data_2``
    One column per time point (one row in MATLAB after ``data_2'``): time,
    then every variable, as doubles (integers and booleans as exact doubles
    up to 2**53).

In MATLAB: ``r = load('result.mat'); names = cellstr(r.name');
t = r.data_2(1, :); speed = r.data_2(strcmp(names, 'spindle.speed'), :);``
"""

from __future__ import annotations

import logging
import struct
from typing import Any

import numpy as np

from cosim.results.cells import TEXT_TYPES, decode
from cosim.results.writers import ResultWriter, open_for_writing

__all__ = ["MatWriter", "describe"]

# MATLAB level 4 type codes: 10 * element type + matrix class.
_DOUBLE, _INT32, _TEXT = 0, 20, 51
_ACLASS = ["Atrajectory", "1.1", "", "binTrans"]


def describe(description: str | None, unit: str | None) -> str:
    """A variable's text in ``description``: the description, its unit in brackets."""
    text = description or ""
    if unit:
        text = f"{text} [{unit}]" if text else f"[{unit}]"
    return text


def _header(type_code: int, rows: int, cols: int, name: str) -> bytes:
    label = name.encode("ascii") + b"\0"
    return struct.pack("<5i", type_code, rows, cols, 0, len(label)) + label


def _text_matrix(name: str, strings: list[str], *, transposed: bool) -> bytes:
    """A char matrix of ``strings`` padded with blanks; transposed: one string per column."""
    encoded = [s.encode("utf-8") for s in strings]
    width = max([len(s) for s in encoded] + [1])
    chars = np.full((len(encoded), width), ord(" "), dtype=np.uint8)
    for i, s in enumerate(encoded):
        chars[i, :len(s)] = np.frombuffer(s, dtype=np.uint8)
    if transposed:      # column-major (width x n): each string contiguous
        return _header(_TEXT, width, len(encoded), name) + chars.tobytes()
    return _header(_TEXT, len(encoded), width, name) + chars.tobytes(order="F")


class MatWriter(ResultWriter):
    """Write result rows to a MAT file (Modelica result layout) as the run goes.

    The matrices before ``data_2`` are written by :meth:`start`; every chunk
    appends its time points to ``data_2`` and then updates the count of time
    points in its header and the end time in ``data_1``.  After every chunk
    the file is a complete, valid MAT file, so a run that fails, or a process
    that dies between two chunks, leaves a readable result up to there.
    Parameters: see :class:`~cosim.results.writers.ResultWriter`.
    """

    suffix = ".mat"

    def __init__(self, path, *, strip_component: str | None = None):
        super().__init__(path, strip_component=strip_component)
        self._file: Any = None
        self._points = 0

    def start(self, names: list[str], *, types: list[str] | None = None,
              units: list | None = None, descriptions: list | None = None,
              texts: dict | None = None) -> None:
        """Write every matrix but the time points of ``data_2``.  String and
        binary columns are left out, with a warning: the layout holds numbers only."""
        types = list(types or ["float64"] * len(names))
        units = list(units or [None] * len(names))
        descriptions = list(descriptions or [None] * len(names))
        self._kept = [i for i, t in enumerate(types) if t not in TEXT_TYPES]
        left_out = [name for name, t in zip(names, types) if t in TEXT_TYPES]
        if left_out:
            logging.getLogger("cosim").warning(
                "result file %s: the MAT layout holds numbers only; the string and binary "
                "columns %s are left out (write CSV or Parquet to keep them)",
                self.path, ", ".join(left_out))
        names = [names[i] for i in self._kept]
        units = [units[i] for i in self._kept]
        descriptions = [descriptions[i] for i in self._kept]
        count = len(names)
        self._types = [types[i] for i in self._kept]
        described = [describe("simulation time", "s")] + [
            describe(d, u) for d, u in zip(descriptions, units)]
        info = np.array([[0, 1, 0, -1]] + [[2, k + 2, 0, -1] for k in range(count)], np.int32)
        self._file = open_for_writing(self.path, "wb")
        head = (_text_matrix("Aclass", _ACLASS, transposed=False)
                + _text_matrix("name", ["time", *self.headers(names)], transposed=True)
                + _text_matrix("description", described, transposed=True)
                + _header(_INT32, 4, count + 1, "dataInfo") + info.tobytes())
        head += _header(_DOUBLE, 1, 2, "data_1")
        self._data_1 = len(head)            # offset of the start and end time
        head += np.zeros(2).tobytes()
        self._data_2 = len(head)            # offset of data_2's header
        head += _header(_DOUBLE, count + 1, 0, "data_2")
        self._file.write(head)
        self._file.flush()

    def append(self, times, rows) -> None:
        """Append time points to ``data_2``, then count them in its header."""
        times = np.asarray(times, dtype=np.float64)
        if not len(times):
            return
        rows = np.asarray(rows).view(np.uint64)[:, self._kept]
        table = np.empty((len(times), len(self._types) + 1))
        table[:, 0] = times
        for i, type_ in enumerate(self._types):
            table[:, i + 1] = decode(rows[:, i], type_)
        self._file.seek(0, 2)
        self._file.write(table.tobytes())
        if self._points == 0:
            self._file.seek(self._data_1)
            self._file.write(struct.pack("<d", times[0]))
        self._points += len(times)
        self._file.seek(self._data_1 + 8)
        self._file.write(struct.pack("<d", times[-1]))
        self._file.seek(self._data_2 + 8)      # the header's column count
        self._file.write(struct.pack("<i", self._points))
        self._file.flush()

    def close(self) -> None:
        """Close the file (it is complete after every chunk)."""
        if self._file is not None and not self._file.closed:
            self._file.close()
