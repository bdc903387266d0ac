# cython: language_level=3
"""Variable steps: each step is taken from a saved point (values, last-set
inputs and FMU states), its coupling error estimated against what the holds
assumed, and rolled back and taken again shorter when too large.  The points
that must be reached (the caller's target, output points, the end) are set
exactly (see cosim.timegrid).  Also the history the holds and the step
control carry from point to point, as Core.history() hands it to Python.
"""

from libc.math cimport INFINITY, fabs, floor, isfinite, pow
from libc.stdint cimport int32_t
from libc.string cimport memcpy, memset

from cosim.fmi._binding cimport STATUS_TERMINATED, STATUS_WARNING
from cosim.master._stepping cimport record_point, step
from cosim.master._types cimport (
    DONE, FAILED, G_BOOL, G_F32, G_F64, G_I32, GROUP_SIZE, LOOP_FAILED, N_GROUPS, STAGE_STEP,
    Buffers, Failure, HistoryTail, Master, StepControl, Unit, fail)


cdef void copy_buffers(Master* m, Buffers* to, Buffers* source) noexcept nogil:
    cdef int g
    memcpy(to.f64, source.f64, m.slot_counts[G_F64] * sizeof(double))
    memcpy(to.d64, source.d64, m.slot_counts[G_F64] * sizeof(double))
    memcpy(to.i32, source.i32, m.slot_counts[G_I32] * sizeof(int32_t))
    memcpy(to.boolean, source.boolean, m.slot_counts[G_BOOL] * sizeof(int32_t))
    for g in range(G_F32, N_GROUPS):
        memcpy(to.raw[g], source.raw[g], m.slot_counts[g] * GROUP_SIZE[g])


cdef int save(Master* m) noexcept nogil:
    """Keep every value and FMU state of the current point for a rollback."""
    cdef int j, status
    cdef Unit* u
    copy_buffers(m, &m.control.backup, m.rd)
    memcpy(m.control.inputs_backup, m.inputs_block, m.inputs_bytes)
    for j in range(m.n_fmu_units):
        u = &m.units[m.fmu_units[j]]
        status = u.slave.fn.get_state(u.slave.component, &u.saved_state)
        if status > STATUS_WARNING:
            fail(m, u, STAGE_STEP, 0, status)
            return 1
    return 0


cdef int rollback(Master* m) noexcept nogil:
    """Return to the point kept by save, counting a rejected step for every FMU."""
    cdef int j, k, status
    cdef Unit* u
    copy_buffers(m, m.rd, &m.control.backup)
    # the FMUs' inputs come back with their states
    memcpy(m.inputs_block, m.control.inputs_backup, m.inputs_bytes)
    # a termination asked for in a rejected step is forgotten with the step
    m.stop_requested = False
    for j in range(m.n_fmu_units):
        k = m.fmu_units[j]
        u = &m.units[k]
        m.stats[k].ev.terminated = 0
        m.stats[k].rejected += 1
        m.stats[k].rollbacks += 1
        status = u.slave.fn.set_state(u.slave.component, u.saved_state)
        if status > STATUS_WARNING:
            fail(m, u, STAGE_STEP, 0, status)
            return 1
    return 0


cdef void unstep_holds(Master* m) noexcept nogil:
    """Undo what the step just rolled back moved on in the holds' history."""
    cdef double* swap
    if m.first_order:
        swap = m.holds.at_n
        m.holds.at_n = m.holds.at_prev
        m.holds.at_prev = swap
        m.holds.h_prev, m.holds.have_prev = m.holds.h_older, m.holds.had_prev


cdef double asked_inside(Master* m) noexcept nogil:
    """When every failure of the step is a unit that asked to end the
    simulation inside it (STATUS_TERMINATED), the earliest time one asked;
    otherwise -INFINITY."""
    cdef int k
    cdef double asked = INFINITY
    for k in range(m.n_units):
        if m.failures[k].status == 0:
            continue
        if m.failures[k].status != STATUS_TERMINATED:
            return -INFINITY
        if m.stats[k].ev.stop_time < asked:
            asked = m.stats[k].ev.stop_time
    return asked


cdef double coupling_error(Master* m, double h) noexcept nogil:
    """Largest scaled difference between the exchanged values at the end of
    the step and what the holds assumed over it (the step's start value, or
    its first-order extrapolation)."""
    cdef int s
    cdef double worst = 0.0, start, predicted, value, e
    cdef StepControl* c = &m.control
    for s in range(c.n_estimated):
        value = m.rd.f64[s]
        start = c.backup.f64[s]
        predicted = start
        if m.first_order:
            # stepped() has moved the history on: the step's secant ran from
            # the point before (now in at_n) over the step before (h_older)
            if m.has_derivative[s] and m.derivatives_live:
                predicted = start + c.backup.d64[s] * h
            elif m.holds.had_prev:
                predicted = start + (start - m.holds.at_n[s]) / m.holds.h_older * h
        e = fabs(value - predicted) / (c.atol + c.rtol * fabs(value))
        if not isfinite(e):
            return 1e300
        if e > worst:
            worst = e
    return worst


cdef double next_output(Master* m) noexcept nogil:
    """The next output point (infinity without an output interval)."""
    if m.control.output_interval == 0.0:
        return INFINITY
    return m.start_time + (m.control.outputs_done + 1) * m.control.output_interval


cdef void place_outputs(Master* m, double time) noexcept nogil:
    """Count the output points reached at ``time`` (after a rewind)."""
    cdef StepControl* c = &m.control
    if c.output_interval:
        c.outputs_done = <long long>floor((time - m.start_time) / c.output_interval)
        while next_output(m) <= time:
            c.outputs_done += 1
        while c.outputs_done > 0 and next_output(m) - c.output_interval > time:
            c.outputs_done -= 1


cdef double step_end(Master* m, double target, double* h) noexcept nogil:
    """The end of the next step towards ``target``: h_next, unless the step
    would leave a sliver shorter than min_step, which it then takes too (or
    half of what remains, when that is longer than max_step).  Sets h."""
    cdef double remaining = target - m.time
    h[0] = m.control.h_next
    if h[0] >= remaining or remaining - h[0] < m.control.min_step:
        if remaining <= m.control.max_step:
            h[0] = remaining
            return target
        h[0] = remaining / 2
    return m.time + h[0]


cdef int run_variable(Master* m, double until) noexcept nogil:
    """Variable steps until ``until`` (at most the end); answers like
    Core.run_variable.  A step inside which a unit asks to end the
    simulation is rolled back and taken again to end where the unit asked."""
    cdef int status
    cdef double error, h, target, t_next, output, asked
    # where a unit that discarded a step asked to end the simulation
    cdef double cut = INFINITY
    cdef StepControl* c = &m.control
    if until > m.end_time:
        until = m.end_time
    while m.time < until:
        output = next_output(m)
        target = output if output < until else until
        if cut < target:
            target = cut
        t_next = step_end(m, target, &h)
        if save(m):
            return FAILED
        status = step(m, m.step_index, m.time, t_next - m.time)
        if status > 0:
            asked = asked_inside(m)
            if m.time < asked < t_next and asked < cut:
                memset(m.failures, 0, m.n_units * sizeof(Failure))
                if rollback(m):
                    return FAILED
                cut = asked
                c.h_next = asked - m.time
                continue
        if status:
            return LOOP_FAILED if status < 0 else FAILED
        error = coupling_error(m, t_next - m.time)
        # A step that cannot shrink without leaving a sliver shorter than
        # min_step is taken as it is: shrinking it would only grow it back.
        if error > 1.0 and h > c.min_step \
                and not (t_next == target and target - m.time < 2 * c.min_step):
            unstep_holds(m)
            if rollback(m):
                return FAILED
            c.h_next = max(c.min_step, h * max(0.2, 0.9 * pow(error, -1.0 / c.error_order)))
            continue
        if t_next >= cut:
            cut = INFINITY
        status = accept(m, t_next, h, error, output)
        if status != DONE:
            return status
    return DONE


cdef int accept(Master* m, double t_next, double h, double error, double output) noexcept nogil:
    """Move to the end of an accepted step, choose the next step and record
    the row when the point is an output point; answers like record_point."""
    cdef StepControl* c = &m.control
    cdef double factor = 0.9 * pow(error, -1.0 / c.error_order) if error > 0.0 else 4.0
    m.time = t_next
    m.step_index += 1
    c.h_next = min(c.max_step, max(c.min_step, h * min(4.0, max(0.2, factor))))
    if t_next == output:
        c.outputs_done += 1
    if c.output_interval == 0.0 or t_next == output or t_next == m.end_time \
            or m.stop_requested:
        return record_point(m, t_next)
    return DONE


cdef size_t history_size(Master* m) noexcept:
    """Bytes of history_bytes: two float64 arrays and the tail."""
    return 2 * m.slot_counts[G_F64] * sizeof(double) + sizeof(HistoryTail)


cdef bytes history_bytes(Master* m):
    """The holds' and step control's history: the previous point's float64
    values, the output derivatives at this one, then a HistoryTail."""
    cdef size_t n64 = m.slot_counts[G_F64] * sizeof(double)
    cdef HistoryTail tail
    memset(&tail, 0, sizeof(tail))
    tail.h_prev = m.holds.h_prev
    tail.h_next = m.control.h_next
    tail.have_prev = 1 if m.holds.have_prev else 0
    return (bytes(<char[:n64]><char*>m.holds.at_prev) + bytes(<char[:n64]><char*>m.rd.d64)
            + bytes(<char[:sizeof(tail)]><char*>&tail))


cdef str history_fault(Master* m, bytes history):
    """Why ``history`` (of history_size bytes) cannot be restored, or None: a
    saved state may come from an untrusted file, and the step control must
    never be handed a step length that is not a finite number >= 0."""
    cdef size_t n64 = m.slot_counts[G_F64] * sizeof(double)
    cdef HistoryTail tail
    memcpy(&tail, <const char*>history + 2 * n64, sizeof(tail))
    if not (isfinite(tail.h_prev) and tail.h_prev >= 0 and isfinite(tail.h_next)
            and tail.h_next >= 0) or tail.have_prev > 1:
        return (f"its step history is invalid (previous step {tail.h_prev!r} s, next step "
                f"{tail.h_next!r} s)")
    return None


cdef void restore_history(Master* m, bytes history) except *:
    """Take back what history_bytes gave (None: start the history afresh)."""
    cdef size_t n64 = m.slot_counts[G_F64] * sizeof(double)
    cdef const char* data
    cdef HistoryTail tail
    m.holds.have_prev = False
    if history is None:
        return
    data = history
    memcpy(m.holds.at_prev, data, n64)
    memcpy(m.rd.d64, data + n64, n64)
    memcpy(&tail, data + 2 * n64, sizeof(tail))
    m.holds.h_prev = tail.h_prev
    m.control.h_next = tail.h_next
    m.holds.have_prev = tail.have_prev != 0
