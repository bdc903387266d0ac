"""What the Orchestrator lets its clients make it hold, each with a bound.

Every bound has a server option (``cosim serve --max-...``); a request that
would pass one is refused with RESOURCE_EXHAUSTED and a message naming the
limit and the option (:class:`cosim.errors.QuotaError`), never queued.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields

from cosim.errors import ConfigurationError, QuotaError
from cosim.fmi.archive import UnpackBudget, UnpackLimitError

__all__ = ["Quotas", "SharedBudget", "SystemBudget"]


@dataclass(frozen=True)
class Quotas:
    """The Orchestrator's bounds (see ``cosim serve --help``).

    Attributes
    ----------
    max_systems
        Systems alive at once (a system being read counts).
    max_unpacked_bytes
        What one system's SSP archive and FMUs may unpack to on disk.
    max_total_unpacked_bytes
        What all systems' archives may unpack to, together.
    max_queued_calls
        Calls waiting for or running on one system at once.
    max_stream_backlog
        Rows an output stream may fall behind by before it is ended.
    max_rows
        Recorded rows each system keeps in memory (older rows are dropped).
    max_calls
        Calls on systems in progress at once, server-wide (streams included);
        server calls (ListSystems, Terminate, health) are never counted.
    """

    max_systems: int = 16
    max_unpacked_bytes: int = 1024**3
    max_total_unpacked_bytes: int = 4 * 1024**3
    max_queued_calls: int = 16
    max_stream_backlog: int = 100_000
    max_rows: int = 1_000_000
    max_calls: int = 256

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigurationError(f"{option(field.name)} must be a whole number > 0, "
                                         f"got {value!r}")


def option(name: str) -> str:
    """The server option that sets the quota ``name`` (``max_rows`` -> ``--max-rows``)."""
    return "--" + name.replace("_", "-")


def exceeded(quotas: Quotas, name: str, message: str) -> QuotaError:
    """The error refusing a request that would pass quota ``name``."""
    return QuotaError(message, limit=getattr(quotas, name), option=option(name))


class SharedBudget:
    """The bytes every system's archives unpack to, together; each system
    gives its share back when it is terminated."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, what: str, nbytes: int) -> None:
        with self._lock:
            if self.used + nbytes > self.limit:
                raise UnpackLimitError(
                    f"{what} unpacks to {nbytes} bytes, which with the {self.used} bytes the "
                    f"server's systems hold exceeds the limit of {self.limit} bytes for all "
                    f"systems together (the server option --max-total-unpacked-bytes sets it)")
            self.used += nbytes

    def give_back(self, nbytes: int) -> None:
        with self._lock:
            self.used = max(0, self.used - nbytes)


class SystemBudget(UnpackBudget):
    """One system's unpack budget that also draws on the server's total."""

    def __init__(self, limit: int, total: SharedBudget, *, hint: str = ""):
        super().__init__(limit, hint=hint)
        self.total = total
        self.taken = 0          # drawn from the total, given back by release()

    def charge(self, what, nbytes: int) -> None:
        super().charge(what, nbytes)
        try:
            self.total.take(str(what), nbytes)
        except UnpackLimitError:
            with self._lock:
                self.used -= nbytes
            raise
        self.taken += nbytes

    def release(self) -> None:
        """Give what this system drew back to the server's total (once)."""
        taken, self.taken = self.taken, 0
        self.total.give_back(taken)
