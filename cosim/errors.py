"""The exceptions cosim raises.

Every error derives from :class:`CosimError`, and every message names what is
at fault (file, component, variable, field) and, where it can, what would fix
it.
"""

from __future__ import annotations

import difflib

__all__ = [
    "AlgebraicLoopError",
    "ComponentCrashedError",
    "ConfigurationError",
    "CosimError",
    "FmiCallError",
    "InvalidConnectionError",
    "MissingExtraError",
    "ModelError",
    "QuotaError",
    "RealtimeOverrun",
    "RemoteTwinError",
    "ResultFileError",
    "ServiceError",
    "SimulationTerminated",
    "SourceUnavailableError",
    "SspError",
    "SystemStructureError",
    "TwinNotFoundError",
    "UnitError",
]

STATUS_NAMES = {0: "OK", 1: "warning", 2: "discard", 3: "error", 4: "fatal", 5: "pending"}


class CosimError(Exception):
    """Base class of all cosim errors."""


class TwinNotFoundError(CosimError, LookupError):
    """A component twin name that cosim does not ship."""


class ModelError(CosimError):
    """An FMU that cannot be used: missing file, bad archive, bad model description, no binary."""


class ConfigurationError(CosimError, ValueError):
    """An invalid option to a simulation (step size, stop time, algorithm, ...)."""


class ResultFileError(ConfigurationError):
    """A result file that cannot be written or read: an extension that names no
    format cosim writes, a folder that does not exist, a file that is not a
    result (corrupt, truncated, another kind of file)."""


class MissingExtraError(CosimError, ImportError):
    """An optional library that a feature needs is not installed; the message
    names the extra that installs it (``pip install 'cosim[plot]'``)."""


class SystemStructureError(CosimError):
    """A system that cannot be composed as asked: unknown or duplicate names."""


class AmbiguousReferenceError(SystemStructureError):
    """A reference that reads two ways, each naming something (component ``a.b``
    with variable ``c``, and component ``a`` with variable ``b.c``); the
    message names both readings and how to write each."""


class InvalidConnectionError(SystemStructureError):
    """A connection that breaks a rule: causality, type, or an input with two sources."""


class UnitError(InvalidConnectionError):
    """Units that cannot be converted into each other."""


class AlgebraicLoopError(CosimError):
    """An algebraic loop the master could not solve while running.

    ``loops`` holds one list of ``"component.variable"`` (or component)
    names per loop; ``residuals`` maps each exchanged value of the loop to
    its residual when the solver gave up, at simulation time ``time``.
    """

    partial_result = None       # the result up to the failure, when a run was going

    def __init__(self, message: str, loops: list[list[str]], *,
                 residuals: dict[str, float] | None = None, time: float | None = None):
        super().__init__(message)
        self.loops = loops
        self.residuals = residuals or {}
        self.time = time


class SspError(CosimError):
    """An SSP file that cannot be loaded or written.

    When reading, ``problems`` lists every error found, each with its file,
    line and element.
    """

    def __init__(self, report_or_message):
        if isinstance(report_or_message, str):
            self.problems = []
            super().__init__(report_or_message)
            return
        self.problems = report_or_message.errors
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{report_or_message.path}: {count} error{'s' if count != 1 else ''}:\n{lines}")


class FmiCallError(CosimError):
    """An FMI function returned a status above warning.

    Attributes name the ``function``, the ``instance``, the ``status`` and the
    simulation ``time``; ``message`` is what the FMU logged about it.  When
    several components fail in one step, ``failures`` lists each of them as
    an ``FmiCallError`` and the message names them all.  ``partial_result``
    holds the results recorded before the failure, when a run was going.
    """

    def __init__(self, function: str, instance: str, status: int, time: float | None,
                 message: str = "", *, failures: list[FmiCallError] | None = None):
        self.function = function
        self.instance = instance
        self.status = status
        self.time = time
        self.message = message
        self.failures = failures or [self]
        self.partial_result = None
        super().__init__(self._describe())

    def _describe(self) -> str:
        if len(self.failures) > 1:
            parts = "; ".join(f._one_line() for f in self.failures)
            return f"{len(self.failures)} components failed at t={self.time:g} s: {parts}"
        return self._one_line()

    def _one_line(self) -> str:
        when = f" at t={self.time:g} s" if self.time is not None else ""
        text = (f"component '{self.instance}': {self.function} returned "
                f"{STATUS_NAMES.get(self.status, self.status)}{when}")
        return f"{text}: {self.message}" if self.message else text

    @classmethod
    def combine(cls, failures: list[FmiCallError]) -> FmiCallError:
        """One error for several failures in the same step (the first one leads)."""
        if len(failures) == 1:
            return failures[0]
        first = failures[0]
        return cls(first.function, first.instance, first.status, first.time, first.message,
                   failures=failures)


class RemoteTwinError(FmiCallError):
    """A remote twin failed: unreachable, timed out, refused the credentials,
    died mid-run, or its model failed on the host.

    ``endpoint`` is the twin's address, ``instance`` the component using it,
    ``time`` the simulation time of the call, ``code`` the gRPC status name.
    """

    def __init__(self, endpoint: str, instance: str, function: str, time: float | None,
                 message: str, *, code: str = ""):
        self.endpoint = endpoint
        self.code = code
        super().__init__(function, instance, 3, time, message)

    def _one_line(self) -> str:
        when = f" at t={self.time:g} s" if self.time is not None else ""
        return (f"remote twin '{self.instance}' ({self.endpoint}): {self.function} failed{when}: "
                f"{self.message}")


class ComponentCrashedError(FmiCallError):
    """An isolated component's worker process died, or was killed because a
    call outlived ``call_timeout``; the simulating process goes on.

    Besides the attributes of :class:`FmiCallError`: ``fmu`` the FMU file,
    ``reason`` what happened ("crashed", "exited", "timed out", "unreachable"),
    ``signal`` the name of the signal that killed it ("SIGSEGV") or None,
    ``exit_code`` its exit status or None, ``log_lines`` the last lines the
    FMU logged, ``restarts`` how many times it had been restarted in the run
    (``on_crash="restart"``) before this crash ended it.
    """

    def __init__(self, function: str, instance: str, time: float | None, *, fmu: str,
                 reason: str, detail: str, signal: str | None = None,
                 exit_code: int | None = None, log_lines: tuple[str, ...] = (),
                 restarts: int = 0):
        self.fmu = fmu
        self.reason = reason
        self.detail = detail
        self.signal = signal
        self.exit_code = exit_code
        self.log_lines = tuple(log_lines)
        self.restarts = restarts
        super().__init__(function, instance, 4, time, detail)

    def _one_line(self) -> str:
        when = f" at t={self.time:g} s" if self.time is not None else ""
        text = f"component '{self.instance}' ({self.fmu}): {self.function}{when}: {self.detail}"
        if self.restarts:
            times = "once" if self.restarts == 1 else f"{self.restarts} times"
            text += f" (after it was restarted {times} from checkpoints)"
        if self.log_lines:
            text += "; last log lines: " + " | ".join(self.log_lines)
        return text


class RealtimeOverrun(CosimError):
    """A real-time run fell further behind the wall clock than it allows
    (overrun policy ``"stop"``).

    ``time`` is the simulation time of the communication point that was late,
    ``lateness`` how many wall seconds after its due time it was reached,
    ``limit`` the allowed lateness (``max_lateness``), ``stats`` the
    :class:`~cosim.execution.pacing.RealtimeStats` up to that point, and
    ``partial_result`` the results recorded so far, when a simulation was
    running.
    """

    def __init__(self, time: float, lateness: float, limit: float, *, stats=None):
        self.time = time
        self.lateness = lateness
        self.limit = limit
        self.stats = stats
        self.partial_result = None
        super().__init__(
            f"real-time overrun: the communication point at t={time:g} s was reached "
            f"{1e3 * lateness:.3f} ms after it was due, beyond the limit of {1e3 * limit:.3f} ms "
            "(max_lateness): the steps, or the machine, did not keep up with the wall "
            "clock; lower the real-time factor, lengthen the step, raise max_lateness, or "
            "choose overrun='skip' or 'slow'")


class SimulationTerminated(CosimError):
    """A component asked to end the simulation (FMI 3 ``terminateSimulation``,
    FMI 2 a discarded step with ``fmi2Terminated``).

    ``instances`` names the components that asked, ``time`` is the simulation
    time at which the first of them asked, ``request`` how it asked,
    ``result_end`` the time of the last communication point whose results
    were kept (``partial_result``, when a simulation was running).  The run
    is over: the components were terminated and freed.
    """

    def __init__(self, instance: str, time: float, *, others: tuple[str, ...] = (),
                 result_end: float | None = None, request: str = "terminateSimulation"):
        self.instance = instance
        self.instances = (instance, *others)
        self.time = time
        self.result_end = result_end
        self.request = request
        self.partial_result = None
        names = ", ".join(f"'{n}'" for n in self.instances)
        text = (f"component{'s' if others else ''} {names} asked to terminate the simulation "
                f"({request}) at t={time:g} s")
        if result_end is not None:
            text += f"; the run stopped there and its result ends at t={result_end:g} s"
        super().__init__(text)


class SourceUnavailableError(CosimError):
    """A live data source cannot reach its server (an MQTT broker, an OPC UA
    endpoint), or the server refused it; ``endpoint`` is the server's address."""

    def __init__(self, message: str, *, endpoint: str):
        super().__init__(message)
        self.endpoint = endpoint


class ServiceError(CosimError):
    """A call to a cosim service failed.

    ``endpoint`` is the server, ``method`` the call, ``code`` the gRPC status
    name (NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, ...) and ``details``
    the server's message.
    """

    def __init__(self, endpoint: str, method: str, code: str, details: str):
        self.endpoint, self.method, self.code, self.details = endpoint, method, code, details
        what = authentication_failure(details) if code == "UNAUTHENTICATED" else f"{code}: {details}"
        super().__init__(f"{endpoint}: {method}: {what}")


def authentication_failure(details: str) -> str:
    """What a client says when a server refused its credentials: the server's
    reason once (it may already begin with "authentication failed"), then what
    to check."""
    reason = details.strip()
    if reason.lower().startswith("authentication failed"):
        reason = reason[len("authentication failed"):].lstrip(" :")
    return (f"authentication failed{': ' + reason if reason else ''}; check the token "
            "(COSIM_TOKEN or token=)")


class QuotaError(CosimError):
    """A server refused a request because one of its limits is reached.

    ``limit`` is the limit's value and ``option`` the server option that sets
    it (``--max-systems``, ``--max-queued-calls`` ...); the message names both.
    """

    def __init__(self, message: str, *, limit: int, option: str):
        super().__init__(f"{message} (the limit is {limit}, set by the server option {option})")
        self.limit, self.option = limit, option


def did_you_mean(name: str, candidates) -> str:
    """' (did you mean a, b?)' for close matches of ``name``, or ''."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(m) for m in matches)}?)" if matches else ""
