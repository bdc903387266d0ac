"""Parquet result files: typed columns with units and descriptions in the schema.

Each column is a field of its value type (float64, float32, int8 ... uint64,
bool, string, binary) whose field metadata holds ``unit`` and ``description`` where the model
declares them; ``time`` is a float64 field with unit ``s``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cosim.results.cells import decode
from cosim.errors import ResultFileError
from cosim.results.writers import ResultWriter

__all__ = ["ParquetWriter", "field_metadata"]

#: Rows gathered before a row group is written: a real-time run hands over a
#: few rows at a time, and a row group per handful of rows bloats the file;
#: the writer also keeps each row group's metadata in memory until the footer
#: is written, so a long run wants few of them.  A row group holds about
#: ROW_GROUP_CELLS values (8 MB), at least ROW_GROUP_ROWS and at most
#: ROW_GROUP_MAX_ROWS rows.
ROW_GROUP_ROWS = 4096
ROW_GROUP_MAX_ROWS = 1 << 18
ROW_GROUP_CELLS = 1 << 20


def field_metadata(unit: str | None, description: str | None) -> dict | None:
    """The metadata of a column's field: ``unit`` and ``description`` where known."""
    meta = {key: value for key, value in (("unit", unit), ("description", description)) if value}
    return meta or None


def _arrow_type(pa, type_: str):
    special = {"bool": pa.bool_(), "string": pa.string(), "binary": pa.binary()}
    return special.get(type_) or pa.from_numpy_dtype(np.dtype(type_))


class ParquetWriter(ResultWriter):
    """Write result rows to a Parquet file, a row group at a time as the run goes.

    Rows are gathered into row groups of at least :data:`ROW_GROUP_ROWS` rows
    (the last one may be shorter).  Parquet puts the table's footer at the end
    of the file, so the file becomes readable when the writer closes: the
    simulation closes it when a run ends, fails or is stopped, and the file
    then holds every row up to there.  A process killed outright leaves no
    footer; write CSV or MAT where that must be survived.  Parameters: see
    :class:`~cosim.results.writers.ResultWriter`.
    """

    suffix = ".parquet"

    def __init__(self, path, *, strip_component: str | None = None):
        super().__init__(path, strip_component=strip_component)
        self._writer: Any = None
        self._pending: list = []
        self._pending_rows = 0

    def start(self, names: list[str], *, types: list[str] | None = None,
              units: list | None = None, descriptions: list | None = None,
              texts: dict | None = None) -> None:
        """Open the file with its schema: the columns, their types, units and descriptions."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        count = len(names)
        self._types = list(types or ["float64"] * count)
        self._texts = self._tables(self._types, texts)
        units = list(units or [None] * count)
        descriptions = list(descriptions or [None] * count)
        fields = [pa.field("time", pa.float64(), metadata=field_metadata("s", "simulation time"))]
        for name, type_, unit, text in zip(self.headers(names), self._types, units, descriptions):
            fields.append(pa.field(name, _arrow_type(pa, type_),
                                   metadata=field_metadata(unit, text)))
        self._schema = pa.schema(fields, metadata={"producer": "cosim"})
        try:
            self._writer = pq.ParquetWriter(self.path, self._schema)
        except OSError as exc:
            raise ResultFileError(f"result file {self.path} cannot be written: {exc}") from None
        self._group_rows = min(max(ROW_GROUP_ROWS, ROW_GROUP_CELLS // len(fields)),
                               ROW_GROUP_MAX_ROWS)

    def append(self, times, rows) -> None:
        """Gather rows; write a row group once enough have arrived."""
        if len(times):
            self._pending.append((np.asarray(times), np.asarray(rows)))
            self._pending_rows += len(times)
        if self._pending_rows >= self._group_rows:
            self._write_pending()

    def _write_pending(self) -> None:
        import pyarrow as pa
        if not self._pending:
            return
        times = np.concatenate([t for t, _ in self._pending])
        rows = np.concatenate([r for _, r in self._pending]).view(np.uint64)
        columns = [pa.array(times, pa.float64())]
        columns += [pa.array(decode(rows[:, i], type_, self._texts.get(i)),
                             self._schema.field(i + 1).type)
                    for i, type_ in enumerate(self._types)]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        """Write the rows gathered so far and the footer; the file is then readable."""
        if self._writer is not None:
            try:
                self._write_pending()
            finally:
                self._writer.close()
                self._writer = None
