# The native FMI binding as the master sees it: the shared declarations
# (_types.pxd), the step loop's calls (_calls.pxd, _fmi3.pxd) and the
# instance classes (_binding.pyx), cimported from this one place.
from cosim.fmi._calls cimport (
    slave_do_step, slave_get, slave_get_output_derivatives, slave_set,
    slave_set_input_derivatives)
from cosim.fmi._fmi3 cimport slave_settle, slave_step_once3, slave_update_discrete_states
from cosim.fmi._handle cimport Handle
from cosim.fmi._library cimport Library
from cosim.fmi._types cimport *


cdef class Instance(Handle):
    cdef double start_time
    cdef double stop_time
    cdef bint stop_time_defined
    cdef readonly double tolerance
    cdef readonly bint tolerance_defined
    cdef int _instantiate1(self, bint logging_on) except -1
    cdef int _instantiate2(self, bint logging_on) except -1
    cdef int _instantiate3(self, bint logging_on) except -1
    cdef int _check_events(self, int status) except -1


cdef class MEInstance(Instance):
    cdef readonly Py_ssize_t n_states
    cdef readonly Py_ssize_t n_event_indicators
    cdef MEFunctions* me
    cdef int _sized(self, Py_ssize_t n, Py_ssize_t expected, str what) except -1
