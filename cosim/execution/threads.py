"""How many threads the Jacobi loop steps FMUs on, decided on real steps of the run.

Parallel stepping pays only when the FMUs' do steps take long enough to cover
waking and joining threads; :func:`calibrate` times serial and parallel
stepping on the first steps of a run and keeps the faster.  Results do not
depend on the choice.
"""

from __future__ import annotations

import logging
import time

__all__ = ["PARALLEL_MIN_STEP_S", "calibrate"]

log = logging.getLogger("cosim")

# Below this much work per step, parallel Jacobi is not even tried: waking
# and joining threads costs a few microseconds.
PARALLEL_MIN_STEP_S = 20e-6


def calibrate(core, advance, *, fmu_units: list, n_units: int, cores: int,
              until_step: int) -> None:
    """Set ``core.threads`` to 1 or ``cores`` after timing both on real steps
    of the run (taken with ``advance(step_index)``, never past ``until_step``)."""
    trial = min(2000, (until_step - core.step_index) // 8)
    if trial < 5:
        return

    def timed(threads):
        core.threads = threads
        started = time.perf_counter()
        advance(core.step_index + trial)
        return time.perf_counter() - started

    if len(fmu_units) < n_units:
        # Threads share only the FMUs' work, and their spinning slows the
        # Python-backed units down: try them only if the FMUs' do steps
        # take enough of the step to pay for that.
        profiling = core.profile
        core.profile = True
        before = core.statistics()
        serial = timed(1)
        after = core.statistics()
        core.profile = profiling
        if not profiling:
            core.clear_step_times()
        fmu_time = sum(after[k][4] - before[k][4] for k in fmu_units)
        gain = fmu_time * (1 - 1 / cores)
        if gain / trial < PARALLEL_MIN_STEP_S or gain < 0.2 * serial:
            core.threads = 1
            return
    else:
        serial = timed(1)
    if serial / trial < PARALLEL_MIN_STEP_S:
        core.threads = 1         # waking threads would cost more than the work they share
        return
    timings = {1: serial, cores: timed(cores)}
    timings[1] = min(timings[1], timed(1))
    timings[cores] = min(timings[cores], timed(cores))
    core.threads = cores if timings[cores] < 0.9 * timings[1] else 1
    log.debug("Jacobi on %d thread(s): serial %.3g s, %d threads %.3g s per %d steps",
              core.threads, timings[1], cores, timings[cores], trial)
