# FMI 3 clocks: the step of a unit with clocks, cut at its ticks and events.
from cosim.fmi._binding cimport StepEvents
from cosim.master._types cimport Clock, Master, Port, Unit

cdef int clocked_step(Master* m, Unit* u, double t, double h, StepEvents* ev) noexcept nogil
cdef int post(Clock* c, long long when) noexcept nogil
cdef int get_port(Master* m, Unit* u, Port* p) noexcept nogil
cdef long long tick_time(Clock* c) noexcept nogil
cdef long long next_cut(Master* m, long long after, long long before) noexcept nogil
