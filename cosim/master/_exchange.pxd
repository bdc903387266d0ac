# Value exchange: moving values between the buffers and the units' FMI
# calls.  These are the innermost calls of every step, so they are inline
# here and compile into each module that cimports them; none touches a
# Python object or allocates.

from libc.stdint cimport int32_t, uint8_t
from libc.string cimport memcmp, memcpy

from cosim.fmi._binding cimport (
    STATUS_WARNING, slave_get, slave_get_output_derivatives, slave_set,
    slave_set_input_derivatives)
from cosim.master._text cimport pull_text, push_text
from cosim.master._types cimport (
    ACT_IN, ACT_OUT, ACT_REC, G_BOOL, G_F64, G_I32, G_STR, GROUP_SIZE, HOLD_INTERPOLATE, HOLD_ZERO,
    KIND_PYTHON, STAGE_GET, STAGE_RECORD, STAGE_SET, Buffers, Master, Port, Unit, copy_slot,
    fail, slot_at)


cdef inline int python_call(Master* m, Unit* u, int stage, double t, double h) noexcept nogil:
    """One stage of a Python-backed unit, run by the owning Core with the GIL."""
    return m.python_stage(m.owner, u - m.units, stage, t, h)


cdef inline int push(Master* m, Unit* u, double h) noexcept nogil:
    """Gather the unit's inputs from the buffers and set them for a step of
    ``h`` (0: at a communication point, where every hold gives the value itself)."""
    cdef int g, i, j, status
    cdef Port* p
    if u.kind == KIND_PYTHON:
        return python_call(m, u, STAGE_SET, 0.0, 0.0)
    for j in range(u.n_active[ACT_IN]):
        p = u.active[ACT_IN][j]
        g = p.group
        if g >= G_STR:
            status = push_text(m, u, p)
            if status > STATUS_WARNING:
                fail(m, u, STAGE_SET, g, status)
                return status
            continue
        if p.direct >= 0:
            status = set_changed(m, u, p, <char*>slot_at(m.rd, g, p.direct))
            if status > STATUS_WARNING:
                fail(m, u, STAGE_SET, g, status)
                return status
            continue
        if p.hold != NULL:
            first_order(m, p, h)
        elif g == G_F64 and p.scale != NULL:
            for i in range(p.nv):
                (<double*>p.scratch)[i] = p.scale[i] * m.rd.f64[p.slot[i]] + p.shift[i]
        else:
            gather(m.rd, p, u.fmi_version)
        status = set_changed(m, u, p, <char*>p.scratch)
        if status <= STATUS_WARNING and p.slope != NULL and h > 0.0:
            status = slave_set_input_derivatives(&u.slave, p.vr, p.n, p.order, p.slope)
        if status > STATUS_WARNING:
            fail(m, u, STAGE_SET, g, status)
            return status
    return 0


cdef inline void gather(Buffers* rd, Port* p, int version) noexcept nogil:
    """The port's values from the buffers ``rd``, in the FMI call's C type."""
    cdef int i, g = p.group, w
    if g == G_F64:
        for i in range(p.nv):
            (<double*>p.scratch)[i] = rd.f64[p.slot[i]]
    elif g == G_I32:
        for i in range(p.nv):
            (<int32_t*>p.scratch)[i] = rd.i32[p.slot[i]]
    elif g == G_BOOL and (version == 3 or version == 1):
        for i in range(p.nv):
            (<uint8_t*>p.scratch)[i] = rd.boolean[p.slot[i]] != 0
    elif g == G_BOOL:
        for i in range(p.nv):
            (<int32_t*>p.scratch)[i] = rd.boolean[p.slot[i]]
    else:
        w = GROUP_SIZE[g]
        for i in range(p.nv):
            memcpy(<char*>p.scratch + i * w, slot_at(rd, g, p.slot[i]), w)


cdef inline void scatter(Buffers* wr, Port* p, int version) noexcept nogil:
    """The port's values, fetched in the FMI call's C type, into the buffers ``wr``."""
    cdef int i, g = p.group, w
    if g == G_F64:
        for i in range(p.nv):
            wr.f64[p.slot[i]] = (<double*>p.scratch)[i]
    elif g == G_I32:
        for i in range(p.nv):
            wr.i32[p.slot[i]] = (<int32_t*>p.scratch)[i]
    elif g == G_BOOL and (version == 3 or version == 1):
        for i in range(p.nv):
            wr.boolean[p.slot[i]] = (<uint8_t*>p.scratch)[i] != 0
    elif g == G_BOOL:
        for i in range(p.nv):
            wr.boolean[p.slot[i]] = (<int32_t*>p.scratch)[i] != 0
    else:
        w = GROUP_SIZE[g]
        for i in range(p.nv):
            memcpy(slot_at(wr, g, p.slot[i]), <char*>p.scratch + i * w, w)


cdef inline int set_changed(Master* m, Unit* u, Port* p, const char* values) noexcept nogil:
    """Set the port's values that differ, bit for bit, from those last set (an
    array variable whole if any element changed), in one call."""
    cdef int i, nc = 0, w = p.size
    cdef size_t offset, nbytes, filled = 0
    cdef int status
    if not p.known[0] or m.set_all_inputs:
        p.known[0] = 0
        status = slave_set(&u.slave, p.type, p.vr, p.n, values, p.nv)
        if status <= STATUS_WARNING:
            memcpy(p.last, values, p.nv * w)
            p.known[0] = 1
        return status
    for i in range(p.n):
        offset = p.first[i] * w
        nbytes = (p.first[i + 1] - p.first[i]) * w
        if memcmp(p.last + offset, values + offset, nbytes) != 0:
            p.changed_vr[nc] = p.vr[i]
            nc += 1
            memcpy(<char*>p.changed + filled, values + offset, nbytes)
            filled += nbytes
    if nc == 0:
        return 0
    # the FMU holds values nobody knows if the call fails: set them all next time
    p.known[0] = 0
    if nc == p.n:
        status = slave_set(&u.slave, p.type, p.vr, p.n, values, p.nv)
    else:
        status = slave_set(&u.slave, p.type, p.changed_vr, nc, p.changed, filled // w)
    if status <= STATUS_WARNING:
        memcpy(p.last, values, p.nv * w)
        p.known[0] = 1
    return status


cdef inline void first_order(Master* m, Port* p, double h) noexcept nogil:
    """Values (and slopes) of a float64 input port with first-order holds."""
    cdef int i, s
    cdef double start, slope, value
    cdef double* out = <double*>p.scratch
    for i in range(p.nv):
        s = p.slot[i]
        slope = 0.0
        if h <= 0.0 or p.hold[i] == HOLD_ZERO:
            start = m.rd.f64[s]
        elif p.hold[i] == HOLD_INTERPOLATE:
            # the source has already stepped: from its old value to its new one
            start = m.holds.at_n[s]
            slope = (m.rd.f64[s] - start) / h
        else:
            start = m.rd.f64[s]
            slope = hold_slope(m, s, m.rd)
        if p.slope != NULL:
            value = start                 # the FMU follows the slope itself
        else:
            value = start + 0.5 * h * slope     # the hold's mean over the step
        if p.scale != NULL:
            value = p.scale[i] * value + p.shift[i]
            slope = p.scale[i] * slope
        out[i] = value
        if p.slope != NULL:
            p.slope[i] = slope


cdef inline double hold_slope(Master* m, int s, Buffers* values) noexcept nogil:
    """The slope a first-order hold extrapolates float64 slot s with from the
    point whose values are ``values``: the source's output derivative, else the
    secant through its last two points (0 before there are two)."""
    if m.has_derivative[s] and m.derivatives_live:
        return values.d64[s]
    if m.holds.have_prev:
        return (values.f64[s] - m.holds.at_prev[s]) / m.holds.h_prev
    return 0.0


cdef inline int pull(Master* m, Unit* u, int which) noexcept nogil:
    """Get the unit's outputs (ACT_OUT) or recorded values (ACT_REC) into the buffers."""
    cdef int g, i, j, status
    cdef Port* p
    if u.kind == KIND_PYTHON:
        return python_call(m, u, STAGE_GET if which == ACT_OUT else STAGE_RECORD, 0.0, 0.0)
    for j in range(u.n_active[which]):
        p = u.active[which][j]
        g = p.group
        if g >= G_STR:
            status = pull_text(m, u, p)
            if status > STATUS_WARNING:
                fail(m, u, STAGE_GET, g, status)
                return status
            continue
        status = slave_get(&u.slave, p.type, p.vr, p.n,
                           slot_at(m.wr, g, p.direct) if p.direct >= 0 else p.scratch, p.nv)
        if status > STATUS_WARNING:
            fail(m, u, STAGE_GET, g, status)
            return status
        if p.derivative != NULL and m.derivatives_live:
            status = slave_get_output_derivatives(&u.slave, p.vr, p.n, p.order,
                                                  p.derivative, p.nv)
            if status > STATUS_WARNING:
                fail(m, u, STAGE_GET, g, status)
                return status
            for i in range(p.nv):
                m.wr.d64[p.slot[i]] = p.derivative[i]
        if p.direct < 0:
            scatter(m.wr, p, u.fmi_version)
    return 0


cdef inline void carry(Master* m, Unit* u) noexcept nogil:
    """Keep a unit's values in the buffer set being written (it did not pull)."""
    cdef int i, j, kind
    cdef Port* p
    if m.rd == m.wr:
        return
    for kind in range(ACT_OUT, ACT_REC + 1):
        for j in range(u.n_active[kind]):
            p = u.active[kind][j]
            for i in range(p.nv):
                copy_slot(m.wr, m.rd, p.group, p.slot[i])
