"""Newton's method on an algebraic loop, for the native core.

The core sweeps a loop to a fixed point natively; when the sweeps diverge or
stall it calls :func:`solve` with the GIL held.  The loop is reached through
a :class:`LoopAccess`-shaped object (the core), so this module holds no native
state: each residual evaluation is one native sweep of the loop.
"""

from typing import Protocol

import numpy as np

from cosim.errors import AlgebraicLoopError

# What solve answers (the core's NEWTON_* codes).
SOLVED, FAILED, RETRY = 0, 1, 2


class SweepFailed(Exception):
    """A unit failed during a loop sweep; its failure record says which."""


class LoopAccess(Protocol):
    """What Newton's method needs of the core, for loop ``i``."""

    loop_tolerance: float
    time: float

    def _loop_start(self, i: int) -> np.ndarray:
        """The loop's float64 values when its solve began."""

    def _loop_residual(self, i: int, u: np.ndarray) -> np.ndarray:
        """One sweep from values u; new values - u.  Raises SweepFailed."""

    def _loop_keep_discrete(self, i: int) -> None:
        """Remember the loop's int32 and bool values."""

    def _loop_discrete_changed(self, i: int) -> bool:
        """Whether they changed since they were remembered."""

    def _loop_labels(self, i: int) -> tuple:
        """(unit names, float64 slot names, discrete slot names, number of discrete values)."""

    def _discrete_error(self, i: int, sweeps: int) -> AlgebraicLoopError:
        """The error naming the loop's int32/bool values that still change."""


def solve(core: LoopAccess, i: int, remembered: bool, jacobians: dict) -> tuple[int, object]:
    """Newton's method on loop ``i``: (SOLVED, None), or (FAILED, error), or
    (RETRY, None) when ``remembered`` and the loop did not converge, so that
    the core tries the sweeps first.  ``jacobians`` keeps each loop's
    Jacobian from its first solve."""
    try:
        _solve_newton(core, i, remembered, jacobians)
        return SOLVED, None
    except AlgebraicLoopError as exc:
        if remembered:
            return RETRY, None
        return FAILED, exc
    except BaseException as exc:
        return FAILED, exc


def _solve_newton(core: LoopAccess, i: int, remembered: bool, jacobians: dict) -> None:
    """scipy's hybr on loop i from its start values; raises AlgebraicLoopError
    if it fails.  A ``remembered`` loop first tries a few Newton steps with
    the Jacobian kept from its last solve."""
    from scipy.optimize import root

    start = core._loop_start(i)
    members, names, _, _ = core._loop_labels(i)
    if remembered and _chord(core, i, start, jacobians.get(i)):
        return
    with np.errstate(all="ignore"):
        solution = root(lambda u: core._loop_residual(i, u), start, method="hybr",
                        options={"xtol": min(1e-12, core.loop_tolerance)})
    residual = _settled_residual(core, i, solution.x)
    if _converged(core, residual, solution.x):
        if i not in jacobians:
            jacobians[i] = _jacobian(core, i, solution.x, residual)
        return
    detail = ", ".join(f"{name}={r:.3g}" for name, r in zip(names, residual))
    raise AlgebraicLoopError(
        f"algebraic loop through {', '.join(members)} did not converge at t={core.time:g} s: "
        f"fixed-point iteration diverged or stalled, and Newton's method failed "
        f"({solution.message.strip()}); residuals: {detail}. A singular loop (gain "
        "product of 1) has no unique solution: change a gain or break the loop",
        [list(members)], residuals=dict(zip(names, residual.tolist())), time=core.time)


def _settled_residual(core: LoopAccess, i: int, x: np.ndarray) -> np.ndarray:
    """The residual at x, swept until the loop's int32 and bool values repeat
    (AlgebraicLoopError naming them if they do not within two more sweeps)."""
    residual = core._loop_residual(i, x)
    if core._loop_labels(i)[3] == 0:
        return residual
    for _ in range(2):
        core._loop_keep_discrete(i)
        residual = core._loop_residual(i, x)
        if not core._loop_discrete_changed(i):
            return residual
    raise core._discrete_error(i, 2)


def _converged(core: LoopAccess, residual: np.ndarray, x: np.ndarray) -> bool:
    scaled = np.abs(residual) / (1.0 + np.abs(x))
    return bool(np.all(np.isfinite(scaled)) and scaled.max(initial=0.0) <= core.loop_tolerance)


def _chord(core: LoopAccess, i: int, u: np.ndarray, jacobian) -> bool:
    """Newton steps with the kept Jacobian of loop i from u (a loop that needed
    Newton at the previous points); whether they solved it.  A loop whose
    values did not move since the last point takes one sweep."""
    try:
        residual = _settled_residual(core, i, u)
        for _ in range(4):
            if _converged(core, residual, u):
                return True
            if jacobian is None:
                return False
            with np.errstate(all="ignore"):
                u = u - np.linalg.solve(jacobian, residual)
            residual = _settled_residual(core, i, u)
    except (AlgebraicLoopError, np.linalg.LinAlgError):
        pass
    return False


def _jacobian(core: LoopAccess, i: int, x: np.ndarray, residual: np.ndarray):
    """Forward-difference Jacobian of loop i's residual at x (one sweep per
    value), leaving the loop's values as the sweep from x left them."""
    n = len(x)
    jacobian = np.empty((n, n))
    for k in range(n):
        h = 1e-7 * max(1.0, abs(x[k]))
        shifted = x.copy()
        shifted[k] += h
        jacobian[:, k] = (core._loop_residual(i, shifted) - residual) / h
    core._loop_residual(i, x)
    return jacobian if np.all(np.isfinite(jacobian)) else None
