# cython: language_level=3
"""FMU log messages: the C sinks FMUs log into (``logsink.c``, which needs
no GIL) and their draining to the ``cosim.fmu`` logger between calls.

Each instance owns a :class:`LogSink`; messages an FMU logs with an
environment pointer that is none cosim gave go to one shared sink and the
``cosim.fmu.unrouted`` logger (:func:`drain_unrouted_log`).
"""

import logging
import time

from libc.stdlib cimport free, malloc

cdef extern from "logsink.h" nogil:
    ctypedef struct CosimLogEntry:
        int status
        char category[48]
        char message[512]
        char instance[64]
        unsigned long long environment
    void cosim_log_init(CosimLogSink *sink, double rate)
    void cosim_log_destroy(CosimLogSink *sink)
    void cosim_log_fmi3(void *env, int status, const char *category, const char *message)
    void cosim_log_fmi1(void *component, const char *instance, int status, const char *category,
                        const char *message, ...)
    void cosim_fmi1_instantiating(CosimLogSink *sink)
    int cosim_fmi1_register(void *component, CosimLogSink *sink)
    void cosim_fmi1_unregister(void *component, CosimLogSink *sink)
    void *cosim_calloc(size_t n, size_t size)
    int cosim_log_pop(CosimLogSink *sink, CosimLogEntry *out)
    unsigned long long cosim_log_take_suppressed(CosimLogSink *sink)
    int cosim_log_take_error(CosimLogSink *sink, char *out, size_t size)
    void *cosim_fmi2_callbacks_new(CosimLogSink *sink)
    void cosim_free(void *ptr)
    CosimLogSink *cosim_log_unrouted()
    int cosim_log_take_unrouted_error(const char *instance, char *out, size_t size)
    enum: COSIM_LOG_CAPACITY
    double COSIM_LOG_UNROUTED_RATE

log = logging.getLogger("cosim.fmu")
# Messages an FMU logged with an environment pointer that is none cosim gave
# (see logsink.h), attributed by the instance name the FMU passed.
unrouted_log = logging.getLogger("cosim.fmu.unrouted")

_LEVELS = {0: logging.DEBUG, 1: logging.WARNING, 2: logging.WARNING}
# FMU log messages let through to the logger per second and instance; the
# rest are counted and reported in a summary at most every SUMMARY_INTERVAL
# seconds, and when the instance is freed.
LOG_RATE = 100.0
SUMMARY_INTERVAL = 10.0

# Instance name -> instances alive with it: which names unrouted messages may claim.
_live_names = {}
# Unrouted messages counted but not forwarded, and when that was last reported.
_unrouted = {"unreported": 0, "reported_at": 0.0}
# Instance names (or environments) whose unrouted logging was warned about.
_warned_unrouted = set()


def drain_unrouted_log(*, bint final=False):
    """Forward the messages FMUs logged with an environment pointer cosim did
    not give them to the ``cosim.fmu.unrouted`` logger.

    A message is attributed to the instance name the FMU passed with it
    (FMI 1 and 2) when an instance of that name is alive, and to an unknown
    instance otherwise; the first one of each name comes with a warning.
    These messages share one rate limit (``COSIM_LOG_UNROUTED_RATE`` per
    second); the ones held back are summarized like an instance's.
    :meth:`Instance.drain_log` calls this too.
    """
    cdef CosimLogEntry entry
    cdef CosimLogSink* sink = cosim_log_unrouted()
    while cosim_log_pop(sink, &entry):
        name = entry.instance.decode(errors="replace")
        label = name if name in _live_names else \
            f"unknown instance '{name}'" if name else "unknown instance"
        if name not in _warned_unrouted:
            _warned_unrouted.add(name)
            unrouted_log.warning(
                "[%s] the FMU called its logger with environment %#x, which is not the one cosim "
                "gave it; its messages are logged by cosim.fmu.unrouted, named by the instance "
                "name they carry", label, entry.environment)
        level = _LEVELS.get(entry.status, logging.ERROR)
        unrouted_log.log(level, "[%s] %s", label, entry.message.decode(errors="replace"))
    _unrouted["unreported"] += cosim_log_take_suppressed(sink)
    now = time.monotonic()
    if _unrouted["unreported"] and (final or now - _unrouted["reported_at"] >= SUMMARY_INTERVAL):
        unrouted_log.warning("%d unrouted log messages suppressed (limit: %g per second, %d "
                             "between reads)", _unrouted["unreported"], COSIM_LOG_UNROUTED_RATE,
                             COSIM_LOG_CAPACITY)
        _unrouted["unreported"] = 0
        _unrouted["reported_at"] = now


cdef class LogSink:
    """The log of the instance ``name``: at most ``rate`` messages per second
    reach the logger (0: no limit; a bounded buffer between drains still
    applies), the others are counted in ``suppressed``.

    The sink outlives the FMU instance that logs into it: an instance frees
    its FMU before it lets go of its sink.
    """

    def __cinit__(self, str name, double rate):
        self.name = name
        self.rate = rate
        self.reported_at = time.monotonic()
        self.logger = <log_fn_t>cosim_log_fmi3
        self.sink = <CosimLogSink*>malloc(sizeof(CosimLogSink))
        if self.sink == NULL:
            raise MemoryError()
        cosim_log_init(self.sink, rate)
        _live_names[name] = _live_names.get(name, 0) + 1

    def __dealloc__(self):
        if self.callbacks2 != NULL:
            cosim_free(self.callbacks2)
        if self.sink != NULL:
            cosim_log_destroy(self.sink)
            free(self.sink)
            if _live_names is not None:       # None when the module is torn down at exit
                if _live_names.get(self.name, 0) > 1:
                    _live_names[self.name] -= 1
                else:
                    _live_names.pop(self.name, None)

    cdef Fmi1Callbacks callbacks1(self):
        """The fmiCallbackFunctions of FMI 1.0 (passed by value)."""
        cdef Fmi1Callbacks callbacks
        callbacks.logger = <void*>cosim_log_fmi1
        callbacks.allocate_memory = <void*>cosim_calloc
        callbacks.free_memory = <void*>cosim_free
        callbacks.step_finished = NULL
        return callbacks

    cdef void* callbacks2_for(self) except NULL:
        """The fmi2CallbackFunctions whose environment is this sink."""
        if self.callbacks2 == NULL:
            self.callbacks2 = cosim_fmi2_callbacks_new(self.sink)
            if self.callbacks2 == NULL:
                raise MemoryError()
        return self.callbacks2

    cdef void fmi1_instantiating(self, bint active):
        """FMI 1.0 loggers get no environment: messages logged while an
        instance is being made go to the sink made active here."""
        cosim_fmi1_instantiating(self.sink if active else NULL)

    cdef bint fmi1_register(self, void* component):
        """Route the messages of the FMI 1.0 ``component`` here (False: out of memory)."""
        return cosim_fmi1_register(component, self.sink)

    cdef void fmi1_unregister(self, void* component):
        cosim_fmi1_unregister(component, self.sink)

    cdef drain(self, bint errors_raised, bint final):
        """Forward buffered messages to the ``cosim.fmu`` logger (see
        :meth:`cosim.fmi._binding.Instance.drain_log`)."""
        cdef CosimLogEntry entry
        while cosim_log_pop(self.sink, &entry):
            message = entry.message.decode(errors="replace")
            level = _LEVELS.get(entry.status, logging.ERROR)
            if errors_raised and level == logging.ERROR:
                level = logging.DEBUG
            log.log(level, "[%s] %s", self.name, message)
        cdef unsigned long long suppressed = cosim_log_take_suppressed(self.sink)
        self.suppressed += suppressed
        self.unreported += suppressed
        if self.unreported and (final or time.monotonic() - self.reported_at >= SUMMARY_INTERVAL):
            limit = f"{self.rate:g} per second" if self.rate > 0 else "no rate limit"
            log.warning("[%s] %d log messages suppressed (limits: %s, %d between reads)",
                        self.name, self.unreported, limit, COSIM_LOG_CAPACITY)
            self.unreported = 0
            self.reported_at = time.monotonic()
        drain_unrouted_log(final=final)

    cdef str take_error(self):
        """The last error message the FMU logged (to this sink, else unrouted
        under this instance's name), or ""."""
        cdef char text[512]
        self.drain(True, False)
        if cosim_log_take_error(self.sink, text, sizeof(text)) or \
                cosim_log_take_unrouted_error(self.name.encode(), text, sizeof(text)):
            return text.decode(errors="replace")
        return ""
