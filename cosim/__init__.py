"""cosim: an FMI co-simulation orchestrator for factory digital twins.

Compose FMUs (and Python-backed components) into a :class:`System`, check
it with :func:`execution_order` and :func:`algebraic_loops`, and run it with
:meth:`System.simulate` or step by step with :meth:`System.start`.

The public names are imported when first used, so that ``import cosim`` and
the command line start quickly; ``from cosim import System`` works as usual.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from cosim import sources

__version__ = "0.1.0"

# A library logs but leaves handlers to the application (the CLI sets them up).
logging.getLogger("cosim").addHandler(logging.NullHandler())


def _open_remote(url: str, *, token, name):
    from cosim.rpc.remote import RemoteTwin      # gRPC only for systems that use it
    return RemoteTwin(url, token=token, name=name)


def _simulate(system, **options):
    from cosim.execution import simulate
    return simulate(system, **options)


def _start(system, **options):
    from cosim.execution import Simulation
    return Simulation(system, **options)


def _save(system, path):
    from cosim.ssp import save
    return save(system, path)


# The graph (cosim.system) imports no layer above it; they are wired here.
sources.register_scheme("grpc://", _open_remote)
sources.register_action("simulate", _simulate)
sources.register_action("start", _start)
sources.register_action("save", _save)

# public name -> the module that defines it
_SOURCES = {
    **dict.fromkeys(("AlgebraicLoopError", "AmbiguousReferenceError", "ComponentCrashedError",
                     "ConfigurationError",
                     "CosimError", "FmiCallError", "InvalidConnectionError",
                     "MissingExtraError", "ModelError", "RealtimeOverrun", "RemoteTwinError",
                     "ResultFileError", "ServiceError", "SimulationTerminated",
                     "SourceUnavailableError", "SspError", "SystemStructureError",
                     "TwinNotFoundError", "UnitError"), "cosim.errors"),
    **dict.fromkeys(("algebraic_loops", "dependency_graph", "execution_order", "flatten"),
                    "cosim.analysis"),
    "PythonComponent": "cosim.component",
    **dict.fromkeys(("ComponentStats", "Observer", "Options", "Simulation", "simulate"),
                    "cosim.execution"),
    "read_model": "cosim.fmi.archive",
    "Solver": "cosim.fmi.solver",
    **dict.fromkeys(("Result", "read_result"), "cosim.results"),
    "load": "cosim.ssp",
    "System": "cosim.system",
}

__all__ = sorted([*_SOURCES, "twins", "__version__"])


def __getattr__(name: str):
    """Import a public name, or a submodule (``cosim.twins``), when first asked for."""
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'cosim' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'cosim' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:       # what type checkers and editors see
    from cosim import twins
    from cosim.analysis import algebraic_loops, dependency_graph, execution_order, flatten
    from cosim.component import PythonComponent
    from cosim.errors import (
        AlgebraicLoopError,
        AmbiguousReferenceError,
        ComponentCrashedError,
        ConfigurationError,
        CosimError,
        FmiCallError,
        InvalidConnectionError,
        MissingExtraError,
        ModelError,
        RealtimeOverrun,
        RemoteTwinError,
        ResultFileError,
        ServiceError,
        SimulationTerminated,
        SourceUnavailableError,
        SspError,
        SystemStructureError,
        TwinNotFoundError,
        UnitError,
    )
    from cosim.execution import ComponentStats, Observer, Options, Simulation, simulate
    from cosim.fmi.archive import read_model
    from cosim.fmi.solver import Solver
    from cosim.results import Result, read_result
    from cosim.ssp import load
    from cosim.system import System
