# FMU binaries loaded with dlopen and their function tables (_library.pyx).
from cosim.fmi._types cimport (
    FmiFunctions, MEFunctions, proxy_configure_t, proxy_deferred_t, proxy_discard_t, proxy_fate_t,
    proxy_respawn_t)


cdef class Library:
    cdef void* handle
    cdef FmiFunctions fn
    cdef MEFunctions me
    cdef readonly str path
    cdef readonly str fmi_version
    cdef readonly str interface
    cdef readonly frozenset missing
    cdef readonly str prefix
    cdef readonly bint corrupted
    # Isolated: the handle is the proxy library's (cosim/isolation), and
    # ``exports`` lists the functions the real binary has.
    cdef readonly bint isolated
    cdef readonly unsigned long long memory_limit
    cdef readonly frozenset exports
    cdef readonly str model_identifier
    cdef readonly str worker
    cdef public double call_timeout
    cdef proxy_configure_t proxy_configure
    cdef proxy_fate_t proxy_fate
    cdef proxy_discard_t proxy_discard
    cdef proxy_deferred_t proxy_deferred
    cdef proxy_respawn_t proxy_respawn
    cdef void* _lookup(self, str name)
    cdef void* _need(self, str name) except NULL
    cdef void* _want(self, str name, list missing)
    cdef _resolve_fmi1(self, list missing)
    cdef _resolve_fmi2(self, list missing)
    cdef _resolve_fmi3(self, list missing)
    cdef _resolve_optional(self, int version, list missing)
    cdef _resolve_fmi2_me(self)

