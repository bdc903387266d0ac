"""Recorded results: in memory as numpy arrays, and on disk as the run goes.

Rows arrive in chunks from the master.  :class:`~cosim.results.Result` keeps
them in memory; a writer chosen by the file's extension with
:func:`writer_for` puts them on disk chunk by chunk, so that a run that fails
leaves a readable file up to the failure:

- ``.csv``: :class:`CsvWriter`, ``time`` plus one column per variable, no units;
- ``.parquet``: :class:`ParquetWriter`, typed columns, units and descriptions
  in the field metadata;
- ``.mat``: :class:`MatWriter`, the Modelica result layout of Dymola and
  OpenModelica (MATLAB level 4).

:func:`read_result` reads any of them back into a :class:`Result`, which
:meth:`Result.plot` draws and :meth:`Result.to_pandas` turns into a DataFrame.
"""

from cosim.results.cells import cell_dtype
from cosim.results.csv_file import CsvWriter
from cosim.results.mat_file import MatWriter
from cosim.results.parquet_file import ParquetWriter
from cosim.results.reading import read_result
from cosim.results.result import Result
from cosim.results.writers import FORMATS, ResultWriter, writer_for

__all__ = ["FORMATS", "CsvWriter", "MatWriter", "ParquetWriter", "Result", "ResultWriter",
           "cell_dtype", "read_result", "writer_for"]
