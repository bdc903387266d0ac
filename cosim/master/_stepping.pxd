# One macro step of every unit, recording, and the fixed-step run.
from cosim.master._types cimport Master, Unit

cdef int step(Master* m, long long n, double t, double h) noexcept nogil
cdef int record(Master* m, double t) noexcept nogil
cdef int record_point(Master* m, double t) noexcept nogil
cdef int run_fixed(Master* m, long long until_step) noexcept nogil
