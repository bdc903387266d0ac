"""The ``cosim`` command line.

``cosim info FILE.fmu`` describes an FMU; ``cosim validate FILE`` lists every
problem of an FMU, SSP or OSP file (the defects that cosim tolerates as
warnings, unless ``--strict``); ``cosim run TARGET`` runs one FMU, an SSP file
or a Python file that defines ``system`` and writes the results as CSV,
Parquet or MAT (by the extension of ``-o``); with ``--realtime [FACTOR]`` it
paces the run to the wall clock and prints the lateness and jitter it
achieved.  ``cosim plot RESULT`` draws a result file, one panel per unit.
``cosim sweep TARGET`` runs an ensemble of variations on Dask.
``cosim serve`` runs the Orchestrator gRPC service (and, with
``--http-port``, the live view in the browser); ``cosim serve-twin
FILE.fmu`` hosts one FMU as a Twin service.  Both stop cleanly on SIGTERM.
``cosim dashboard SYSTEM_FILE`` shows one system in the live view.
Errors end the command with a one-line message and a non-zero exit status.

Each command imports what it needs when it runs, so that ``cosim --help``
and ``import cosim.cli`` stay fast (no scipy, networkx, Dask or gRPC).
"""

import cosim as _cosim


def shadowing_folder() -> str | None:
    """The folder that hides the installed cosim, or None when cosim is itself.

    A folder named ``cosim`` without ``__init__.py`` in the current directory
    (for ``python -m cosim``) or beside a script is an implicit namespace
    package; with an editable install, Python takes it for cosim before it
    asks the install, and cosim's own ``__init__`` never runs.
    """
    if getattr(_cosim, "__file__", None) is not None:
        return None
    from pathlib import Path
    return next((str(p) for p in _cosim.__path__ if not (Path(p) / "__init__.py").exists()),
                "a folder named cosim")


if shadowing_folder() is not None:
    raise ImportError(f"the folder {shadowing_folder()} hides the installed cosim (Python imports "
                      "a folder named cosim in the current directory, or beside the script, "
                      "in its place); rename that folder or run from another directory")

from cosim.cli.parser import (  # noqa: E402
    ALGORITHMS, EXTRAPOLATIONS, ON_CRASH, OVERRUN_POLICIES, build_parser, main)

__all__ = ["ALGORITHMS", "EXTRAPOLATIONS", "ON_CRASH", "OVERRUN_POLICIES", "build_parser", "main"]
