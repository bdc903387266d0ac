"""Reading result files back: CSV, Parquet and MAT files as cosim writes them.

Parquet and MAT files give back each column's unit and description; a CSV
file has only names and values (integers read as int64, other numbers as
float64, text as strings: binaries come back as their hexadecimal text).
MAT files in the Modelica result layout from Dymola or OpenModelica read
too (their parameters become constant columns).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cosim.errors import ResultFileError
from cosim.results.cells import TEXT_TYPES, encode, encode_text
from cosim.results.result import Result
from cosim.results.writers import format_of

__all__ = ["read_result"]

_UNIT = re.compile(r"^(.*?)\s*\[([^\[\]]*)\]$")


def read_result(path) -> Result:
    """Read a result file written by cosim (``.csv``, ``.parquet`` or ``.mat``).

    Parameters
    ----------
    path : str or Path
        The file; its extension names its format.

    Returns
    -------
    Result
        ``time``, the columns with their types, and (Parquet, MAT) their
        units and descriptions.

    Raises
    ------
    ResultFileError
        For a missing file, an extension that names no format, or a file that
        is not a result of that format (corrupt, truncated, something else).
    """
    path = Path(path)
    suffix = format_of(path)
    if not path.is_file():
        raise ResultFileError(f"result file {path} does not exist")
    reader = {".csv": _read_csv, ".parquet": _read_parquet, ".mat": _read_mat}[suffix]
    try:
        columns, times = reader(path)
    except ResultFileError:
        raise
    except Exception as exc:        # each library has its own errors for a bad file
        raise ResultFileError(f"result file {path} cannot be read as "
                              f"{suffix[1:].upper()}: {exc}") from exc
    return _result(columns, times)


def _result(columns: list[tuple], times) -> Result:
    """A Result of (name, values, type, unit, description) columns."""
    times = np.asarray(times, dtype=np.float64)
    rows = np.empty((len(times), len(columns)), dtype=np.uint64)
    texts = {}
    for i, (_, values, type_, _, _) in enumerate(columns):
        if type_ in TEXT_TYPES:
            rows[:, i], texts[i] = encode_text(values)
        else:
            rows[:, i] = encode(values, type_)
    result = Result([c[0] for c in columns], types=[c[2] for c in columns],
                    units=[c[3] for c in columns], descriptions=[c[4] for c in columns],
                    texts=texts)
    result.append(times, rows)
    return result


def _time_first(path, names) -> None:
    if not names or names[0] != "time":
        raise ResultFileError(f"result file {path} has no 'time' first column "
                              f"(its first column: {names[0] if names else 'none'})")


def _read_csv(path: Path):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    table = pacsv.read_csv(path)
    _time_first(path, table.column_names)
    columns = []
    for name, column in zip(table.column_names[1:], table.columns[1:]):
        if pa.types.is_string(column.type) or pa.types.is_null(column.type):
            # text, or a column of empty strings (no value to type it by)
            values = ["" if v is None else v for v in column.to_pylist()]
            columns.append((name, values, "string", None, None))
            continue
        values = column.to_numpy()
        if values.dtype.kind not in "iufb":
            raise ResultFileError(f"result file {path}: column {name!r} holds values that "
                                  f"are not numbers ({column.type})")
        type_ = "bool" if values.dtype.kind == "b" else values.dtype.name
        columns.append((name, values, type_, None, None))
    return columns, table.column("time").to_numpy().astype(np.float64)


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pq.read_table(path)
    _time_first(path, table.column_names)
    columns = []
    for field, column in zip(list(table.schema)[1:], table.columns[1:]):
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        if pa.types.is_string(field.type) or pa.types.is_binary(field.type):
            type_ = "string" if pa.types.is_string(field.type) else "binary"
            columns.append((field.name, column.to_pylist(), type_, meta.get("unit"),
                            meta.get("description")))
            continue
        values = column.to_numpy()
        type_ = "bool" if values.dtype.kind == "b" else values.dtype.name
        columns.append((field.name, values, type_, meta.get("unit"), meta.get("description")))
    return columns, table.column("time").to_numpy()


def _read_mat(path: Path):
    from scipy.io import loadmat
    mat = loadmat(path, chars_as_strings=False)
    missing = [k for k in ("Aclass", "name", "description", "dataInfo", "data_2") if k not in mat]
    if missing:
        raise ResultFileError(f"result file {path} is not in the Modelica result layout "
                              f"(no {', '.join(missing)} matrix)")
    transposed = _strings(mat["Aclass"], transposed=False)[-1] == "binTrans"
    names = _strings(mat["name"], transposed=transposed)
    texts = _strings(mat["description"], transposed=transposed)
    info = mat["dataInfo"] if transposed else mat["dataInfo"].T
    data = {1: mat.get("data_1"), 2: mat["data_2"]}
    data = {k: (v if transposed else v.T) for k, v in data.items() if v is not None}
    time_row = data[2][0]
    columns = []
    for name, text, (matrix, index, *_rest) in zip(names, texts, info.T.tolist()):
        if matrix == 0 or name == "time":
            continue
        row = data[matrix][abs(index) - 1] * (1 if index > 0 else -1)
        values = row if matrix == 2 else np.full(len(time_row), row[0])
        found = _UNIT.match(text)
        unit, description = (found.group(2), found.group(1)) if found else (None, text)
        columns.append((name, values, "float64", unit or None, description or None))
    return columns, time_row


def _strings(chars, *, transposed: bool) -> list[str]:
    """The strings of a char matrix: one per column when transposed, else per row."""
    chars = np.atleast_2d(chars)
    rows = chars.T if transposed else chars
    return ["".join(row).rstrip(" \0") for row in rows]
