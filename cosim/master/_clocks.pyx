# cython: language_level=3
"""FMI 3 clocks in the step loop.

A unit with clocks steps through clocked_step: its step is cut at each tick
of its input clocks and at each event the FMU raises, and every such point
is an event (clock_event) where the clocks due tick, their clocked inputs are
set, the discrete states settle, output clocks are read and passed on to the
triggered input clocks they are connected to, and clocked outputs are
fetched.  A tick at a communication point is taken when the step from it
starts, after the inputs are set there.

The run cuts every unit's step at the input clock ticks due inside it
(next_cut), so that a tick is taken in event mode at its own time on the
values exchanged there; the cut inside clocked_step remains for the ticks
an output clock passes on within a step.
"""

from libc.math cimport llround
from libc.stdio cimport snprintf

from cosim.fmi._binding cimport (
    CALL_ENTER_EVENT_MODE, CALL_ENTER_STEP_MODE, CALL_GET_CLOCK, CALL_GET_INTERVAL,
    CALL_SET_CLOCK, INTERVAL_CHANGED, MAX_EARLY_RETURNS, STATUS_ERROR,
    STATUS_OK, STATUS_TERMINATED, STATUS_WARNING, Slave, StepEvents, cbool, slave_get, slave_set,
    slave_settle, slave_step_once3)
from cosim.master._exchange cimport gather, scatter
from cosim.master._types cimport (
    CLOCK_OUTPUT, CLOCK_TIMED, CLOCK_TRIGGERED, MAX_PENDING, N_GROUPS, NO_TICK, STAGE_GET,
    STAGE_SET, Clock, ClockSet, Master, Port, Unit, copy_slot, fail)


cdef long long tick_time(Clock* c) noexcept nogil:
    """Tick j of a timed clock in ns: from its base, never accumulated."""
    return c.base + llround(c.j * c.interval * 1e9)


cdef int post(Clock* c, long long when) noexcept nogil:
    """Ask triggered clock c to tick at ``when`` ns; 1 if too many wait."""
    cdef int i
    if c.n_pending == MAX_PENDING:
        return 1
    i = c.n_pending
    while i > 0 and c.pending[i - 1] > when:
        c.pending[i] = c.pending[i - 1]
        i -= 1
    if i > 0 and c.pending[i - 1] == when:     # one tick per event
        while i < c.n_pending:
            c.pending[i] = c.pending[i + 1]
            i += 1
        return 0
    c.pending[i] = when
    c.n_pending += 1
    return 0


cdef long long next_tick(ClockSet* cs) noexcept nogil:
    cdef long long nxt = NO_TICK
    cdef int i
    cdef Clock* c
    for i in range(cs.n):
        c = &cs.clocks[i]
        if c.kind == CLOCK_TIMED and c.next < nxt:
            nxt = c.next
        elif c.kind == CLOCK_TRIGGERED and c.n_pending and c.pending[0] < nxt:
            nxt = c.pending[0]
    return nxt


cdef long long next_cut(Master* m, long long after, long long before) noexcept nogil:
    """The earliest input clock tick of any unit strictly between ``after``
    and ``before`` ns (NO_TICK: none): where the run cuts the step."""
    cdef long long cut = NO_TICK, nxt
    cdef int k
    for k in range(m.n_units):
        if m.units[k].clocks != NULL:
            nxt = next_tick(m.units[k].clocks)
            if after < nxt < before and nxt < cut:
                cut = nxt
    return cut


cdef int set_port(Master* m, Unit* u, Port* p) noexcept nogil:
    """Set a clocked input port from the buffers (values as they are)."""
    cdef int status
    gather(m.rd, p, 3)
    status = slave_set(&u.slave, p.type, p.vr, p.n, p.scratch, p.nv)
    if status > STATUS_WARNING:
        fail(m, u, STAGE_SET, p.group, status)
    return status if status > STATUS_WARNING else 0


cdef int get_port(Master* m, Unit* u, Port* p) noexcept nogil:
    """Fetch a clocked output port into the buffers being written."""
    cdef int status
    status = slave_get(&u.slave, p.type, p.vr, p.n, p.scratch, p.nv)
    if status > STATUS_WARNING:
        fail(m, u, STAGE_GET, p.group, status)
        return status
    scatter(m.wr, p, 3)
    return 0


cdef void carry_clocked(Master* m, ClockSet* cs) noexcept nogil:
    """Keep clocked outputs in the buffer set being written: they change only at ticks."""
    cdef int i, g, v
    cdef Port* p
    if m.rd == m.wr:
        return
    for i in range(cs.n):
        for g in range(N_GROUPS):
            p = cs.clocks[i].outputs[g]
            if p == NULL:
                continue
            for v in range(p.nv):
                copy_slot(m.wr, m.rd, g, p.slot[v])


cdef int clocked_step(Master* m, Unit* u, double t, double h, StepEvents* ev) noexcept nogil:
    """fmi3DoStep of a unit with clocks from t to t + h, cut at its ticks and
    at the events the FMU raises, each handled by clock_event.  Answers like
    slave_do_step3."""
    cdef Slave* s = &u.slave
    cdef ClockSet* cs = u.clocks
    cdef double now = t, target = t + h, last
    cdef long long when = llround(t * 1e9), end = llround(target * 1e9), nxt, stop
    cdef cbool event, terminate, early
    cdef int status, rounds = 0
    cdef char text[320]
    ev.terminated = 0
    carry_clocked(m, cs)
    while True:
        if when >= end:           # a tick at the end waits for the next step's inputs
            return STATUS_OK
        nxt = next_tick(cs)
        if nxt <= when:
            status = clock_event(m, u, when, now, ev)
            if status or ev.terminated:
                return status if status else STATUS_TERMINATED
            continue
        rounds += 1
        if rounds > MAX_EARLY_RETURNS:
            snprintf(text, sizeof(text), "more than %d clock ticks and events in the step "
                     "from t=%.9g to %.9g s", MAX_EARLY_RETURNS, t, target)
            s.log(s.sink, STATUS_ERROR, "cosim", text)
            return STATUS_ERROR
        stop = nxt if nxt < end else end
        status = slave_step_once3(s, now, stop / 1e9 if stop < end else target, ev,
                                  &event, &terminate, &early, &last)
        if status > STATUS_WARNING:
            return status
        if early:
            ev.early_returns += 1
        now = last
        when = stop if not early else llround(last * 1e9)
        if terminate:
            ev.terminated = 1
            ev.stop_time = last
            return STATUS_OK if when >= end else STATUS_TERMINATED
        if event:
            status = clock_event(m, u, when, now, ev)
            if status or ev.terminated:
                return status if status else (STATUS_OK if when >= end else STATUS_TERMINATED)


cdef int clock_event(Master* m, Unit* u, long long when, double t, StepEvents* ev) noexcept nogil:
    """One event of unit u at ``when`` ns (t s): enter event mode, tick the
    input clocks due and set their clocked inputs, settle the discrete states,
    then handle the output clocks and the clocks that ticked (clocks_ticked),
    leave event mode."""
    cdef Slave* s = &u.slave
    cdef ClockSet* cs = u.clocks
    cdef Clock* c
    cdef int i, g, n, status
    cdef cbool on = 1
    ev.call = CALL_ENTER_EVENT_MODE
    status = s.fn.f3_enter_event_mode(s.component)
    if status > STATUS_WARNING:
        return status
    ev.events += 1
    for i in range(cs.n):
        c = &cs.clocks[i]
        c.active = (c.kind == CLOCK_TIMED and c.next <= when) or \
            (c.kind == CLOCK_TRIGGERED and c.n_pending > 0 and c.pending[0] <= when)
        if not c.active:
            continue
        if c.kind == CLOCK_TRIGGERED:
            c.n_pending -= 1
            for n in range(c.n_pending):
                c.pending[n] = c.pending[n + 1]
        ev.call = CALL_SET_CLOCK
        status = s.fn.f3_set_clock(s.component, &c.vr, 1, &on)
        if status > STATUS_WARNING:
            return status
        for g in range(N_GROUPS):
            if c.inputs[g] != NULL and set_port(m, u, c.inputs[g]):
                return STATUS_ERROR
    status = slave_settle(s, t, ev)
    if status > STATUS_WARNING or ev.terminated:
        return status
    status = clocks_ticked(m, u, when, ev)
    if status:
        return status
    ev.call = CALL_ENTER_STEP_MODE
    return s.fn.f3_enter_step_mode(s.component)


cdef int clocks_ticked(Master* m, Unit* u, long long when, StepEvents* ev) noexcept nogil:
    """In an event of unit u, after the discrete states settled: read the
    output clocks and tick their targets, fetch the clocked outputs of every
    clock that ticked, and follow interval changes."""
    cdef Slave* s = &u.slave
    cdef ClockSet* cs = u.clocks
    cdef Clock* c
    cdef int i, g, n, status
    cdef cbool on = 1
    for i in range(cs.n):
        c = &cs.clocks[i]
        if c.kind == CLOCK_OUTPUT:
            ev.call = CALL_GET_CLOCK
            status = s.fn.f3_get_clock(s.component, &c.vr, 1, &on)
            if status > STATUS_WARNING:
                return status
            c.active = on
            on = 1
            for n in range(c.n_targets):
                if c.active and post(
                        &m.units[c.target_unit[n]].clocks.clocks[c.target_clock[n]], when):
                    s.log(s.sink, STATUS_ERROR, "cosim", "an output clock ticked more "
                          "often than its target could follow (64 ticks waiting)")
                    return STATUS_ERROR
        if not c.active:
            if c.query and c.kind == CLOCK_TIMED:
                status = follow_interval(u, c, when, ev)
                if status:
                    return status
            continue
        c.active = 0
        c.ticks += 1
        for g in range(N_GROUPS):
            if c.outputs[g] != NULL and get_port(m, u, c.outputs[g]):
                return STATUS_ERROR
        if c.kind == CLOCK_TIMED:
            c.j += 1
            # a countdown ticks once for each interval the FMU sets
            c.next = NO_TICK if c.countdown else tick_time(c)
            if c.query:
                status = follow_interval(u, c, when, ev)
                if status:
                    return status
    return 0


cdef int follow_interval(Unit* u, Clock* c, long long when, StepEvents* ev) noexcept nogil:
    """Ask the FMU for the interval of a tunable, changing or countdown clock;
    a changed one restarts the schedule from this event (a countdown: its
    one tick is due an interval after this event)."""
    cdef double interval
    cdef int qualifier = 0, status
    ev.call = CALL_GET_INTERVAL
    status = u.slave.fn.f3_get_interval_decimal(u.slave.component, &c.vr, 1, &interval,
                                                &qualifier)
    if status > STATUS_WARNING:
        return status
    if qualifier == INTERVAL_CHANGED:
        if not interval > 0.0:
            u.slave.log(u.slave.sink, STATUS_ERROR, "cosim",
                        "fmi3GetIntervalDecimal gave a clock interval that is not > 0")
            return STATUS_ERROR
        c.base, c.interval, c.j = when, interval, 1
        c.next = tick_time(c)
    return 0
