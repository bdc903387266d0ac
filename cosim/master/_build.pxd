# Building a core: the arrays of a flattened system, in memory the core owns.
from libc.stdint cimport uint32_t

from cosim.master._types cimport Buffers, Master, Port, Unit

cdef class Builder:
    cdef Master m
    cdef list _keep          # numpy arrays and objects whose memory the loop uses
    cdef char* arena         # the chunk small blocks are cut from
    cdef size_t arena_used
    cdef list _python        # Python component per unit, or None
    cdef list loop_labels    # per loop: (unit names, float64 slot names, discrete slot names)

    cdef void _buffers(self, Buffers* b) except *
    cdef void* _alloc(self, size_t nbytes) except NULL
    cdef int* _ints(self, values) except NULL
    cdef uint32_t* _vrs(self, values) except NULL
    cdef double* _doubles(self, values) except NULL
    cdef void _port(self, Port* port, int version, int group, vrs, slots) except *
    cdef void _rows(self, columns) except *
    cdef void _input_block(self) except *
    cdef void _activate(self, Unit* u)
