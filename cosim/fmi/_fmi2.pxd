# FMI 2.0 co-simulation calls beyond the shared ones of _calls.pxd: how a
# discarded step that asks to end the simulation is told apart.
from libc.stdio cimport snprintf

from cosim.fmi._types cimport (
    FMI2_LAST_SUCCESSFUL_TIME, FMI2_TERMINATED, STATUS_DISCARD, STATUS_OK, STATUS_TERMINATED,
    STATUS_WARNING, Slave, StepEvents)


cdef inline int slave_discarded2(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """An FMI 2 step from t by h answered fmi2Discard.  The FMU asks to end the
    simulation when fmi2GetBooleanStatus(fmi2Terminated) says so, at its
    fmi2LastSuccessfulTime (the step's start if it gives none within the
    step); the answer is then as for FMI 3 (``ev`` says when; STATUS_OK if it
    had reached t + h, else STATUS_TERMINATED).  Any other discard stays one.
    """
    cdef int terminated = 0
    cdef double last = t, target = t + h
    cdef char text[320]
    if s.fn.f2_get_boolean_status == NULL or s.fn.f2_get_boolean_status(
            s.component, FMI2_TERMINATED, &terminated) > STATUS_WARNING or not terminated:
        return STATUS_DISCARD
    if s.fn.f2_get_real_status == NULL or s.fn.f2_get_real_status(
            s.component, FMI2_LAST_SUCCESSFUL_TIME, &last) > STATUS_WARNING:
        last = t
    elif not (t <= last and last <= target):        # NaN fails too
        snprintf(text, sizeof(text), "fmi2GetRealStatus(fmi2LastSuccessfulTime) gave %.17g, "
                 "outside the step from t=%.17g to %.17g s; the simulation ends at the step's "
                 "start", last, t, target)
        s.log(s.sink, STATUS_WARNING, "cosim", text)
        last = t
    ev.terminated = 1
    ev.stop_time = last
    return STATUS_OK if last >= target else STATUS_TERMINATED

