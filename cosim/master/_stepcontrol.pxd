# Variable steps: error estimate, save and rollback, and the history carried between points.
from cosim.master._types cimport Buffers, Master

cdef int run_variable(Master* m, double until) noexcept nogil
cdef double next_output(Master* m) noexcept nogil
cdef void copy_buffers(Master* m, Buffers* to, Buffers* source) noexcept nogil
cdef bytes history_bytes(Master* m)
cdef void restore_history(Master* m, bytes history) except *
cdef str history_fault(Master* m, bytes history)
cdef size_t history_size(Master* m) noexcept
cdef void place_outputs(Master* m, double time) noexcept nogil
