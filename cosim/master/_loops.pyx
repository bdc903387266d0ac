# cython: language_level=3
"""Algebraic loops at a communication point: fixed-point sweeps over the
loop's units, natively; when they diverge or stall, Newton's method, which
the owning Core runs in Python (see :mod:`cosim.master.newton`)."""

from libc.math cimport fabs, isfinite
from libc.stdint cimport uint64_t

from cosim.master._exchange cimport pull, push
from cosim.master._types cimport (
    ACT_OUT, NEWTON_POINTS, NEWTON_RETRY, Loop, Master, Unit, cell)


cdef int sweep(Master* m, Loop* loop) noexcept nogil:
    """Set the inputs and get the outputs of every unit of the loop, in order."""
    cdef int j
    cdef Unit* u
    for j in range(loop.n_units):
        u = &m.units[loop.units[j]]
        m.stats[loop.units[j]].loop_iterations += 1
        if push(m, u, 0.0) or pull(m, u, ACT_OUT):
            return 1
    return 0


cdef uint64_t discrete_value(Master* m, Loop* loop, int j) noexcept nogil:
    """Discrete value j of the loop as a cell: an FMI 2 boolean that came
    back as any nonzero value is 1."""
    return cell(m.rd, loop.discrete_group[j], loop.discrete_slots[j])


cdef void keep_discrete(Master* m, Loop* loop) noexcept nogil:
    cdef int j
    for j in range(loop.n_discrete):
        loop.discrete_before[j] = discrete_value(m, loop, j)


cdef bint discrete_changed(Master* m, Loop* loop) noexcept nogil:
    """Whether a value of the loop other than float64 differs from before the sweep."""
    cdef int j
    for j in range(loop.n_discrete):
        if discrete_value(m, loop, j) != loop.discrete_before[j]:
            return True
    return False


cdef double sweep_change(Master* m, Loop* loop) noexcept nogil:
    """The largest scaled change of the loop's float64 values over the last sweep."""
    cdef int j
    cdef double change, worst = 0.0, value
    for j in range(loop.n_slots):
        value = m.rd.f64[loop.slots[j]]
        change = fabs(value - loop.before[j]) / (1.0 + fabs(value))
        if not isfinite(change):
            change = 1e300
        if change > worst:
            worst = change
    return worst


cdef int solve_loop(Master* m, int i) noexcept nogil:
    """Solve loop i at the current communication point: fixed-point sweeps
    until the float64 values change by less than the tolerance and the
    int32 and bool values repeat, then Newton's method on the float64
    values if the sweeps diverge or stall.  A loop that needed Newton goes
    straight to it for the next NEWTON_POINTS points (and back to the
    sweeps if Newton alone fails).  Returns 0 or 1."""
    cdef Loop* loop = &m.loops[i]
    cdef int it, j, growing = 0, status
    cdef bint changed = False
    cdef double worst = 0.0, previous = 1e300
    for j in range(loop.n_slots):
        loop.start[j] = m.rd.f64[loop.slots[j]]
    if loop.newton_left > 0:
        loop.newton_left -= 1
        status = m.newton(m.owner, i, True)
        if status != NEWTON_RETRY:
            return status
        for j in range(loop.n_slots):
            m.rd.f64[loop.slots[j]] = loop.start[j]
    for it in range(m.loop_max_iterations):
        for j in range(loop.n_slots):
            loop.before[j] = m.rd.f64[loop.slots[j]]
        keep_discrete(m, loop)
        if sweep(m, loop):
            return 1
        worst = sweep_change(m, loop)
        changed = discrete_changed(m, loop)
        if worst <= m.loop_tolerance:
            if not changed:
                return 0
            # Newton cannot move discrete values: only more sweeps can settle them
            previous = worst
            continue
        growing = growing + 1 if worst >= previous else 0
        if growing >= 3:
            break
        previous = worst
    if worst <= m.loop_tolerance and changed:
        m.discrete_error(m.owner, i, m.loop_max_iterations)
        return 1
    loop.newton_left = NEWTON_POINTS
    return m.newton(m.owner, i, False)
