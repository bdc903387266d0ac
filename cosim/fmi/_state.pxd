# Saved FMU states (_state.pyx).
from cosim.fmi._handle cimport Handle


cdef class FmuState:
    cdef void* ptr
    cdef Handle owner


cdef FmuState get_state(Handle h)
cdef set_state(Handle h, FmuState state)
cdef bytes serialize_state(Handle h, FmuState state)
cdef FmuState deserialize_state(Handle h, bytes data)
