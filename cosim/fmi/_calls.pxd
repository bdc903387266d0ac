# The low layer of the binding: each FMI call of the step loop, one to one,
# dispatched on the FMI version through the instance's function table.
# Inline, nogil and noexcept: they return the FMI status (or
# STATUS_TERMINATED) for the caller to check, and touch no Python object.
from libc.stdint cimport uint32_t

from cosim.fmi._fmi2 cimport slave_discarded2
from cosim.fmi._fmi3 cimport slave_do_step3
from cosim.fmi._types cimport (
    STATUS_DISCARD, STATUS_OK, Slave, StepEvents, f2_get_t, f2_set_t, f3_get_t, f3_set_t)


cdef inline int slave_do_step(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """Advance from t by h.  FMI 3: handle events and early returns on the way
    (see slave_do_step3), counting them in ``ev``."""
    cdef int status
    if s.version == 2:
        ev.terminated = 0
        status = s.fn.f2_do_step(s.component, t, h, not s.may_restore)
        return slave_discarded2(s, t, h, ev) if status == STATUS_DISCARD else status
    if s.version == 1:
        return s.fn.f1_do_step(s.component, t, h, 1)
    return slave_do_step3(s, t, h, ev)


# ``nvalues`` counts the values: n for scalars, more when FMI 3 arrays are among
# the variables (one value per element); FMI 1 and 2 have scalars only.
cdef inline int slave_get(Slave* s, int value_type, const uint32_t* vr, size_t n,
                          void* values, size_t nvalues) noexcept nogil:
    if n == 0:
        return STATUS_OK
    if s.version <= 2:
        return (<f2_get_t>s.fn.get[value_type])(s.component, vr, n, values)
    return (<f3_get_t>s.fn.get[value_type])(s.component, vr, n, values, nvalues)


cdef inline int slave_get_output_derivatives(Slave* s, const uint32_t* vr, size_t n,
                                             const int* order, double* values,
                                             size_t nvalues) noexcept nogil:
    """Derivatives of float64 outputs (FMI 2 and 3; the caller checks the function exists)."""
    if n == 0:
        return STATUS_OK
    if s.version == 2:
        return s.fn.f2_get_output_derivatives(s.component, vr, n, order, values)
    return s.fn.f3_get_output_derivatives(s.component, vr, n, order, values, nvalues)


cdef inline int slave_set_input_derivatives(Slave* s, const uint32_t* vr, size_t n,
                                            const int* order, const double* values) noexcept nogil:
    """First derivatives of real inputs over the coming step (FMI 2 only)."""
    if n == 0:
        return STATUS_OK
    return s.fn.f2_set_input_derivatives(s.component, vr, n, order, values)


cdef inline int slave_set(Slave* s, int value_type, const uint32_t* vr, size_t n,
                          const void* values, size_t nvalues) noexcept nogil:
    if n == 0:
        return STATUS_OK
    if s.version <= 2:
        return (<f2_set_t>s.fn.set[value_type])(s.component, vr, n, values)
    return (<f3_set_t>s.fn.set[value_type])(s.component, vr, n, values, nvalues)

