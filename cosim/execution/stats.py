"""What the master did with each component during a run."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ComponentStats"]


@dataclass(frozen=True)
class ComponentStats:
    """What the master did with one component during a run.

    ``steps`` counts do-step calls (rejected ones included), ``rejected``
    the steps thrown away by the step-size control, ``rollbacks`` the states
    restored, ``loop_iterations`` the algebraic-loop sweeps it took part in,
    ``step_time`` the seconds spent in its do step (measured only when the
    simulation was started with ``profile=True``; 0 otherwise), and
    ``newton_solves`` the times a loop it is in was solved by Newton's method.
    For FMI 3 FMUs, ``events`` counts the events handled in event mode and
    ``early_returns`` the fmi3DoStep calls that ended before the communication
    point (each stepped on from where it stopped); rejected steps included.
    ``restarts`` counts the times an isolated component's worker was started
    again after a crash (``on_crash="restart"``); the steps taken again after
    each restart count in ``steps``.
    """

    steps: int
    rejected: int
    rollbacks: int
    loop_iterations: int
    step_time: float
    events: int = 0
    early_returns: int = 0
    newton_solves: int = 0
    restarts: int = field(default=0, kw_only=True)
