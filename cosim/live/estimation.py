"""Online estimation of slowly varying parameters over a sliding window.

An :class:`Estimator` attached to a :class:`~cosim.live.twin.LiveTwin` keeps
the twin's state at regular checkpoints.  Every ``every`` seconds it replays
the last ``window`` seconds in a shadow simulation of the same system: from
the checkpoint's state, with the inputs the twin was given, once per candidate
parameter value, and lets scipy's ``least_squares`` find the values whose
outputs best match the plant's measurements.  The estimate is then set on the
running twin (the parameters must be tunable).
"""
from __future__ import annotations

import math
import time as _time
from collections import deque
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import least_squares

from cosim.errors import ConfigurationError, CosimError

if TYPE_CHECKING:
    from cosim.execution.simulation import Simulation
    from cosim.live.twin import LiveTwin


class Estimator:
    """Fit tunable parameters to the plant over a sliding window.

    Parameters
    ----------
    parameters : dict
        ``{"component.parameter": (lower, upper)}``: the tunable parameters to
        estimate and their bounds.
    window : float
        Seconds of history each fit uses.
    every : float or None
        Seconds between fits (default ``window``); the twin's state is saved at
        this interval, so ``window`` should be a multiple of it.
    signals : list of str or None
        Compared signals to fit (default: every comparison of the twin).
    sigma : dict or None
        Signal -> typical measurement error, dividing its residuals so that
        signals in different units weigh alike (default 1).
    apply : bool
        Set each estimate on the running twin.
    min_points : int
        Fits with fewer measured points in the window are skipped.
    max_evaluations : int
        Limit on replays per fit.
    """

    def __init__(self, parameters: dict, *, window: float, every: float | None = None,
                 signals=None, sigma: dict | None = None, apply: bool = True,
                 min_points: int = 5, max_evaluations: int = 40):
        if not parameters:
            raise ConfigurationError("an estimator needs at least one parameter")
        for name, bounds in parameters.items():
            try:
                lower, upper = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise ConfigurationError(f"estimator: bounds of {name} must be (lower, upper), "
                                         f"got {bounds!r}") from None
            if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
                raise ConfigurationError(f"estimator: bounds of {name} must be finite with "
                                         f"lower < upper, got {bounds!r}")
        if not window > 0:
            raise ConfigurationError(f"estimator: window must be > 0, got {window!r}")
        every = window if every is None else every
        if not 0 < every <= window:
            raise ConfigurationError(f"estimator: every must be in (0, window], got {every!r}")
        self.parameters = {k: (float(a), float(b)) for k, (a, b) in parameters.items()}
        self.window, self.every = float(window), float(every)
        self.signals = None if signals is None else list(signals)
        self.sigma = dict(sigma or {})
        self.apply, self.min_points, self.max_evaluations = apply, min_points, max_evaluations
        self.estimate: dict[str, float] = {}
        self.history: list[tuple[float, dict, float]] = []   # (time, estimate, rms residual)
        self.fits = self.evaluations = self.failures = 0
        self.last_error: str | None = None
        self.fit_seconds = 0.0
        self._twin: LiveTwin | None = None
        self._shadow: Simulation | None = None

    def attach(self, twin) -> None:
        """Check the estimator against ``twin`` (called by the twin)."""
        self._twin = twin
        sim = twin.simulation
        names = list(self.parameters)
        self._set_live = sim.writer(names)      # raises for fixed or unknown parameters
        self._read_live = sim.reader(names)
        compared = [c.signal for c in twin.comparisons]
        signals = compared if self.signals is None else self.signals
        missing = [s for s in signals if s not in compared]
        if missing or not signals:
            raise ConfigurationError(f"estimator of {', '.join(names)}: no comparison of "
                                     f"{', '.join(map(repr, missing)) or 'any signal'}")
        self._columns = [compared.index(s) for s in signals]
        self._outputs = [twin.comparisons[i].output for i in self._columns]
        self._weights = np.array([1.0 / self.sigma.get(s, 1.0) for s in signals])
        self.estimate = dict(zip(names, self._read_live().tolist()))
        self._checkpoints: deque = deque()
        self._next_checkpoint = twin.time
        self._next_fit = twin.time + self.window

    def at(self, t: float) -> None:
        """Called by the twin at each communication point, after inputs and
        measurements at ``t`` are recorded and before the step."""
        twin = self._twin
        assert twin is not None         # the twin calls at() only after attach()
        eps = 1e-9 * max(1.0, abs(t))
        if t + eps >= self._next_fit:
            self._next_fit += self.every * max(1, math.floor((t + eps - self._next_fit) / self.every) + 1)
            self._fit(t)
        if t + eps >= self._next_checkpoint:
            self._checkpoints.append((t, twin.simulation.save_state()))
            self._next_checkpoint = t + self.every
            while len(self._checkpoints) > 1 and self._checkpoints[1][0] <= t - self.window + eps:
                self._checkpoints.popleft()

    def _fit(self, t: float) -> None:
        began = _time.perf_counter()
        try:
            self._fit_window(t)
        except (CosimError, ValueError, FloatingPointError) as exc:
            # A failed replay (a candidate the model rejects, a diverging
            # trajectory) must not stop the twin; it is counted and reported.
            self.failures += 1
            self.last_error = f"fit at t={t:g} s failed: {exc}"
            # A failed step stops the shadow simulation; the next fit starts a new one.
            self.close()
        finally:
            self.fit_seconds += _time.perf_counter() - began

    def _fit_window(self, t: float) -> None:
        # The latest checkpoint at least a window back (older ones may still be kept).
        limit = t - self.window + 1e-9 * max(1.0, abs(t))
        start = None
        for ct, state in self._checkpoints:
            if ct > limit:
                break
            start = (ct, state)
        if start is None:
            return
        t0, state = start
        twin = self._twin
        assert twin is not None         # a fit runs from at(), after attach()
        times, inputs = twin.inputs.window(t0)
        _, measured = twin.measured.window(t0)
        measured = measured[:, self._columns]
        valid = ~np.isnan(measured)
        if np.count_nonzero(valid) < self.min_points:
            return
        shadow = self._shadow_simulation()
        write_inputs = self._shadow_write_inputs
        write_params, read = self._shadow_write_params, self._shadow_read
        lower = np.array([b[0] for b in self.parameters.values()])
        upper = np.array([b[1] for b in self.parameters.values()])
        span = upper - lower

        def residuals(x):
            self.evaluations += 1
            shadow.load_state(state)
            write_params(lower + x * span)
            out = np.empty_like(measured)
            for k in range(len(times)):
                # As the twin did at this point: set the inputs, then read the
                # outputs (some follow their inputs at once), then step.
                # Inputs not yet bound (NaN) keep the value in the state.
                if len(inputs[k]) and not np.isnan(inputs[k]).any():
                    write_inputs(inputs[k])
                out[k] = read()
                if k + 1 < len(times):
                    shadow.step(1)
            r = ((measured - out) * self._weights)[valid]
            if not np.isfinite(r).all():
                raise ValueError(f"the replay with {self._describe(lower + x * span)} "
                                 "gave non-finite outputs")
            return r

        x0 = np.clip((np.array(list(self.estimate.values())) - lower) / span, 0.0, 1.0)
        fit = least_squares(residuals, x0, bounds=(0.0, 1.0), diff_step=1e-3,
                            max_nfev=self.max_evaluations, x_scale=0.1)
        values = lower + fit.x * span
        self.estimate = dict(zip(self.parameters, values.tolist()))
        rms = float(np.sqrt(np.mean(fit.fun ** 2))) if len(fit.fun) else math.nan
        self.history.append((t, dict(self.estimate), rms))
        self.fits += 1
        if self.apply:
            self._set_live(values)

    def _describe(self, values) -> str:
        return ", ".join(f"{k} = {v:.6g}" for k, v in zip(self.parameters, values))

    def _shadow_simulation(self):
        if self._shadow is None:
            sim = self._twin.simulation
            self._shadow = sim.composed.start(step_size=sim.step_size, start_time=sim.start_time,
                                              record=sim.result.names, threads=1,
                                              **sim.coupling)
            self._shadow_write_inputs = self._shadow.writer([b.target for b in self._twin.bindings])
            self._shadow_write_params = self._shadow.writer(list(self.parameters))
            self._shadow_read = self._shadow.reader(self._outputs)
        return self._shadow

    def close(self) -> None:
        """Free the shadow simulation."""
        if self._shadow is not None:
            self._shadow.stop()
            self._shadow = None

    def summary(self) -> str:
        values = self._describe(self.estimate.values())
        rms = f", fit rms {self.history[-1][2]:.4g}" if self.history else ""
        failed = f", {self.failures} failed ({self.last_error})" if self.failures else ""
        return (f"estimate {values} after {self.fits} fits ({self.evaluations} replays, "
                f"{self.fit_seconds:.3f} s){rms}{failed}")
