"""cosim: an FMI co-simulation orchestrator for factory digital twins.

Compose FMUs (and Python-backed components) into a :class:`System`, check
it with :func:`execution_order` and :func:`algebraic_loops`, and run it with
:meth:`System.simulate` or step by step with :meth:`System.start`.
"""

import logging

from cosim import twins
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
from cosim.fmi.model_exchange import Solver
from cosim.results import Result
from cosim.ssp import load
from cosim.system import System

__version__ = "0.1.0"

# A library logs but leaves handlers to the application (the CLI sets them up).
logging.getLogger("cosim").addHandler(logging.NullHandler())

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
