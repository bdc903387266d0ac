# Value access of an instance (_values.pyx).
from cosim.fmi._handle cimport Handle


cdef object get_values(Handle h, str value_type, vrs, counts)
cdef set_values(Handle h, str value_type, vrs, values, counts)
cdef tuple clock_intervals(Handle h, vrs)
cdef object clock_shifts(Handle h, vrs)
cdef object output_derivatives(Handle h, vrs, counts)
