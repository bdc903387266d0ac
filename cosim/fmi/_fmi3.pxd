# FMI 3.0 co-simulation steps: fmi3DoStep with its events and early returns,
# and the event mode the step enters (fmi3EnterEventMode,
# fmi3UpdateDiscreteStates, fmi3EnterStepMode).  The master's clocks call
# slave_step_once3 and slave_settle directly.
from libc.stdio cimport snprintf

from cosim.fmi._types cimport (
    CALL_DO_STEP, CALL_ENTER_EVENT_MODE, CALL_ENTER_STEP_MODE, CALL_UPDATE_DISCRETE_STATES,
    MAX_EARLY_RETURNS, MAX_EVENT_ITERATIONS, STATUS_ERROR, STATUS_OK, STATUS_TERMINATED,
    STATUS_WARNING, Slave, StepEvents, cbool)


cdef inline int slave_step_once3(Slave* s, double now, double end, StepEvents* ev,
                                 cbool* event, cbool* terminate, cbool* early,
                                 double* last) noexcept nogil:
    """One fmi3DoStep from ``now`` to ``end``.  ``*last`` is where the FMU
    stopped: ``end``, unless it returned early at a lastSuccessfulTime, which
    must lie within the step (an error status otherwise)."""
    cdef char text[320]
    cdef int status
    event[0] = terminate[0] = early[0] = 0
    last[0] = end
    ev.call = CALL_DO_STEP
    status = s.fn.f3_do_step(s.component, now, end - now, not s.may_restore, event,
                                      terminate, early, last)
    if status > STATUS_WARNING:
        return status
    if not early[0]:
        last[0] = end
    elif not (now <= last[0] and last[0] <= end):     # NaN fails too
        snprintf(text, sizeof(text), "fmi3DoStep returned early with lastSuccessfulTime="
                 "%.17g, outside the step from t=%.17g to %.17g s", last[0], now, end)
        s.log(s.sink, STATUS_ERROR, "cosim", text)
        return STATUS_ERROR
    return status


cdef inline int slave_do_step3(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """fmi3DoStep from t to t + h, however many calls it takes.

    An FMU that asks for event handling gets it (event mode, discrete states
    updated until they settle, step mode) where it stopped; one that returns
    early is stepped on from its lastSuccessfulTime, so that the step ends
    on the communication point.  When the FMU asks to terminate, ``ev`` says
    when; the answer is STATUS_OK if it had reached t + h, else
    STATUS_TERMINATED.  An event asked for without event mode is an error.
    """
    cdef cbool event, terminate, early
    cdef double now = t, target = t + h, last
    cdef int status, returns = 0
    cdef char text[320]
    ev.terminated = 0
    while True:
        status = slave_step_once3(s, now, target, ev, &event, &terminate, &early, &last)
        if status > STATUS_WARNING:
            return status
        if terminate:
            ev.terminated = 1
            ev.stop_time = last
            return STATUS_OK if last >= target else STATUS_TERMINATED
        if event:
            if not s.event_mode:
                snprintf(text, sizeof(text), "fmi3DoStep asked for event handling "
                         "(eventHandlingNeeded) at t=%.9g s, but the FMU was instantiated "
                         "without event mode (its hasEventMode is false)", last)
                s.log(s.sink, STATUS_ERROR, "cosim", text)
                return STATUS_ERROR
            ev.call = CALL_ENTER_EVENT_MODE
            status = s.fn.f3_enter_event_mode(s.component)
            if status > STATUS_WARNING:
                return status
            ev.events += 1
            status = slave_update_discrete_states(s, last, ev)
            if status > STATUS_WARNING:
                return status
            if ev.terminated:
                return STATUS_OK if last >= target else STATUS_TERMINATED
        if last >= target:
            return status
        ev.early_returns += 1
        returns += 1
        if returns > MAX_EARLY_RETURNS:
            snprintf(text, sizeof(text), "fmi3DoStep returned early %d times in the step from "
                     "t=%.9g to %.9g s without reaching its end (last at t=%.17g s): its events "
                     "chatter", MAX_EARLY_RETURNS, t, target, last)
            s.log(s.sink, STATUS_ERROR, "cosim", text)
            return STATUS_ERROR
        now = last


cdef inline int slave_update_discrete_states(Slave* s, double t, StepEvents* ev) noexcept nogil:
    """In event mode at t: fmi3UpdateDiscreteStates until the discrete states
    settle, then fmi3EnterStepMode.  An FMU that asks to terminate stays in
    event mode, with ``ev.terminated`` set."""
    cdef int status = slave_settle(s, t, ev)
    if status > STATUS_WARNING or ev.terminated:
        return status
    ev.call = CALL_ENTER_STEP_MODE
    return s.fn.f3_enter_step_mode(s.component)


cdef inline int slave_settle(Slave* s, double t, StepEvents* ev) noexcept nogil:
    """In event mode at t: fmi3UpdateDiscreteStates until the discrete states
    settle (the FMU stays in event mode); ``ev.terminated`` when it asks to end."""
    cdef cbool again, terminate, nominals, values, defined
    cdef double next_time
    cdef int i, status
    cdef char text[320]
    ev.call = CALL_UPDATE_DISCRETE_STATES
    for i in range(MAX_EVENT_ITERATIONS):
        again = terminate = nominals = values = defined = 0
        next_time = 0.0
        status = s.fn.f3_update_discrete_states(s.component, &again, &terminate, &nominals,
                                                &values, &defined, &next_time)
        if status > STATUS_WARNING:
            return status
        if terminate:
            ev.terminated = 1
            ev.stop_time = t
            return status
        if not again:
            ev.next_event_defined = defined
            ev.next_event_time = next_time
            return status
    snprintf(text, sizeof(text), "the discrete states did not settle at t=%.9g s: "
             "fmi3UpdateDiscreteStates still asked for another update (discreteStatesNeedUpdate) "
             "after %d calls", t, MAX_EVENT_ITERATIONS)
    s.log(s.sink, STATUS_ERROR, "cosim", text)
    return STATUS_ERROR

