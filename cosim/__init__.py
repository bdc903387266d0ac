"""cosim: an FMI co-simulation orchestrator for factory digital twins.

Compose FMUs (and Python-backed components) into a :class:`System`, check
it with :func:`execution_order` and :func:`algebraic_loops`, and run it with
:meth:`System.simulate` or step by step with :meth:`System.start`.
"""

import logging

from cosim import sources, twins
from cosim.analysis import algebraic_loops, dependency_graph, execution_order, flatten
from cosim.component import PythonComponent
from cosim.errors import (
    AlgebraicLoopError,
    AmbiguousReferenceError,
    ConfigurationError,
    CosimError,
    FmiCallError,
    InvalidConnectionError,
    ModelError,
    RealtimeOverrun,
    RemoteTwinError,
    ServiceError,
    SimulationTerminated,
    SourceUnavailableError,
    SspError,
    SystemStructureError,
    TwinNotFoundError,
)
from cosim.execution import ComponentStats, Simulation, simulate
from cosim.fmi.archive import read_model
from cosim.fmi.solver import Solver
from cosim.results import Result
from cosim.ssp import load
from cosim.system import System

__version__ = "0.1.0"

# A library logs but leaves handlers to the application (the CLI sets them up).
logging.getLogger("cosim").addHandler(logging.NullHandler())


def _open_remote(url: str, *, token, name):
    from cosim.rpc.remote import RemoteTwin      # gRPC only for systems that use it
    return RemoteTwin(url, token=token, name=name)


def _start(system, **options):
    from cosim.execution import Simulation
    return Simulation(system, **options)


def _save(system, path):
    from cosim.ssp import save
    return save(system, path)


# The graph (cosim.system) imports no layer above it; they are wired here.
sources.register_scheme("grpc://", _open_remote)
sources.register_action("simulate", lambda system, **options: simulate(system, **options))
sources.register_action("start", _start)
sources.register_action("save", _save)

__all__ = [
    "AlgebraicLoopError",
    "AmbiguousReferenceError",
    "ConfigurationError",
    "CosimError",
    "FmiCallError",
    "InvalidConnectionError",
    "ModelError",
    "PythonComponent",
    "RealtimeOverrun",
    "RemoteTwinError",
    "Result",
    "ServiceError",
    "SimulationTerminated",
    "SourceUnavailableError",
    "Simulation",
    "ComponentStats",
    "Solver",
    "System",
    "SspError",
    "SystemStructureError",
    "TwinNotFoundError",
    "algebraic_loops",
    "dependency_graph",
    "execution_order",
    "flatten",
    "load",
    "read_model",
    "simulate",
    "twins",
    "__version__",
]
