# Algebraic loops: fixed-point sweeps, with Newton's method called back in Python.
from libc.stdint cimport uint64_t

from cosim.master._types cimport Loop, Master

cdef int solve_loop(Master* m, int i) noexcept nogil
cdef int sweep(Master* m, Loop* loop) noexcept nogil
cdef uint64_t discrete_value(Master* m, Loop* loop, int j) noexcept nogil
cdef void keep_discrete(Master* m, Loop* loop) noexcept nogil
cdef bint discrete_changed(Master* m, Loop* loop) noexcept nogil
