# cython: language_level=3
"""The hot path: one macro step of every unit (Jacobi, optionally on several
threads, or Gauss-Seidel with its loops solved in order), recording rows,
and the fixed-step run.

The loop runs without the GIL and calls the FMUs' C functions through their
function tables; it takes the GIL only for Python-backed components.
Fixed-step point n is at t0 + n*h from the integer step count, never
accumulated.
"""

from cython.parallel cimport prange
from libc.math cimport llround
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from cosim.fmi._binding cimport STATUS_WARNING, slave_do_step
from cosim.master._clocks cimport clocked_step, next_cut
from cosim.master._exchange cimport carry, pull, push, python_call
from cosim.master._loops cimport solve_loop
from cosim.master._types cimport (
    ACT_OUT, ACT_REC, CHUNK_FULL, DONE, FAILED, G_F64, GAUSS_SEIDEL, KIND_FMU, KIND_PYTHON,
    LOOP_FAILED, NO_TICK, STAGE_STEP, TERMINATED, Master, Rows, Unit, UnitStats, cell, fail,
    time_at)


cdef inline int advance(Master* m, Unit* u, double t, double h) noexcept nogil:
    """Step unit u from t over h (counted, and timed when profiling)."""
    cdef int status
    cdef timespec before, after
    cdef UnitStats* stats = &m.stats[u - m.units]
    stats.steps += 1
    if m.profile:
        clock_gettime(CLOCK_MONOTONIC, &before)
    if u.kind == KIND_PYTHON:
        status = python_call(m, u, STAGE_STEP, t, h)
    elif u.clocks != NULL:
        status = clocked_step(m, u, t, h, &stats.ev)
    else:
        status = slave_do_step(&u.slave, t, h, &stats.ev)
        if stats.ev.terminated and status <= STATUS_WARNING:
            m.stop_requested = True
    if m.profile:
        clock_gettime(CLOCK_MONOTONIC, &after)
        stats.step_ns += (after.tv_sec - before.tv_sec) * 1000000000 + (after.tv_nsec - before.tv_nsec)
    if status > STATUS_WARNING:
        if u.kind == KIND_FMU:
            fail(m, u, STAGE_STEP, 0, status)
            m.failures[u - m.units].call = stats.ev.call
        return status
    return 0


cdef inline bint window_ends(Master* m, Unit* u, long long n) noexcept nogil:
    """Whether unit u, stepping in windows of ``multiple`` base steps, reaches
    the end of a window at point n + 1 (where its outputs become visible)."""
    return u.multiple == 1 or (n + 1) % u.multiple == 0 or n + 1 >= m.n_steps


cdef inline int start_unit(Master* m, Unit* u, long long n, double t, double h) noexcept nogil:
    """Set the unit's inputs and step it, if a step of it starts at point n."""
    cdef long long end
    if u.multiple > 1:
        if n % u.multiple:
            return 0
        end = n + u.multiple
        h = time_at(m, end if end < m.n_steps else m.n_steps) - t
    return push(m, u, h) or advance(m, u, t, h)


cdef inline int finish_unit(Master* m, Unit* u, long long n) noexcept nogil:
    """Fetch the unit's outputs if its step ends at point n + 1; else keep them."""
    if window_ends(m, u, n):
        return pull(m, u, ACT_OUT)
    carry(m, u)
    return 0


cdef inline int step_unit(Master* m, Unit* u, long long n, double t, double h) noexcept nogil:
    if u.multiple == 1:
        return push(m, u, h) or advance(m, u, t, h) or pull(m, u, ACT_OUT)
    return start_unit(m, u, n, t, h) or finish_unit(m, u, n)


cdef int step(Master* m, long long n, double t, double h) noexcept nogil:
    """One macro step of every unit from point n; returns the number of units
    that failed, or -1 if an algebraic loop could not be solved."""
    cdef int i, j, errors = 0
    cdef Unit* u
    if m.first_order:
        memcpy(m.holds.at_n, m.rd.f64, m.slot_counts[G_F64] * sizeof(double))
    if m.algorithm == GAUSS_SEIDEL:
        for j in range(m.n_units):
            u = &m.units[m.order[j]]
            if step_unit(m, u, n, t, h):
                errors += 1
            elif m.n_loops and m.loop_at[j] >= 0 and not errors:
                if solve_loop(m, m.loop_at[j]):
                    return loop_failed(m)
        return stepped(m, h, errors)
    # Jacobi: every unit steps on the values of the previous communication
    # point (rd) and writes its outputs into the other buffer set (wr), so
    # one pass suffices and units are independent of each other.
    m.wr = &m.bufs[1] if m.rd == &m.bufs[0] else &m.bufs[0]
    errors = step_jacobi(m, n, t, h)
    m.rd = m.wr
    if not errors:
        for i in range(m.n_loops):
            if solve_loop(m, i):
                return loop_failed(m)
    return stepped(m, h, errors)


cdef int step_jacobi(Master* m, long long n, double t, double h) noexcept nogil:
    """Step every unit on the values in rd, writing into wr; returns failures."""
    cdef int j, k, errors = 0
    cdef Unit* u
    if m.n_python_units == 0 and m.threads == 1:
        for k in range(m.n_units):
            if step_unit(m, &m.units[k], n, t, h):
                errors += 1
        return errors
    # Python-backed units (they need the GIL: this thread) set their inputs
    # and step first, and give their outputs after the FMUs have stepped: a
    # remote twin computes on its host meanwhile, and several remote twins
    # step at the same time.
    for j in range(m.n_python_units):
        if start_unit(m, &m.units[m.python_units[j]], n, t, h):
            errors += 1
    if m.threads > 1:
        for j in prange(m.n_fmu_units, num_threads=m.threads, schedule="static"):
            if step_unit(m, &m.units[m.fmu_units[j]], n, t, h):
                errors += 1
    else:
        for j in range(m.n_fmu_units):
            if step_unit(m, &m.units[m.fmu_units[j]], n, t, h):
                errors += 1
    for j in range(m.n_python_units):
        u = &m.units[m.python_units[j]]
        if m.failures[m.python_units[j]].status == 0 and finish_unit(m, u, n):
            errors += 1
    return errors


cdef inline int stepped(Master* m, double h, int errors) noexcept nogil:
    """Close a step: count its failures and move the holds' history on."""
    cdef double* swap
    m.n_failures = errors
    if m.first_order and not errors:
        swap = m.holds.at_n
        m.holds.at_n = m.holds.at_prev
        m.holds.at_prev = swap
        m.holds.h_older, m.holds.had_prev = m.holds.h_prev, m.holds.have_prev
        m.holds.h_prev = h
        m.holds.have_prev = True
    return errors


cdef inline int loop_failed(Master* m) noexcept nogil:
    cdef int k
    m.n_failures = 0
    for k in range(m.n_units):
        if m.failures[k].status:
            m.n_failures += 1
    return m.n_failures if m.n_failures else -1


cdef inline bint stop_due(Master* m) noexcept nogil:
    """Whether a request to end the simulation takes effect at the point
    reached: once the step of every unit that asked has ended there.  A slow
    unit (step multiple) asks at the end of its window, so the others run on
    to it and the result ends where the unit asked."""
    cdef int k
    if not m.stop_requested:
        return False
    for k in range(m.n_units):
        if m.stats[k].ev.terminated and not window_ends(m, &m.units[k], m.step_index - 1):
            return False
    return True


cdef int record(Master* m, double t) noexcept nogil:
    """Fetch record-only values and append a row at time t; returns failures."""
    cdef int k, c, errors = 0
    cdef Unit* u
    cdef uint64_t* row
    for k in range(m.n_units):
        u = &m.units[k]
        # a slow unit in the middle of its step keeps the values it had
        if (u.multiple == 1 or m.step_index % u.multiple == 0
                or m.step_index >= m.n_steps) and pull(m, u, ACT_REC):
            errors += 1
    m.n_failures = errors
    if errors:
        return errors
    row = m.rows.cells + m.rows.filled * m.rows.n_columns
    for c in range(m.rows.n_columns):
        row[c] = cell(m.rd, m.rows.column_group[c], m.rows.column_slot[c])
    m.rows.times[m.rows.filled] = t
    m.rows.filled += 1
    return 0


cdef inline bint flush_due(Rows* r) noexcept nogil:
    """Whether the rows recorded so far have waited flush_ns of wall clock."""
    cdef timespec now
    cdef long long ns, since
    if r.flush_ns <= 0:
        return False
    r.since_check += 1
    if r.since_check < r.check_every:
        return False
    clock_gettime(CLOCK_MONOTONIC, &now)
    ns = now.tv_sec * 1000000000 + now.tv_nsec
    since = ns - r.last_check_ns
    if since < 2000000 and r.check_every < 1048576:
        r.check_every *= 2          # rows come fast: read the clock less often
    elif since > 20000000 and r.check_every > 1:
        r.check_every //= 2
    r.since_check = 0
    r.last_check_ns = ns
    if ns < r.next_flush_ns:
        return False
    r.next_flush_ns = ns + r.flush_ns
    return True


cdef int record_point(Master* m, double t) noexcept nogil:
    """Record the row at an output point; FAILED, TERMINATED (a unit asked
    to stop there) or CHUNK_FULL (a full chunk, or rows due to be flushed)
    end the loop, DONE goes on."""
    if record(m, t):
        return FAILED
    if stop_due(m):
        return TERMINATED
    if m.rows.filled == m.rows.chunk_rows or flush_due(&m.rows):
        return CHUNK_FULL
    return DONE


cdef int step_cut(Master* m, long long n, double t, double t_next, double* reached) noexcept nogil:
    """The step from point n (t) to t_next, cut at every input clock tick
    inside it: each unit steps to the tick, values are exchanged there, and
    the FMUs with the tick take it in event mode as the next part starts
    (FMI 3 co-simulation: a time-based clock ticks at its own time, not at
    the next communication point).  The parts end on the grid again at
    t_next; ``reached`` is where the step ended (before t_next only when a
    unit asked to end the simulation at a tick).  Answers like step."""
    cdef long long cut, end = llround(t_next * 1e9)
    cdef double at
    cdef int status
    reached[0] = t_next
    while m.has_clocks:
        cut = next_cut(m, llround(t * 1e9), end)
        if cut == NO_TICK:
            break
        at = cut / 1e9
        status = step(m, n, t, at - t)
        if status:
            return status
        m.time = at                 # the current point: a failure in the next part is at it
        if m.stop_requested:
            reached[0] = at
            return 0
        t = at
    return step(m, n, t, t_next - t)


cdef int run_fixed(Master* m, long long until_step) noexcept nogil:
    """Fixed steps until step index ``until_step`` (at most the last), a full
    result chunk, or a failure; answers like Core.run."""
    cdef int reason = DONE, status
    cdef double t, t_next, reached
    if until_step > m.n_steps:
        until_step = m.n_steps
    while m.step_index < until_step:
        t = time_at(m, m.step_index)
        t_next = time_at(m, m.step_index + 1)
        status = step_cut(m, m.step_index, t, t_next, &reached)
        if status:
            return LOOP_FAILED if status < 0 else FAILED
        m.step_index += 1
        m.time = reached
        if m.step_index % m.record_every == 0 or m.step_index == m.n_steps or stop_due(m):
            reason = record_point(m, reached)
            if reason != DONE:
                return reason
    return reason
