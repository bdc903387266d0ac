# cython: language_level=3
"""The base of every FMU instance: its C view (:class:`~cosim.fmi._types`
``Slave``), its log, and the one place where an FMI status becomes an error.

Every FMI status goes through :meth:`Handle.check`, which turns a status
above warning into :class:`~cosim.errors.FmiCallError` (an isolated FMU
whose worker died or timed out gives a ComponentCrashedError).  Making and
freeing the FMU instance is :class:`cosim.fmi._binding.Instance`'s job.
"""

cimport cython

from cosim.fmi._types cimport STATUS_ERROR, STATUS_FATAL, STATUS_WARNING

from cosim.errors import FmiCallError, ModelError
from cosim.fmi._log import LOG_RATE


@cython.no_gc_clear
cdef class Handle:
    """An FMU instance's handle: name, model, binary, log and status checks.

    Parameters are those of :class:`cosim.fmi._binding.Instance`.
    """

    def __cinit__(self, archive, Library library, str name, *, bint logging_on=False,
                  double log_rate=LOG_RATE):
        self.archive = archive
        self.library = library
        self.model = archive.model
        self.name = name
        self.alive = False
        self.log_sink = LogSink(name, log_rate)
        self.slave.version = library.fn.version
        self.slave.fn = &library.fn
        self.slave.sink = self.log_sink.sink
        self.slave.log = self.log_sink.logger

    cdef Slave* c_slave(self):
        return &self.slave

    @property
    def log_rate(self):
        """FMU log messages per second let through to the logger (0: no limit)."""
        return self.log_sink.rate

    @property
    def suppressed_messages(self):
        """FMU log messages held back by the rate limit since instantiation."""
        return self.log_sink.suppressed

    def drain_log(self, *, bint errors_raised=False, bint final=False):
        """Forward buffered FMU log messages to the ``cosim.fmu`` logger.

        With ``errors_raised`` error messages go out at DEBUG level: they are
        about to travel in an exception, and need not be reported twice.
        Suppressed messages are reported in one warning per
        ``SUMMARY_INTERVAL`` seconds, and (``final``) when the instance is freed.
        Unrouted messages of any FMU are forwarded too
        (:func:`cosim.fmi._log.drain_unrouted_log`).
        """
        self.log_sink.drain(errors_raised, final)

    def _take_error(self):
        """The last error message the FMU logged (to its own sink, else unrouted
        under this instance's name), or ""."""
        return self.log_sink.take_error()

    cpdef int check(self, int status, str function) except -1:
        """Raise FmiCallError if ``status`` is above warning; drain the log either way."""
        if status > STATUS_WARNING:
            raise self.call_error(function, status, self.time)
        self.log_sink.drain(False, False)
        return 0

    def call_error(self, str function, int status, time):
        """The FmiCallError for ``function`` having returned ``status`` (above
        warning) at simulation ``time``, with the last error the FMU logged.
        After fatal, the instance is abandoned (see :meth:`abandon`).  Every
        failed call of an FMU, in Python or in the native loop, becomes an
        error here; an isolated FMU whose worker died or timed out gives a
        ComponentCrashedError."""
        cdef char deferred[96]
        if self.library.isolated and self.alive:
            crash = self._crash(function, time)
            if crash is not None:
                self.abandon()
                return crash
            if self.library.proxy_deferred(self.slave.component, deferred, sizeof(deferred)):
                # a set kept by the proxy failed when sent with this call
                function = f"{deferred.decode()} (sent with {function})"
        if status == STATUS_FATAL:
            self.abandon()
        return FmiCallError(function, self.name, status, time, self._take_error())

    cdef object _crash(self, str function, object time):
        """The ComponentCrashedError of an isolated instance that can no longer
        be called (of the last failed instantiate if not alive), else None."""
        cdef int code = 0
        cdef char call[64]
        cdef char lines[2048]
        cdef void* component = self.slave.component if self.alive else NULL
        kind = self.library.proxy_fate(component, &code, call, sizeof(call), lines, sizeof(lines))
        if kind == 0:
            return None
        from cosim.isolation import crash_error
        self.drain_log(errors_raised=True)
        return crash_error(kind, code, call.decode(errors="replace") or function, self.name,
                           self.archive.path, self.library.call_timeout, time,
                           lines.decode(errors="replace"))

    def crashed(self, time=None):
        """The ComponentCrashedError saying how the worker process of an
        isolated instance ended (at simulation ``time``), or None while it
        runs; unlike :meth:`call_error`, the instance is kept for
        :meth:`~cosim.fmi._binding.Instance.respawn`."""
        if not self.library.isolated or not self.alive:
            return None
        return self._crash("", time)

    def respawn(self):
        """Start a new worker process for an isolated instance (killing the old
        one if it still runs) and instantiate the FMU in it again as it was
        first instantiated.  The instance is then in the instantiated state,
        to be initialized again; FMU states saved before are refused, and
        freeing them does nothing.

        Raises ComponentCrashedError when the new worker fails too, ModelError
        when the instance is not isolated or has been freed.
        """
        if not self.library.isolated:
            raise ModelError(f"component '{self.name}': only isolated components can be restarted")
        self.require_alive()
        if self.library.proxy_respawn(self.slave.component) != 0:
            function = ("fmiInstantiateSlave", "fmi2Instantiate",
                        "fmi3InstantiateCoSimulation")[self.slave.version - 1]
            raise self._crash(function, None) or FmiCallError(
                function, self.name, STATUS_ERROR, None, self._take_error())
        self.time = 0.0

    def abandon(self):
        """Never call the FMU again: call after any of its functions returned fatal.

        FMI 2.0 and 3.0 allow no further call to any instance of an FMU that
        returned fatal, not even freeInstance (FMUs that clean up in their
        error path may free the same memory twice), so this instance and every
        other instance of the same binary are dropped without being freed, and
        the binary stays loaded.  Later calls raise ModelError.

        An isolated instance is alone in its worker process: that process is
        killed, and the other instances of the binary go on.
        """
        if self.library.isolated:
            if self.alive:
                self.alive = False
                self.library.proxy_discard(self.slave.component)
            return
        self.alive = False
        self.library.corrupted = True

    cdef int require(self, str function) except -1:
        """Refuse a call of ``function`` when the binary does not export it."""
        if function in self.library.missing:
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does not "
                             f"export {function}")
        return 0

    cdef int require_alive(self) except -1:
        """Refuse any call after fatal or after the instance was freed."""
        if self.library.corrupted:
            raise ModelError(f"component '{self.name}': {self.library.path} returned fatal; FMI "
                             "allows no further call to any of its instances")
        if not self.alive:
            raise ModelError(f"component '{self.name}': the instance has been freed")
        return 0

    cdef int require_state_functions(self) except -1:
        if self.slave.version == 1:
            raise ModelError(f"component '{self.name}' ({self.model.name}): FMI 1.0 cannot save "
                             "state (the standard has no FMU state functions); use FMI 2.0 or 3.0 "
                             "builds of the model to save, restore or fork runs")
        return 0
