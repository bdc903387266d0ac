# cython: language_level=3
"""Native FMI 1.0 / 2.0 / 3.0 co-simulation binding, and FMI 2.0 model exchange.

A :class:`Library` is an FMU binary opened with ``dlopen`` and its functions
resolved into a C table; an :class:`Instance` is one instantiated model, an
:class:`MEInstance` one instantiated for model exchange (its integration is
:mod:`cosim.fmi.model_exchange`'s job).
Every FMI status goes through :meth:`Instance.check`, the one place that
turns a status above warning into :class:`~cosim.errors.FmiCallError`.

FMI 1.0 co-simulation slaves take the same life cycle: they have no
initialization mode, so start values go to the instantiated slave,
:meth:`Instance.enter_initialization_mode` does nothing and
:meth:`Instance.exit_initialization_mode` calls fmiInitializeSlave.
"""

import logging
import os
import time

import numpy as np

cimport cython
cimport numpy as cnp
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc
from posix.dlfcn cimport RTLD_LOCAL, RTLD_NOW, dlclose, dlerror, dlopen, dlsym

from cosim.errors import FmiCallError, ModelError, SimulationTerminated

cnp.import_array()

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

TYPE_CODES = {"float64": T_FLOAT64, "float32": T_FLOAT32, "int8": T_INT8, "uint8": T_UINT8,
              "int16": T_INT16, "uint16": T_UINT16, "int32": T_INT32, "uint32": T_UINT32,
              "int64": T_INT64, "uint64": T_UINT64, "bool": T_BOOL, "string": T_STRING,
              "binary": T_BINARY}
DTYPES = [np.float64, np.float32, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
          np.int64, np.uint64, np.bool_]
_FMI3_TYPE_NAMES = ["Float64", "Float32", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
                    "Int64", "UInt64", "Boolean", "String", "Binary"]
_FMI2_TYPE_NAMES = {T_FLOAT64: "Real", T_INT32: "Integer", T_BOOL: "Boolean", T_STRING: "String"}
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


def fmi_name(int version, str base):
    """FMI name of function ``base`` in ``version``: "fmiDoStep", "fmi2DoStep", "fmi3DoStep".

    FMI 1.0 binaries prefix the name with the model identifier; this is the
    name the standard gives.
    """
    return f"fmi{base}" if version == 1 else f"fmi{version}{base}"


def function_name(int version, str action, int value_type):
    """FMI name of the get/set function of ``value_type`` ("fmi2GetReal", "fmi3SetInt8", ...)."""
    if version <= 2:
        return fmi_name(version, f"{action}{_FMI2_TYPE_NAMES.get(value_type, '?')}")
    return f"fmi3{action}{_FMI3_TYPE_NAMES[value_type]}"


_VERSIONS = {"1.0": 1, "2.0": 2, "3.0": 3}
# The FMI status after which no function of the FMU may be called again.
FATAL = STATUS_FATAL

# The FMI 3 function of each CALL_* code: what a failed step names.
EVENT_CALLS = ("fmi3DoStep", "fmi3EnterEventMode", "fmi3UpdateDiscreteStates", "fmi3EnterStepMode",
               "fmi3SetClock", "fmi3GetClock", "fmi3GetIntervalDecimal")


cdef void* _resolve(void* handle, str name):
    return dlsym(handle, name.encode())


cdef class Library:
    """An FMU binary loaded with dlopen, its FMI functions resolved into a table.

    Required functions missing from the binary raise ModelError at load;
    optional ones (state, serialization, reset, debug logging, value types the
    model does not use) are listed in ``missing`` and checked when used.

    FMI 1.0 functions are exported as ``<model_identifier>_fmiDoStep`` and so
    on; the model identifier defaults to the binary's file name without
    extension, which FMI 1.0 makes equal to it.  ``missing`` and :meth:`has`
    use the names of the standard, without the prefix.

    ``interface`` is "co-simulation" or "model-exchange" (FMI 2.0 only): the
    functions of that interface are the required ones.

    ``isolation`` (co-simulation only) is a tuple (proxy library, worker
    executable, the names the binary exports): the proxy is loaded in place
    of the binary and each instance then lives in a worker process of its
    own (see :mod:`cosim.isolation`); ``call_timeout`` (seconds, 0 for none)
    bounds each call of such an instance.
    """

    def __cinit__(self, path, str fmi_version, *, str model_identifier=None,
                  str interface="co-simulation", tuple isolation=None, double call_timeout=0.0):
        self.path = str(path)
        self.fmi_version = fmi_version
        self.interface = interface
        if fmi_version not in _VERSIONS:
            raise ModelError(f"cannot load FMU binary {self.path}: FMI version {fmi_version!r} "
                             f"is not supported (supported: {', '.join(_VERSIONS)})")
        if interface not in ("co-simulation", "model-exchange"):
            raise ValueError(f"interface must be 'co-simulation' or 'model-exchange', got {interface!r}")
        if interface == "model-exchange" and fmi_version != "2.0":
            raise ModelError(f"FMU binary {self.path}: FMI {fmi_version} model exchange is not "
                             "supported (FMI 2.0 model exchange and FMI 1.0/2.0/3.0 "
                             "co-simulation are)")
        self.fn.version = _VERSIONS[fmi_version]
        if model_identifier is None:
            model_identifier = os.path.splitext(os.path.basename(self.path))[0]
        self.prefix = f"{model_identifier}_" if self.fn.version == 1 else ""
        self.model_identifier = model_identifier
        self.call_timeout = call_timeout
        loaded = self.path
        if isolation is not None:
            if interface != "co-simulation":
                raise ModelError(f"FMU binary {self.path}: only co-simulation FMUs can be isolated")
            loaded, self.worker, self.exports = str(isolation[0]), str(isolation[1]), frozenset(isolation[2])
            self.isolated = True
        self.handle = dlopen(loaded.encode(), RTLD_NOW | RTLD_LOCAL)
        if self.handle == NULL:
            raise ModelError(f"cannot load FMU binary {loaded}: {dlerror().decode(errors='replace')}")
        if self.isolated:
            self.proxy_configure = <proxy_configure_t>_resolve(self.handle, "cosim_proxy_configure")
            self.proxy_fate = <proxy_fate_t>_resolve(self.handle, "cosim_proxy_fate")
            self.proxy_discard = <proxy_discard_t>_resolve(self.handle, "cosim_proxy_discard")
            self.proxy_deferred = <proxy_deferred_t>_resolve(self.handle, "cosim_proxy_deferred")
        missing = []
        try:
            if self.fn.version == 1:
                self._resolve_fmi1(missing)
            elif self.fn.version == 2:
                self._resolve_fmi2(missing)
                if interface == "model-exchange":
                    self._resolve_fmi2_me()
            else:
                self._resolve_fmi3(missing)
        except BaseException:
            dlclose(self.handle)
            self.handle = NULL
            raise
        self.missing = frozenset(missing)

    cdef void* _lookup(self, str name):
        """The function ``name`` (an FMI name without prefix), NULL if not exported."""
        if not self.isolated:
            return _resolve(self.handle, self.prefix + name)
        if name not in self.exports:
            return NULL
        return _resolve(self.handle, ("cosimProxy_" if self.fn.version == 1 else "") + name)

    cdef void* _need(self, str name) except NULL:
        cdef void* f = self._lookup(name)
        if f == NULL:
            raise ModelError(f"FMU binary {self.path} does not export the required function "
                             f"{self.prefix}{name}")
        return f

    cdef void* _want(self, str name, list missing):
        cdef void* f = self._lookup(name)
        if f == NULL:
            missing.append(name)
        return f

    cdef _resolve_fmi1(self, list missing):
        self.fn.f1_instantiate = <f1_instantiate_t>self._need("fmiInstantiateSlave")
        self.fn.f1_initialize_slave = <f1_initialize_t>self._need("fmiInitializeSlave")
        self.fn.terminate = <f_instance_t>self._need("fmiTerminateSlave")
        self.fn.free_instance = <f_free_instance_t>self._need("fmiFreeSlaveInstance")
        self.fn.f1_do_step = <f1_do_step_t>self._need("fmiDoStep")
        for code in (T_FLOAT64, T_INT32, T_BOOL, T_STRING):
            self.fn.get[code] = self._need(function_name(1, "Get", code))
            self.fn.set[code] = self._need(function_name(1, "Set", code))
        self.fn.reset = <f_instance_t>self._want("fmiResetSlave", missing)
        self.fn.f1_set_debug_logging = <f1_debug_logging_t>self._want("fmiSetDebugLogging", missing)
        self.fn.f1_get_real_status = <f1_real_status_t>self._want("fmiGetRealStatus", missing)

    cdef _resolve_fmi2(self, list missing):
        self.fn.f2_instantiate = <f2_instantiate_t>self._need("fmi2Instantiate")
        self.fn.free_instance = <f_free_instance_t>self._need("fmi2FreeInstance")
        self.fn.f2_setup_experiment = <f2_setup_t>self._need("fmi2SetupExperiment")
        self.fn.f2_enter_initialization_mode = <f_instance_t>self._need("fmi2EnterInitializationMode")
        self.fn.exit_initialization_mode = <f_instance_t>self._need("fmi2ExitInitializationMode")
        self.fn.terminate = <f_instance_t>self._need("fmi2Terminate")
        if self.interface == "co-simulation":
            self.fn.f2_do_step = <f2_do_step_t>self._need("fmi2DoStep")
        for code in (T_FLOAT64, T_INT32, T_BOOL, T_STRING):
            self.fn.get[code] = self._need(function_name(2, "Get", code))
            self.fn.set[code] = self._need(function_name(2, "Set", code))
        self.fn.reset = <f_instance_t>self._want("fmi2Reset", missing)
        self.fn.get_state = <f_get_state_t>self._want("fmi2GetFMUstate", missing)
        self.fn.set_state = <f_set_state_t>self._want("fmi2SetFMUstate", missing)
        self.fn.free_state = <f_get_state_t>self._want("fmi2FreeFMUstate", missing)
        self.fn.serialized_state_size = <f_state_size_t>self._want("fmi2SerializedFMUstateSize", missing)
        self.fn.serialize_state = <f_serialize_t>self._want("fmi2SerializeFMUstate", missing)
        self.fn.deserialize_state = <f_deserialize_t>self._want("fmi2DeSerializeFMUstate", missing)
        self.fn.set_debug_logging = <f_debug_logging_t>self._want("fmi2SetDebugLogging", missing)
        self.fn.f2_set_input_derivatives = <f2_input_derivatives_t>self._want(
            "fmi2SetRealInputDerivatives", missing)
        if self.interface == "co-simulation":
            self.fn.f2_get_output_derivatives = <f2_output_derivatives_t>self._want(
                "fmi2GetRealOutputDerivatives", missing)
            # how an FMU asks to end the simulation after a discarded step
            self.fn.f2_get_real_status = <f2_real_status_t>self._want("fmi2GetRealStatus", missing)
            self.fn.f2_get_boolean_status = <f2_boolean_status_t>self._want(
                "fmi2GetBooleanStatus", missing)

    cdef _resolve_fmi2_me(self):
        self.me.enter_event_mode = <f_instance_t>self._need("fmi2EnterEventMode")
        self.me.enter_continuous_time_mode = <f_instance_t>self._need("fmi2EnterContinuousTimeMode")
        self.me.new_discrete_states = <f2_new_discrete_states_t>self._need("fmi2NewDiscreteStates")
        self.me.completed_integrator_step = <f2_completed_step_t>self._need("fmi2CompletedIntegratorStep")
        self.me.set_time = <f2_set_time_t>self._need("fmi2SetTime")
        self.me.set_continuous_states = <f2_set_reals_t>self._need("fmi2SetContinuousStates")
        self.me.get_derivatives = <f2_get_reals_t>self._need("fmi2GetDerivatives")
        self.me.get_event_indicators = <f2_get_reals_t>self._need("fmi2GetEventIndicators")
        self.me.get_continuous_states = <f2_get_reals_t>self._need("fmi2GetContinuousStates")
        self.me.get_nominals = <f2_get_reals_t>self._need("fmi2GetNominalsOfContinuousStates")

    cdef _resolve_fmi3(self, list missing):
        self.fn.f3_instantiate = <f3_instantiate_t>self._need("fmi3InstantiateCoSimulation")
        self.fn.free_instance = <f_free_instance_t>self._need("fmi3FreeInstance")
        self.fn.f3_enter_initialization_mode = <f3_enter_init_t>self._need("fmi3EnterInitializationMode")
        self.fn.exit_initialization_mode = <f_instance_t>self._need("fmi3ExitInitializationMode")
        self.fn.terminate = <f_instance_t>self._need("fmi3Terminate")
        self.fn.f3_do_step = <f3_do_step_t>self._need("fmi3DoStep")
        for code in range(N_VALUE_TYPES):
            self.fn.get[code] = self._want(function_name(3, "Get", code), missing)
            self.fn.set[code] = self._want(function_name(3, "Set", code), missing)
        self.fn.reset = <f_instance_t>self._want("fmi3Reset", missing)
        self.fn.get_state = <f_get_state_t>self._want("fmi3GetFMUState", missing)
        self.fn.set_state = <f_set_state_t>self._want("fmi3SetFMUState", missing)
        self.fn.free_state = <f_get_state_t>self._want("fmi3FreeFMUState", missing)
        self.fn.serialized_state_size = <f_state_size_t>self._want("fmi3SerializedFMUStateSize", missing)
        self.fn.serialize_state = <f_serialize_t>self._want("fmi3SerializeFMUState", missing)
        self.fn.deserialize_state = <f_deserialize_t>self._want("fmi3DeserializeFMUState", missing)
        self.fn.set_debug_logging = <f_debug_logging_t>self._want("fmi3SetDebugLogging", missing)
        self.fn.f3_get_output_derivatives = <f3_output_derivatives_t>self._want(
            "fmi3GetOutputDerivatives", missing)
        self.fn.f3_enter_event_mode = <f_instance_t>self._want("fmi3EnterEventMode", missing)
        self.fn.f3_enter_step_mode = <f_instance_t>self._want("fmi3EnterStepMode", missing)
        self.fn.f3_update_discrete_states = <f3_update_discrete_states_t>self._want(
            "fmi3UpdateDiscreteStates", missing)
        self.fn.f3_get_clock = <f3_get_clock_t>self._want("fmi3GetClock", missing)
        self.fn.f3_set_clock = <f3_set_clock_t>self._want("fmi3SetClock", missing)
        self.fn.f3_get_interval_decimal = <f3_get_intervals_t>self._want(
            "fmi3GetIntervalDecimal", missing)
        self.fn.f3_get_shift_decimal = <f3_get_shifts_t>self._want("fmi3GetShiftDecimal", missing)

    def has(self, str function):
        """Whether the binary exports ``function`` (an FMI name such as "fmi2GetFMUstate")."""
        return function not in self.missing and self._lookup(function) != NULL

    def __dealloc__(self):
        # a binary that returned fatal stays loaded: unloading runs its code too
        if self.handle != NULL and not self.corrupted:
            dlclose(self.handle)


# Instances keep their Library (and states their Instance) alive until they
# are freed: the garbage collector must not clear those references first, or a
# cycle collected at exit would dlclose the binary before freeInstance runs.
@cython.no_gc_clear
cdef class FmuState:
    """An FMU state saved with get FMU state; freed with the instance's free function."""

    cdef void* ptr
    cdef Instance owner

    def __dealloc__(self):
        if self.ptr != NULL and self.owner is not None and self.owner.alive \
                and not self.owner.library.corrupted and self.owner.library.fn.free_state != NULL:
            self.owner.library.fn.free_state(self.owner.slave.component, &self.ptr)


@cython.no_gc_clear
cdef class Instance:
    """One instance of an FMU, created in the instantiated state.

    Parameters
    ----------
    archive : cosim.fmi.archive.FmuArchive
        The extracted FMU; it must stay open while the instance lives.
    library : Library
        The loaded binary of ``archive`` (shared by its instances).
    name : str
        Instance name, used in every log line and error message.
    logging_on : bool, keyword-only
        Passed to instantiate; debug messages then reach the ``cosim.fmu`` logger.
    log_rate : float, keyword-only
        At most this many FMU log messages per second reach the logger (in
        bursts of up to as many); the others are counted in
        :attr:`suppressed_messages` and summarized in a warning.  0 lifts the
        limit (a bounded buffer between drains still applies).
    """

    def __cinit__(self, archive, Library library, str name, *, bint logging_on=False,
                  double log_rate=LOG_RATE):
        self.archive = archive
        self.library = library
        self.model = archive.model
        self.name = name
        self.alive = False
        self.log_rate = log_rate
        self.reported_at = time.monotonic()
        self.sink = <CosimLogSink*>malloc(sizeof(CosimLogSink))
        if self.sink == NULL:
            raise MemoryError()
        cosim_log_init(self.sink, log_rate)
        _live_names[name] = _live_names.get(name, 0) + 1
        self.slave.version = library.fn.version
        self.slave.fn = &library.fn
        self.slave.sink = self.sink
        self.slave.log = <log_fn_t>cosim_log_fmi3
        cdef bytes name_b = name.encode()
        cdef bytes token = self.model.token.encode()
        cdef bytes resources
        cdef Fmi1Callbacks callbacks1
        if library.isolated:
            library.proxy_configure(library.worker.encode(), library.path.encode(),
                                    library.fmi_version.encode(), library.model_identifier.encode(),
                                    library.call_timeout)
        # fmi2Type: 0 model exchange, 1 co-simulation
        cdef int fmu_type = 0 if library.interface == "model-exchange" else 1
        if fmu_type == 0 and not isinstance(self, MEInstance):
            raise ModelError(f"component '{name}': {library.path} was loaded for model exchange; "
                             "instantiate it with MEInstance")
        if library.fn.version == 1:
            callbacks1.logger = <void*>cosim_log_fmi1
            callbacks1.allocate_memory = <void*>cosim_calloc
            callbacks1.free_memory = <void*>cosim_free
            callbacks1.step_finished = NULL
            location = archive.directory.as_uri().encode()
            cosim_fmi1_instantiating(self.sink)
            try:
                self.slave.component = library.fn.f1_instantiate(
                    name_b, token, location, b"application/x-fmu-sharedlibrary", 0.0, 0, 0,
                    callbacks1, logging_on)
            finally:
                cosim_fmi1_instantiating(NULL)
            if self.slave.component != NULL and not cosim_fmi1_register(self.slave.component, self.sink):
                library.fn.free_instance(self.slave.component)
                raise MemoryError()
            function = "fmiInstantiateSlave"
        elif library.fn.version == 2:
            self.callbacks = cosim_fmi2_callbacks_new(self.sink)
            if self.callbacks == NULL:
                raise MemoryError()
            resources = archive.resources_uri.encode()
            self.slave.component = library.fn.f2_instantiate(
                name_b, fmu_type, token, resources, self.callbacks, 0, logging_on)
            function = "fmi2Instantiate"
        else:
            resources = archive.resources_path.encode()
            # Event mode where the FMU has it and the binary exports its functions.
            self.slave.event_mode = bool(getattr(self.model, "has_event_mode", False)) and \
                library.fn.f3_enter_event_mode != NULL and library.fn.f3_enter_step_mode != NULL \
                and library.fn.f3_update_discrete_states != NULL
            early = bool(getattr(self.model, "might_return_early", False))
            self.slave.component = library.fn.f3_instantiate(
                name_b, token, resources, 0, logging_on, self.slave.event_mode, early, NULL, 0,
                self.sink, <void*>cosim_log_fmi3, NULL)
            function = "fmi3InstantiateCoSimulation"
        if self.slave.component == NULL:
            crash = self._crash(function, None) if library.isolated else None
            if crash is not None:
                raise crash
            raise FmiCallError(function, name, STATUS_ERROR, None, self._take_error())
        self.alive = True
        self.time = 0.0

    def __dealloc__(self):
        if self.alive and not self.library.corrupted:
            self.library.fn.free_instance(self.slave.component)
            if self.slave.version == 1:
                cosim_fmi1_unregister(self.slave.component, self.sink)
        if self.callbacks != NULL:
            cosim_free(self.callbacks)
        if self.sink != NULL:
            cosim_log_destroy(self.sink)
            free(self.sink)
            if _live_names is not None:       # None when the module is torn down at exit
                if _live_names.get(self.name, 0) > 1:
                    _live_names[self.name] -= 1
                else:
                    _live_names.pop(self.name, None)

    cdef Slave* c_slave(self):
        return &self.slave

    # -- status and log ---------------------------------------------------------

    def drain_log(self, *, bint errors_raised=False, bint final=False):
        """Forward buffered FMU log messages to the ``cosim.fmu`` logger.

        With ``errors_raised`` error messages go out at DEBUG level: they are
        about to travel in an exception, and need not be reported twice.
        Suppressed messages are reported in one warning per
        ``SUMMARY_INTERVAL`` seconds, and (``final``) when the instance is freed.
        Unrouted messages of any FMU are forwarded too (:func:`drain_unrouted_log`).
        """
        cdef CosimLogEntry entry
        while cosim_log_pop(self.sink, &entry):
            message = entry.message.decode(errors="replace")
            level = _LEVELS.get(entry.status, logging.ERROR)
            if errors_raised and level == logging.ERROR:
                level = logging.DEBUG
            log.log(level, "[%s] %s", self.name, message)
        cdef unsigned long long suppressed = cosim_log_take_suppressed(self.sink)
        self.suppressed_messages += suppressed
        self.unreported += suppressed
        if self.unreported and (final or time.monotonic() - self.reported_at >= SUMMARY_INTERVAL):
            limit = f"{self.log_rate:g} per second" if self.log_rate > 0 else "no rate limit"
            log.warning("[%s] %d log messages suppressed (limits: %s, %d between reads)",
                        self.name, self.unreported, limit, COSIM_LOG_CAPACITY)
            self.unreported = 0
            self.reported_at = time.monotonic()
        drain_unrouted_log(final=final)

    def _take_error(self):
        """The last error message the FMU logged (to its own sink, else unrouted
        under this instance's name), or ""."""
        cdef char text[512]
        self.drain_log(errors_raised=True)
        if cosim_log_take_error(self.sink, text, sizeof(text)) or \
                cosim_log_take_unrouted_error(self.name.encode(), text, sizeof(text)):
            return text.decode(errors="replace")
        return ""

    cpdef int check(self, int status, str function) except -1:
        """Raise FmiCallError if ``status`` is above warning; drain the log either way."""
        if status > STATUS_WARNING:
            raise self.call_error(function, status, self.time)
        self.drain_log()
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

    def _require(self, str function):
        if function in self.library.missing:
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does not "
                             f"export {function}")

    def _require_alive(self):
        if self.library.corrupted:
            raise ModelError(f"component '{self.name}': {self.library.path} returned fatal; FMI "
                             "allows no further call to any of its instances")
        if not self.alive:
            raise ModelError(f"component '{self.name}': the instance has been freed")

    def _require_state_functions(self):
        if self.slave.version == 1:
            raise ModelError(f"component '{self.name}' ({self.model.name}): FMI 1.0 cannot save "
                             "state (the standard has no FMU state functions); use FMI 2.0 or 3.0 "
                             "builds of the model to save, restore or fork runs")

    # -- life cycle -------------------------------------------------------------

    def setup_experiment(self, double start_time=0.0, stop_time=None, tolerance=None):
        """Fix the start (and optionally stop) time and the relative tolerance of
        an FMU's own solver (None: not defined); call before initialization.

        FMI 1.0 takes the times only at fmiInitializeSlave, and FMI 3.0 takes
        them with the tolerance at fmi3EnterInitializationMode, so for them they
        are recorded here and passed on later.
        """
        self._require_alive()
        self.start_time = self.time = start_time
        self.stop_time_defined = stop_time is not None
        self.stop_time = stop_time if stop_time is not None else 0.0
        self.tolerance_defined = tolerance is not None
        self.tolerance = tolerance if tolerance is not None else 0.0
        if self.slave.version == 2:
            self.check(self.library.fn.f2_setup_experiment(
                self.slave.component, self.tolerance_defined, self.tolerance, start_time,
                self.stop_time_defined, self.stop_time), "fmi2SetupExperiment")

    def enter_initialization_mode(self):
        """Enter initialization mode (FMI 2.0 and 3.0); nothing to do for FMI 1.0."""
        self._require_alive()
        if self.slave.version == 2:
            self.check(self.library.fn.f2_enter_initialization_mode(self.slave.component),
                       "fmi2EnterInitializationMode")
        elif self.slave.version == 3:
            self.check(self.library.fn.f3_enter_initialization_mode(
                self.slave.component, self.tolerance_defined, self.tolerance, self.start_time,
                self.stop_time_defined, self.stop_time), "fmi3EnterInitializationMode")

    def exit_initialization_mode(self):
        """Leave initialization mode; for FMI 1.0 initialize the slave with the
        start and stop time given to :meth:`setup_experiment`."""
        self._require_alive()
        if self.slave.version == 1:
            self.check(self.library.fn.f1_initialize_slave(
                self.slave.component, self.start_time, self.stop_time_defined, self.stop_time),
                "fmiInitializeSlave")
            return
        self.check(self.library.fn.exit_initialization_mode(self.slave.component),
                   f"fmi{self.slave.version}ExitInitializationMode")
        if self.slave.event_mode:
            # FMI 3 leaves an instance that uses event mode in event mode here.
            self._check_events(slave_update_discrete_states(&self.slave, self.start_time,
                                                            &self.step_events))

    def restores_states(self, bint may_restore):
        """Tell the FMU, at every do step, whether the master may later set a
        state saved before that step (``noSetFMUStatePriorToCurrentPoint``)."""
        self.slave.may_restore = may_restore

    def do_step(self, double t, double h):
        """Advance from communication point ``t`` by ``h``.

        FMI 3: events the FMU asks for are handled in event mode and early
        returns stepped on from where the FMU stopped (counted in
        :attr:`events` and :attr:`early_returns`).  Raises
        SimulationTerminated when the FMU asks to end the simulation (FMI 3
        terminateSimulation; FMI 2 a discarded step with fmi2Terminated),
        with the time it asked at; :attr:`time` is then that time.
        """
        self._require_alive()
        self.time = t
        cdef int status = slave_do_step(&self.slave, t, h, &self.step_events)
        self._check_events(status)
        self.time = t + h

    cdef int _check_events(self, int status) except -1:
        """Check the status of a step or of FMI 3 event handling."""
        if status == STATUS_TERMINATED or (status <= STATUS_WARNING and self.step_events.terminated):
            self.time = self.step_events.stop_time
            self.drain_log()
            raise SimulationTerminated(self.name, self.time, request=self.termination_request)
        return self.check(status, EVENT_CALLS[self.step_events.call] if self.slave.version == 3
                          else fmi_name(self.slave.version, "DoStep"))

    @property
    def termination_request(self):
        """How this FMU asks to end the simulation, as error messages name it."""
        return "fmi2Terminated" if self.slave.version == 2 else "terminateSimulation"

    @property
    def events(self):
        """Events handled in event mode during :meth:`do_step` (FMI 3), since instantiation."""
        return self.step_events.events

    @property
    def early_returns(self):
        """fmi3DoStep calls that ended before their communication point, since instantiation."""
        return self.step_events.early_returns

    @property
    def event_mode(self):
        """Whether the instance was created with eventModeUsed (FMI 3 with hasEventMode)."""
        return bool(self.slave.event_mode)

    def terminate(self):
        self._require_alive()
        self.check(self.library.fn.terminate(self.slave.component),
                   "fmiTerminateSlave" if self.slave.version == 1 else
                   f"fmi{self.slave.version}Terminate")

    def reset(self):
        """Return to the instantiated state with start values (optional in the FMU)."""
        self._require_alive()
        function = "fmiResetSlave" if self.slave.version == 1 else f"fmi{self.slave.version}Reset"
        self._require(function)
        self.check(self.library.fn.reset(self.slave.component), function)

    def can_configure(self):
        """Whether the binary exports the FMI 3 configuration-mode functions."""
        return self.slave.version == 3 and self.library.has("fmi3EnterConfigurationMode") \
            and self.library.has("fmi3ExitConfigurationMode")

    def enter_configuration_mode(self):
        """Enter FMI 3 configuration mode, where structural parameters are set;
        call in the instantiated state, before :meth:`enter_initialization_mode`."""
        self._configuration_call("fmi3EnterConfigurationMode")

    def exit_configuration_mode(self):
        """Leave FMI 3 configuration mode for the instantiated state."""
        self._configuration_call("fmi3ExitConfigurationMode")

    def _configuration_call(self, str function):
        self._require_alive()
        if not self.can_configure():
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does "
                             f"not export {function}")
        # Resolved here, not at load: only FMUs with structural parameters use them.
        cdef f_instance_t call = <f_instance_t>self.library._lookup(function)
        self.check(call(self.slave.component), function)

    def free(self):
        """Free the instance; later calls raise ModelError."""
        if self.alive:
            self.alive = False
            if self.library.corrupted:      # see abandon()
                return
            self.library.fn.free_instance(self.slave.component)
            if self.slave.version == 1:
                cosim_fmi1_unregister(self.slave.component, self.sink)
            self.drain_log(final=True)

    # -- values -----------------------------------------------------------------

    cdef size_t _values(self, size_t n, counts) except? 0:
        """How many values variables with ``counts`` elements hold (n scalars if None)."""
        if counts is None:
            return n
        if len(counts) != n or any(c < 1 for c in counts):
            raise ValueError(f"{len(counts)} element counts (each >= 1) for {n} value references")
        total = sum(counts)
        if total != n and self.slave.version <= 2:
            raise ModelError(f"component '{self.name}': FMI {self.library.fmi_version} has no "
                             "array variables")
        return total

    def get(self, str value_type, vrs, *, counts=None):
        """Values of the variables with value references ``vrs``, as a numpy array
        (a list for strings); ``value_type`` is a canonical type name such as "float64".

        ``counts`` gives the number of elements of each variable (FMI 3
        arrays); the result then holds every element, variable after
        variable, each array in row-major order.
        """
        self._require_alive()
        cdef int code = self._code(value_type, "Get")
        cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
        cdef size_t n = vr.shape[0]
        cdef size_t nvalues = self._values(n, counts)
        cdef cnp.ndarray out
        cdef const char** strings
        if code == T_BINARY:
            if nvalues != n:
                raise ModelError(f"component '{self.name}': binary arrays are not supported")
            return self._get_binary(<uint32_t*>cnp.PyArray_DATA(vr), n)
        if code == T_STRING:
            if nvalues != n:
                raise ModelError(f"component '{self.name}': string arrays are not supported")
            strings = <const char**>malloc(max(n, 1) * sizeof(char*))
            try:
                self.check(slave_get(&self.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n, strings, n),
                           function_name(self.slave.version, "Get", code))
                return [strings[i].decode() for i in range(n)]
            finally:
                free(strings)
        if code == T_BOOL and self.slave.version == 2:
            out = np.empty(n, dtype=np.int32)       # fmi2Boolean is an int
        elif code == T_BOOL and self.slave.version == 1:
            out = np.empty(n, dtype=np.uint8)       # fmi1Boolean is a char: any nonzero is true
        else:
            out = np.empty(nvalues, dtype=DTYPES[code])
        self.check(slave_get(&self.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n,
                             cnp.PyArray_DATA(out), nvalues),
                   function_name(self.slave.version, "Get", code))
        return out != 0 if code == T_BOOL and self.slave.version <= 2 else out

    def set(self, str value_type, vrs, values, *, counts=None):
        """Set the variables with value references ``vrs`` to ``values``
        (with ``counts``, every element of FMI 3 arrays in turn, as :meth:`get` gives them)."""
        self._require_alive()
        cdef int code = self._code(value_type, "Set")
        cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
        cdef size_t n = vr.shape[0]
        cdef size_t nvalues = self._values(n, counts)
        cdef cnp.ndarray data
        cdef const char** strings
        cdef list encoded
        if code == T_BINARY:
            if nvalues != n:
                raise ModelError(f"component '{self.name}': binary arrays are not supported")
            self._set_binary(<uint32_t*>cnp.PyArray_DATA(vr), n, values)
            return
        if code == T_STRING:
            encoded = [str(v).encode() for v in values]
            if len(encoded) != n or nvalues != n:
                raise ValueError(f"{n} value references but {len(encoded)} values")
            strings = <const char**>malloc(max(n, 1) * sizeof(char*))
            try:
                for i in range(n):
                    strings[i] = <const char*>(<bytes>encoded[i])
                self.check(slave_set(&self.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n, strings, n),
                           function_name(self.slave.version, "Set", code))
            finally:
                free(strings)
            return
        if code == T_BOOL and self.slave.version <= 2:
            dtype = np.int32 if self.slave.version == 2 else np.uint8
        else:
            dtype = DTYPES[code]
        data = np.ascontiguousarray(values, dtype=dtype).reshape(-1)
        if <size_t>data.shape[0] != nvalues:
            what = f"{n} value references" if nvalues == n else \
                f"{n} value references holding {nvalues} elements"
            raise ValueError(f"{what} but {data.shape[0]} values")
        self.check(slave_set(&self.slave, code, <uint32_t*>cnp.PyArray_DATA(vr), n,
                             cnp.PyArray_DATA(data), nvalues),
                   function_name(self.slave.version, "Set", code))

    cdef list _get_binary(self, const uint32_t* vr, size_t n):
        """fmi3GetBinary: the values as bytes (copied: the FMU's pointers last only
        until its next call)."""
        cdef size_t* sizes = <size_t*>malloc(max(n, 1) * sizeof(size_t))
        cdef const unsigned char** values = <const unsigned char**>malloc(max(n, 1) * sizeof(void*))
        try:
            if sizes == NULL or values == NULL:
                raise MemoryError()
            self.check((<f3_get_binary_t>self.slave.fn.get[T_BINARY])(
                self.slave.component, vr, n, sizes, values, n), "fmi3GetBinary")
            out = []
            for i in range(n):
                if values[i] == NULL and sizes[i] > 0:
                    raise ModelError(f"component '{self.name}': fmi3GetBinary gave no data for "
                                     f"{sizes[i]} bytes of value reference {vr[i]}")
                out.append((<const char*>values[i])[:sizes[i]] if sizes[i] else b"")
            return out
        finally:
            free(sizes)
            free(values)

    cdef _set_binary(self, const uint32_t* vr, size_t n, values):
        """fmi3SetBinary with ``values``, each bytes-like."""
        cdef list data = [bytes(v) for v in values]
        if <size_t>len(data) != n:
            raise ValueError(f"{n} value references but {len(data)} values")
        cdef size_t* sizes = <size_t*>malloc(max(n, 1) * sizeof(size_t))
        cdef const unsigned char** pointers = <const unsigned char**>malloc(max(n, 1) * sizeof(void*))
        try:
            if sizes == NULL or pointers == NULL:
                raise MemoryError()
            for i in range(n):
                sizes[i] = len(data[i])
                pointers[i] = <const unsigned char*>(<bytes>data[i])
            self.check((<f3_set_binary_t>self.slave.fn.set[T_BINARY])(
                self.slave.component, vr, n, sizes, pointers, n), "fmi3SetBinary")
        finally:
            free(sizes)
            free(pointers)

    def clock_intervals(self, vrs):
        """fmi3GetIntervalDecimal of the clocks ``vrs``: (intervals, qualifiers), with
        qualifiers 0 (not yet known), 1 (unchanged) or 2 (changed)."""
        self._require_alive()
        self._require("fmi3GetIntervalDecimal")
        cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
        cdef size_t n = vr.shape[0]
        cdef cnp.ndarray intervals = np.zeros(max(n, 1), dtype=np.float64)
        cdef cnp.ndarray qualifiers = np.zeros(max(n, 1), dtype=np.intc)
        self.check(self.library.fn.f3_get_interval_decimal(
            self.slave.component, <uint32_t*>cnp.PyArray_DATA(vr), n,
            <double*>cnp.PyArray_DATA(intervals), <int*>cnp.PyArray_DATA(qualifiers)),
            "fmi3GetIntervalDecimal")
        return intervals[:n], qualifiers[:n]

    def clock_shifts(self, vrs):
        """fmi3GetShiftDecimal of the clocks ``vrs``, as a float64 array."""
        self._require_alive()
        self._require("fmi3GetShiftDecimal")
        cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
        cdef size_t n = vr.shape[0]
        cdef cnp.ndarray shifts = np.zeros(max(n, 1), dtype=np.float64)
        self.check(self.library.fn.f3_get_shift_decimal(
            self.slave.component, <uint32_t*>cnp.PyArray_DATA(vr), n,
            <double*>cnp.PyArray_DATA(shifts)), "fmi3GetShiftDecimal")
        return shifts[:n]

    def get_output_derivatives(self, vrs, *, counts=None):
        """First time derivatives of the float64 outputs ``vrs`` at the current
        communication point (fmi2GetRealOutputDerivatives, fmi3GetOutputDerivatives),
        as a float64 array; ``counts`` as for :meth:`get`.

        Raises ModelError if the binary does not export the function.
        """
        self._require_alive()
        function = ("fmi2GetRealOutputDerivatives" if self.slave.version == 2
                    else "fmi3GetOutputDerivatives" if self.slave.version == 3 else None)
        if function is None:
            raise ModelError(f"component '{self.name}': output derivatives are read from FMI 2.0 "
                             "and 3.0 co-simulation FMUs only")
        self._require(function)
        if (self.slave.version == 2 and self.library.fn.f2_get_output_derivatives == NULL) or \
                (self.slave.version == 3 and self.library.fn.f3_get_output_derivatives == NULL):
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does "
                             f"not export {function}")
        cdef cnp.ndarray vr = np.ascontiguousarray(vrs, dtype=np.uint32)
        cdef size_t n = vr.shape[0]
        cdef size_t nvalues = self._values(n, counts)
        cdef cnp.ndarray order = np.ones(max(n, 1), dtype=np.intc)
        cdef cnp.ndarray out = np.empty(nvalues, dtype=np.float64)
        self.check(slave_get_output_derivatives(
            &self.slave, <uint32_t*>cnp.PyArray_DATA(vr), n, <int*>cnp.PyArray_DATA(order),
            <double*>cnp.PyArray_DATA(out), nvalues), function)
        return out

    cdef int _code(self, str value_type, str action) except -1:
        code = TYPE_CODES.get(value_type)
        if code is None:
            raise ModelError(f"component '{self.name}': values of type {value_type} cannot be "
                             "read or written")
        if self.slave.version <= 2 and code not in _FMI2_TYPE_NAMES:
            raise ModelError(f"component '{self.name}': FMI {self.library.fmi_version} has no "
                             f"{value_type} values")
        if (self.library.fn.get[code] if action == "Get" else self.library.fn.set[code]) == NULL:
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does not "
                             f"export {function_name(self.slave.version, action, code)}")
        return code

    # -- state ------------------------------------------------------------------

    def get_state(self):
        """Save the instance state (FMI get FMU state)."""
        self._require_alive()
        self._require_state_functions()
        function = f"fmi{self.slave.version}GetFMU{'s' if self.slave.version == 2 else 'S'}tate"
        self._require(function)
        cdef FmuState state = FmuState()
        state.owner = self
        self.check(self.library.fn.get_state(self.slave.component, &state.ptr), function)
        return state

    def set_state(self, FmuState state not None):
        """Restore a state saved from this instance or from another instance of the same FMU."""
        self._require_alive()
        self._require_state_functions()
        function = f"fmi{self.slave.version}SetFMU{'s' if self.slave.version == 2 else 'S'}tate"
        self._require(function)
        self.check(self.library.fn.set_state(self.slave.component, state.ptr), function)

    def serialize_state(self, FmuState state not None):
        """The bytes of a saved state (FMI serialize FMU state)."""
        self._require_alive()
        self._require_state_functions()
        v = self.slave.version
        size_fn = f"fmi{v}SerializedFMU{'s' if v == 2 else 'S'}tateSize"
        fn = f"fmi{v}SerializeFMU{'s' if v == 2 else 'S'}tate"
        self._require(size_fn)
        self._require(fn)
        cdef size_t size = 0
        self.check(self.library.fn.serialized_state_size(self.slave.component, state.ptr, &size), size_fn)
        cdef bytearray buffer = bytearray(size)
        cdef char* data = buffer
        self.check(self.library.fn.serialize_state(self.slave.component, state.ptr, data, size), fn)
        return bytes(buffer)

    def deserialize_state(self, bytes data not None):
        """A state from bytes made by :meth:`serialize_state`; apply it with :meth:`set_state`."""
        self._require_alive()
        self._require_state_functions()
        v = self.slave.version
        function = f"fmi{v}DeSerializeFMUstate" if v == 2 else "fmi3DeserializeFMUState"
        self._require(function)
        cdef FmuState state = FmuState()
        state.owner = self
        self.check(self.library.fn.deserialize_state(self.slave.component, data, len(data), &state.ptr),
                   function)
        return state


@cython.no_gc_clear
cdef class MEInstance(Instance):
    """One instance of an FMI 2.0 model exchange FMU, created in the instantiated state.

    Same parameters as :class:`Instance`; ``library`` must be loaded with
    ``interface="model-exchange"``.  Besides the life cycle, values and state
    of :class:`Instance`, it wraps the model exchange functions one to one,
    each status checked; arrays are contiguous float64 of ``n_states`` or
    ``n_event_indicators`` elements.  It has no ``do_step``: integrating it
    is :class:`cosim.fmi.model_exchange.ModelExchangeInstance`'s job.
    """

    def __cinit__(self, archive, Library library, str name, *, bint logging_on=False,
                  double log_rate=LOG_RATE):
        if library.interface != "model-exchange":
            raise ModelError(f"component '{name}': {library.path} was not loaded for model exchange")
        self.me = &library.me
        self.n_states = archive.model.number_of_states
        self.n_event_indicators = archive.model.number_of_event_indicators

    def do_step(self, double t, double h):
        raise ModelError(f"component '{self.name}': a model exchange instance has no doStep; "
                         "cosim.fmi.model_exchange.ModelExchangeInstance integrates it")

    cdef int _sized(self, Py_ssize_t n, Py_ssize_t expected, str what) except -1:
        if n != expected:
            raise ValueError(f"component '{self.name}': {n} {what} given, the model has {expected}")
        return 0

    def set_time(self, double t):
        """fmi2SetTime."""
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")

    def set_continuous_states(self, const double[::1] x):
        """fmi2SetContinuousStates."""
        self._sized(x.shape[0], self.n_states, "states")
        self.check(self.me.set_continuous_states(self.slave.component, &x[0] if x.shape[0] else NULL,
                                                 x.shape[0]), "fmi2SetContinuousStates")

    def get_continuous_states(self, double[::1] out):
        """fmi2GetContinuousStates into ``out``."""
        self._sized(out.shape[0], self.n_states, "states")
        self.check(self.me.get_continuous_states(self.slave.component, &out[0] if out.shape[0] else NULL,
                                                 out.shape[0]), "fmi2GetContinuousStates")

    def get_nominals(self, double[::1] out):
        """fmi2GetNominalsOfContinuousStates into ``out``."""
        self._sized(out.shape[0], self.n_states, "nominals")
        self.check(self.me.get_nominals(self.slave.component, &out[0] if out.shape[0] else NULL,
                                        out.shape[0]), "fmi2GetNominalsOfContinuousStates")

    def get_derivatives(self, double[::1] out):
        """fmi2GetDerivatives into ``out``."""
        self._sized(out.shape[0], self.n_states, "derivatives")
        self.check(self.me.get_derivatives(self.slave.component, &out[0] if out.shape[0] else NULL,
                                           out.shape[0]), "fmi2GetDerivatives")

    def get_event_indicators(self, double[::1] out):
        """fmi2GetEventIndicators into ``out``."""
        self._sized(out.shape[0], self.n_event_indicators, "event indicators")
        self.check(self.me.get_event_indicators(
            self.slave.component, &out[0] if out.shape[0] else NULL, out.shape[0]),
            "fmi2GetEventIndicators")

    def derivatives_at(self, double t, const double[::1] x, double[::1] dx):
        """Derivatives ``dx`` at time ``t`` and states ``x`` (set time, set states,
        get derivatives in one call: the solver's right-hand side)."""
        self._sized(x.shape[0], self.n_states, "states")
        self._sized(dx.shape[0], self.n_states, "derivatives")
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")
        if x.shape[0] == 0:
            return
        self.check(self.me.set_continuous_states(self.slave.component, &x[0], x.shape[0]),
                   "fmi2SetContinuousStates")
        self.check(self.me.get_derivatives(self.slave.component, &dx[0], dx.shape[0]),
                   "fmi2GetDerivatives")

    def indicators_at(self, double t, const double[::1] x, double[::1] z):
        """Event indicators ``z`` at time ``t`` and states ``x``."""
        self._sized(x.shape[0], self.n_states, "states")
        self._sized(z.shape[0], self.n_event_indicators, "event indicators")
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")
        if x.shape[0]:
            self.check(self.me.set_continuous_states(self.slave.component, &x[0], x.shape[0]),
                       "fmi2SetContinuousStates")
        if z.shape[0]:
            self.check(self.me.get_event_indicators(self.slave.component, &z[0], z.shape[0]),
                       "fmi2GetEventIndicators")

    def enter_event_mode(self):
        """fmi2EnterEventMode."""
        self.check(self.me.enter_event_mode(self.slave.component), "fmi2EnterEventMode")

    def enter_continuous_time_mode(self):
        """fmi2EnterContinuousTimeMode."""
        self.check(self.me.enter_continuous_time_mode(self.slave.component),
                   "fmi2EnterContinuousTimeMode")

    def new_discrete_states(self):
        """fmi2NewDiscreteStates: (new_discrete_states_needed, terminate_simulation,
        nominals_changed, values_changed, next_event_time or None)."""
        cdef Fmi2EventInfo info
        info.newDiscreteStatesNeeded = 0
        info.terminateSimulation = 0
        info.nominalsOfContinuousStatesChanged = 0
        info.valuesOfContinuousStatesChanged = 0
        info.nextEventTimeDefined = 0
        info.nextEventTime = 0.0
        self.check(self.me.new_discrete_states(self.slave.component, &info), "fmi2NewDiscreteStates")
        return (info.newDiscreteStatesNeeded != 0, info.terminateSimulation != 0,
                info.nominalsOfContinuousStatesChanged != 0,
                info.valuesOfContinuousStatesChanged != 0,
                info.nextEventTime if info.nextEventTimeDefined else None)

    def completed_integrator_step(self, bint no_set_state_prior=True):
        """fmi2CompletedIntegratorStep: (enter_event_mode, terminate_simulation)."""
        cdef int enter = 0, terminate = 0
        self.check(self.me.completed_integrator_step(self.slave.component, no_set_state_prior,
                                                     &enter, &terminate),
                   "fmi2CompletedIntegratorStep")
        return enter != 0, terminate != 0
