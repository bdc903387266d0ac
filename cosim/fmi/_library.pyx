# cython: language_level=3
"""FMU binaries: loading with ``dlopen``, resolving the FMI functions into
the C tables of :mod:`cosim.fmi._types`, and the names the standard gives them.

A :class:`Library` is shared by every instance of its binary; instances
(:mod:`cosim.fmi._binding`) call through its tables.
"""

import os

from posix.dlfcn cimport RTLD_LOCAL, RTLD_NOW, dlclose, dlerror, dlopen, dlsym

from cosim.fmi._types cimport (
    N_VALUE_TYPES, T_BINARY, T_BOOL, T_FLOAT32, T_FLOAT64, T_INT8, T_INT16, T_INT32, T_INT64,
    T_STRING, T_UINT8, T_UINT16, T_UINT32, T_UINT64, f1_debug_logging_t, f1_do_step_t,
    f1_initialize_t, f1_instantiate_t, f1_real_status_t, f2_boolean_status_t,
    f2_completed_step_t, f2_do_step_t, f2_get_reals_t, f2_input_derivatives_t, f2_instantiate_t,
    f2_new_discrete_states_t, f2_output_derivatives_t, f2_real_status_t, f2_set_reals_t,
    f2_set_time_t, f2_setup_t, f3_do_step_t, f3_enter_init_t, f3_get_clock_t, f3_get_intervals_t,
    f3_get_shifts_t, f3_instantiate_t, f3_output_derivatives_t, f3_set_clock_t,
    f3_update_discrete_states_t, f_debug_logging_t, f_deserialize_t, f_free_instance_t,
    f_get_state_t, f_instance_t, f_serialize_t, f_set_state_t, f_state_size_t)

from cosim.errors import ModelError

TYPE_CODES = {"float64": T_FLOAT64, "float32": T_FLOAT32, "int8": T_INT8, "uint8": T_UINT8,
              "int16": T_INT16, "uint16": T_UINT16, "int32": T_INT32, "uint32": T_UINT32,
              "int64": T_INT64, "uint64": T_UINT64, "bool": T_BOOL, "string": T_STRING,
              "binary": T_BINARY}
_FMI3_TYPE_NAMES = ["Float64", "Float32", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
                    "Int64", "UInt64", "Boolean", "String", "Binary"]
# The value types FMI 1.0 and 2.0 have, by their names there.
FMI2_TYPE_NAMES = {T_FLOAT64: "Real", T_INT32: "Integer", T_BOOL: "Boolean", T_STRING: "String"}


def fmi_name(int version, str base):
    """FMI name of function ``base`` in ``version``: "fmiDoStep", "fmi2DoStep", "fmi3DoStep".

    FMI 1.0 binaries prefix the name with the model identifier; this is the
    name the standard gives.
    """
    return f"fmi{base}" if version == 1 else f"fmi{version}{base}"


def function_name(int version, str action, int value_type):
    """FMI name of the get/set function of ``value_type`` ("fmi2GetReal", "fmi3SetInt8", ...)."""
    if version <= 2:
        return fmi_name(version, f"{action}{FMI2_TYPE_NAMES.get(value_type, '?')}")
    return f"fmi3{action}{_FMI3_TYPE_NAMES[value_type]}"


def state_function(int version, str verb, str suffix=""):
    """FMI name of state function ``verb`` of FMI 2.0 or 3.0: "fmi2GetFMUstate",
    "fmi3SerializedFMUStateSize" (``suffix`` "Size"), ..."""
    return f"fmi{version}{verb}FMU{'s' if version == 2 else 'S'}tate{suffix}"


_VERSIONS = {"1.0": 1, "2.0": 2, "3.0": 3}

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
    bounds each call of such an instance, and ``memory_limit`` (bytes, 0 for
    none) the peak memory of its worker.
    """

    def __cinit__(self, path, str fmi_version, *, str model_identifier=None,
                  str interface="co-simulation", tuple isolation=None, double call_timeout=0.0,
                  unsigned long long memory_limit=0):
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
        self.memory_limit = memory_limit
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
            self.proxy_respawn = <proxy_respawn_t>_resolve(self.handle, "cosim_proxy_respawn")
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
        self._resolve_optional(2, missing)
        self.fn.f2_set_input_derivatives = <f2_input_derivatives_t>self._want(
            "fmi2SetRealInputDerivatives", missing)
        if self.interface == "co-simulation":
            self.fn.f2_get_output_derivatives = <f2_output_derivatives_t>self._want(
                "fmi2GetRealOutputDerivatives", missing)
            # how an FMU asks to end the simulation after a discarded step
            self.fn.f2_get_real_status = <f2_real_status_t>self._want("fmi2GetRealStatus", missing)
            self.fn.f2_get_boolean_status = <f2_boolean_status_t>self._want(
                "fmi2GetBooleanStatus", missing)

    cdef _resolve_optional(self, int version, list missing):
        """The optional functions FMI 2.0 and 3.0 share: reset, state, debug logging."""
        self.fn.reset = <f_instance_t>self._want(fmi_name(version, "Reset"), missing)
        self.fn.get_state = <f_get_state_t>self._want(state_function(version, "Get"), missing)
        self.fn.set_state = <f_set_state_t>self._want(state_function(version, "Set"), missing)
        self.fn.free_state = <f_get_state_t>self._want(state_function(version, "Free"), missing)
        self.fn.serialized_state_size = <f_state_size_t>self._want(
            state_function(version, "Serialized", "Size"), missing)
        self.fn.serialize_state = <f_serialize_t>self._want(state_function(version, "Serialize"),
                                                            missing)
        self.fn.deserialize_state = <f_deserialize_t>self._want(
            state_function(version, "DeSerialize" if version == 2 else "Deserialize"), missing)
        self.fn.set_debug_logging = <f_debug_logging_t>self._want(
            fmi_name(version, "SetDebugLogging"), missing)

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
        self._resolve_optional(3, missing)
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

