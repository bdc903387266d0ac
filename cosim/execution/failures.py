"""From what the native loop reports as failed to one error naming every failure.

The loop records, per failed unit, the stage (set, step, get ...), the value
group, the FMI status and, for FMI 3 event-mode steps, which call failed.
:func:`failure_error` turns that list into one
:class:`~cosim.errors.FmiCallError` (several failures in one step are kept
as a list inside it); an FMU's own failed call becomes an error in one place,
:meth:`cosim.fmi._binding.Instance.call_error`.
"""

from __future__ import annotations

from cosim.errors import CosimError, FmiCallError, SimulationTerminated
from cosim.fmi._binding import EVENT_CALLS, TYPE_CODES, Instance, fmi_name, function_name
from cosim.master._core import STAGES

__all__ = ["failure_error", "failure_reason"]


def _fmi_function(runtime: Instance, stage: int, group: int, call: int) -> str:
    """The FMI function a failed stage of the loop called."""
    version = {"1.0": 1, "2.0": 2}.get(runtime.model.fmi_version, 3)
    if STAGES[stage] != "step":
        return function_name(version, STAGES[stage].capitalize(), TYPE_CODES[group])
    return EVENT_CALLS[call] if version == 3 else fmi_name(version, "DoStep")


def failure_error(failures, runtimes: list, names: list, python_errors: dict,
                  time: float) -> FmiCallError:
    """One FmiCallError for the loop's ``failures`` at ``time``.

    ``failures`` are (unit, stage, group, status, call) tuples from the core;
    ``python_errors`` maps units backed by Python to the exception they raised.
    """
    errors = []
    cause = None
    for unit, stage, group, status, call in failures:
        runtime = runtimes[unit]
        if isinstance(runtime, Instance):
            errors.append(runtime.call_error(_fmi_function(runtime, stage, group, call),
                                             status, time))
            continue
        cause = python_errors.get(unit)
        if isinstance(cause, FmiCallError):     # a remote twin says what failed
            errors.append(cause)
            continue
        what = "do_step" if STAGES[stage] == "step" else STAGES[stage]
        message = f"{type(cause).__name__}: {cause}" if cause is not None else ""
        errors.append(FmiCallError(f"{type(runtime).__name__}.{what}", names[unit], status, time,
                                   message))
    error = FmiCallError.combine(errors)
    if error is not cause:
        error.__cause__ = cause
    return error


def failure_reason(error: CosimError) -> str:
    """Why a run ended, for ``Result.end_reason``: the first line of its error."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return first if isinstance(error, SimulationTerminated) else f"failed: {first}"
