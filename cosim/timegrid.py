"""The communication points of a run, for any positive finite step size.

Fixed-step point ``n`` is ``t0 + n*h`` evaluated in double precision from
the integer step count: never accumulated, so it does not drift, and equal,
bit for bit, to the ``start_time + n*step_size`` that fmpy and most
importers compute.  The last point is the stop time: when a grid point lies
within fmpy's closeness (relative 1e-9) of the stop time, that grid point
ends the run instead, as in fmpy; otherwise the last step is shortened to
end exactly at the stop time.

Variable steps choose each step's length; the points they must reach (the
output points ``t0 + k*output_interval``, the end and the times asked for
with ``run_until``) are set exactly, never reached by adding steps up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cosim.errors import ConfigurationError

__all__ = ["TimeGrid", "check_seconds", "time_grid"]

# Step counts stay below this, so that they fit a C long long with room.
UNBOUNDED = 2**62


def close(a: float, b: float) -> bool:
    """Whether two times are the same point, as fmpy judges the end of a run."""
    return math.isclose(a, b, rel_tol=1e-9)


def check_seconds(value, name: str, *, positive: bool = False) -> float:
    """``value`` as a float of seconds, or a ConfigurationError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number of seconds, got {value!r}")
    if positive and not value > 0:
        raise ConfigurationError(f"{name} must be > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TimeGrid:
    """Where the communication points of one run lie."""

    start: float
    step: float              # the fixed step; with variable steps, the first one tried
    n_steps: int             # fixed steps to the last point; UNBOUNDED without a stop time
    end: float               # the last point: the stop time, or a grid point close to it
    record_every: int = 1    # fixed steps: record every this many steps
    output_interval: float = 0.0     # variable steps: 0 records after every accepted step
    min_step: float = 0.0
    max_step: float = 0.0

    def at(self, n: int) -> float:
        """The time of fixed-step point ``n``."""
        return self.end if n >= self.n_steps else self.start + n * self.step

    def step_at_or_after(self, time: float) -> int:
        """The first fixed-step point at ``time`` or later (or close to it)."""
        if time >= self.end or close(time, self.end):
            return self.n_steps
        n = max(0, math.floor((time - self.start) / self.step) - 1)
        while self.at(n) < time and not close(self.at(n), time):
            n += 1
        return n


def _last_step(start: float, step: float, stop: float) -> tuple[int, float]:
    """Steps to the last point and its time: the first grid point at or after
    ``stop`` when it is close to ``stop``, else ``stop`` itself."""
    # a step above the resolution of time makes fewer than 2**53 of them
    n = max(1, math.floor((stop - start) / step) - 1)
    while start + n * step < stop and not close(start + n * step, stop):
        n += 1
    grid = start + n * step
    return n, (grid if close(grid, stop) else stop)


def time_grid(*, start_time: float, step_size: float, stop_time: float | None,
              output_interval: float | None = None, variable_step: bool = False,
              min_step: float | None = None, max_step: float | None = None) -> TimeGrid:
    """The communication points of a run; raises ConfigurationError naming a bad option."""
    start = check_seconds(start_time, "start_time")
    step = check_seconds(step_size, "step_size", positive=True)
    stop = None if stop_time is None else check_seconds(stop_time, "stop_time")
    if stop is not None and not stop > start:
        raise ConfigurationError(f"stop_time ({stop}) must be after start_time ({start})")
    interval = None if output_interval is None else check_seconds(
        output_interval, "output_interval", positive=True)
    if start + step == start or (stop is not None and stop - step == stop):
        raise ConfigurationError(f"step_size={step!r} s is below the resolution of time at "
                                 f"{max(abs(start), abs(stop or 0.0))!r} s: points would not "
                                 "advance")
    n_steps, end = (UNBOUNDED, math.inf) if stop is None else _last_step(start, step, stop)
    if not variable_step:
        record_every = 1
        if interval is not None:
            record_every = max(1, round(interval / step))
            if not close(record_every * step, interval):
                raise ConfigurationError(f"output_interval ({interval}) must be a positive "
                                         f"multiple of step_size ({step})")
        return TimeGrid(start, step, n_steps, end, record_every)
    smallest = step / 1000 if min_step is None else check_seconds(min_step, "min_step", positive=True)
    largest = 100 * step if max_step is None else check_seconds(max_step, "max_step", positive=True)
    if not smallest <= largest:
        raise ConfigurationError(f"min_step ({smallest}) must be at most max_step ({largest})")
    return TimeGrid(start, step, n_steps, stop if stop is not None else math.inf,
                    output_interval=interval or 0.0, min_step=smallest, max_step=largest)
