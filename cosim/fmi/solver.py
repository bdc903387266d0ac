"""How a model exchange component is integrated: the solver and its tolerances.

Plain data, checked when made; composing a system with model exchange
components needs nothing compiled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cosim.errors import ConfigurationError

__all__ = ["SOLVERS", "Solver"]

# "cvode" is SUNDIALS CVode (BDF, shipped with fmpy); the others are scipy's.
SOLVERS = ("cvode", "bdf", "lsoda", "radau", "rk45", "rk23", "dop853")


@dataclass(frozen=True, kw_only=True)
class Solver:
    """How a model exchange component is integrated.

    Parameters
    ----------
    method : str, keyword-only
        "cvode" (SUNDIALS CVode, BDF with a dense Newton solver: stiff
        models; the default) or a scipy solver: "bdf", "lsoda", "radau"
        (stiff), "rk45", "rk23", "dop853" (non-stiff).
    rtol : float, keyword-only
        Relative tolerance (also passed to the FMU as its tolerance).
    atol : float or None, keyword-only
        Absolute tolerance; None means ``rtol`` times each state's nominal value.
    max_step : float or None, keyword-only
        Longest internal step in seconds; None for no limit (the solver still
        stops at every communication point and time event).
    event_tolerance : float, keyword-only
        Scipy solvers: how closely (in seconds, relative to ``max(1, |t|)``) a state
        event's time is located.  CVode uses its own root finding.

    Examples
    --------
    >>> Solver(method="radau", rtol=1e-8).method
    'radau'
    """

    method: str = "cvode"
    rtol: float = 1e-6
    atol: float | None = None
    max_step: float | None = None
    event_tolerance: float = 1e-10

    def __post_init__(self):
        if self.method not in SOLVERS:
            raise ConfigurationError(f"solver method must be one of {', '.join(SOLVERS)}, "
                                     f"got {self.method!r}")
        for name in ("rtol", "atol", "max_step", "event_tolerance"):
            value = getattr(self, name)
            if name in ("atol", "max_step") and value is None:
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"solver {name} must be a positive number, got {value!r}")

    @classmethod
    def coerce(cls, value) -> Solver:
        """A Solver from a Solver, a method name, a dict of options or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(method=value)
        if isinstance(value, dict):
            try:
                return cls(**value)
            except TypeError as exc:
                raise ConfigurationError(f"solver options: {exc}") from None
        raise ConfigurationError(f"solver must be a Solver, a method name or a dict, "
                                 f"not {type(value).__name__}")
