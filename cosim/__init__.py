"""cosim: an FMI co-simulation orchestrator for factory digital twins."""

from cosim import twins
from cosim.errors import CosimError, TwinNotFoundError

__version__ = "0.1.0"

__all__ = ["CosimError", "TwinNotFoundError", "twins", "__version__"]
