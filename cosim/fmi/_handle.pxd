# What every instance of an FMU holds and how its calls are checked
# (_handle.pyx); the roles of an instance (values, state, life cycle) are
# built on it.
from cosim.fmi._library cimport Library
from cosim.fmi._log cimport LogSink
from cosim.fmi._types cimport Slave, StepEvents


cdef class Handle:
    cdef Slave slave
    cdef StepEvents step_events
    cdef LogSink log_sink
    cdef readonly Library library
    cdef readonly object archive
    cdef readonly object model
    cdef readonly str name
    cdef readonly bint alive
    cdef public double time
    cdef Slave* c_slave(self)
    cpdef int check(self, int status, str function) except -1
    cdef object _crash(self, str function, object time)
    cdef int require_alive(self) except -1
    cdef int require(self, str function) except -1
    cdef int require_state_functions(self) except -1
