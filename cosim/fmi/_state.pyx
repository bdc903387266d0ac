# cython: language_level=3
"""Saved FMU states: get, set, serialize and deserialize (FMI 2.0 and 3.0;
FMI 1.0 has no state functions), each call checked.  A :class:`FmuState` is
freed with the free function of the instance that made it.
"""

cimport cython

from cosim.fmi._library import state_function


# A state keeps its instance alive until it is freed: the garbage collector
# must not clear that reference first (see cosim.fmi._binding.Instance).
@cython.no_gc_clear
cdef class FmuState:
    """An FMU state saved with get FMU state; freed with the instance's free function."""

    def __dealloc__(self):
        if self.ptr != NULL and self.owner is not None and self.owner.alive \
                and not self.owner.library.corrupted and self.owner.library.fn.free_state != NULL:
            self.owner.library.fn.free_state(self.owner.slave.component, &self.ptr)


cdef str _ready(Handle h, str verb, str suffix=""):
    """The FMI name of state function ``verb`` (fmi2GetFMUstate, fmi3GetFMUState,
    ...) once the instance is alive and its binary exports it."""
    h.require_alive()
    h.require_state_functions()
    function = state_function(h.slave.version, verb, suffix)
    h.require(function)
    return function


cdef FmuState get_state(Handle h):
    """Save the instance state (FMI get FMU state)."""
    function = _ready(h, "Get")
    cdef FmuState state = FmuState()
    state.owner = h
    h.check(h.library.fn.get_state(h.slave.component, &state.ptr), function)
    return state


cdef set_state(Handle h, FmuState state):
    """Restore a state saved from this instance or from another instance of the same FMU."""
    function = _ready(h, "Set")
    h.check(h.library.fn.set_state(h.slave.component, state.ptr), function)


cdef bytes serialize_state(Handle h, FmuState state):
    """The bytes of a saved state (FMI serialize FMU state)."""
    size_fn = _ready(h, "Serialized", "Size")
    fn = _ready(h, "Serialize")
    cdef size_t size = 0
    h.check(h.library.fn.serialized_state_size(h.slave.component, state.ptr, &size), size_fn)
    cdef bytearray buffer = bytearray(size)
    cdef char* data = buffer
    h.check(h.library.fn.serialize_state(h.slave.component, state.ptr, data, size), fn)
    return bytes(buffer)


cdef FmuState deserialize_state(Handle h, bytes data):
    """A state from bytes made by :meth:`serialize_state`; apply it with :meth:`set_state`."""
    function = _ready(h, "DeSerialize" if h.slave.version == 2 else "Deserialize")
    cdef FmuState state = FmuState()
    state.owner = h
    h.check(h.library.fn.deserialize_state(h.slave.component, data, len(data), &state.ptr),
            function)
    return state
