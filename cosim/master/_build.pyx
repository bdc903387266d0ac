# cython: language_level=3
"""Building a core: the flat arrays of a flattened system laid out in memory
the core owns (units, ports, buffers, loops, clocks, result rows), from the
Python description :mod:`cosim.execution` gives.  :class:`cosim.master._core.Core`
adds running and access from Python on top.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from cosim.fmi._binding cimport (
    T_BINARY, T_BOOL, T_FLOAT32, T_FLOAT64, T_INT8, T_INT16, T_INT32, T_INT64, T_STRING, T_UINT8,
    T_UINT16, T_UINT32, T_UINT64, Instance)
from cosim.master._clocks cimport tick_time
from cosim.master._text cimport text_free, text_index
from cosim.master._types cimport (
    ACT_IN, ACT_OUT, ACT_REC, CLOCK_OUTPUT, CLOCK_TIMED, CLOCK_TRIGGERED, G_BOOL, G_F32, G_F64,
    G_I32, G_STR, GAUSS_SEIDEL, GROUP_SIZE, HOLD_EXTRAPOLATE, HOLD_INTERPOLATE, HOLD_ZERO, JACOBI,
    KIND_FMU, KIND_PYTHON, N_GROUPS, NO_TICK, Buffers, Clock, ClockSet, Failure, Loop, Master,
    Port, StepControl, TextStore, Unit, UnitStats)

cnp.import_array()

_GROUP_NAMES = ("float64", "int32", "bool", "float32", "int8", "uint8", "int16", "uint16",
                "uint32", "int64", "uint64", "string", "binary")
GROUPS = {name: g for g, name in enumerate(_GROUP_NAMES)}
_GROUP_TYPES = (T_FLOAT64, T_INT32, T_BOOL, T_FLOAT32, T_INT8, T_UINT8, T_INT16, T_UINT16,
                T_UINT32, T_INT64, T_UINT64, T_STRING, T_BINARY)
# the groups whose slots hold indices into their TextStore
TEXT_GROUPS = ("string", "binary")
# numpy dtype of each group's buffer (text groups: store indices)
_GROUP_DTYPES = (np.float64, np.int32, np.int32, np.float32, np.int8, np.uint8, np.int16,
                 np.uint16, np.uint32, np.int64, np.uint64, np.int64, np.int64)
for _g, _dtype in enumerate(_GROUP_DTYPES):
    if GROUP_SIZE[_g] != np.dtype(_dtype).itemsize:
        raise ImportError(f"cosim.master: GROUP_SIZE of {_GROUP_NAMES[_g]} is {GROUP_SIZE[_g]}, "
                          f"its numpy dtype has {np.dtype(_dtype).itemsize} bytes")
del _g, _dtype
HOLDS = {"zero": HOLD_ZERO, "extrapolate": HOLD_EXTRAPOLATE, "interpolate": HOLD_INTERPOLATE}

cdef enum:
    ARENA_CHUNK = 1 << 18


cdef class Builder:
    """Lays out a core's arrays; see :class:`cosim.master._core.Core` for the call order."""

    def __cinit__(self, int n_units, slot_counts, *, int chunk_rows=4096):
        cdef Master* m = &self.m
        self._keep = []
        self.arena_used = ARENA_CHUNK      # the first small block opens a chunk
        self._python = [None] * n_units
        self.loop_labels = []
        m.loop_max_iterations = 100
        m.loop_tolerance = 1e-10
        m.n_units = n_units
        m.units = <Unit*>self._alloc(max(n_units, 1) * sizeof(Unit))
        cdef Port* pool = <Port*>self._alloc(max(n_units, 1) * 3 * N_GROUPS * sizeof(Port))
        m.order = <int*>self._alloc(max(n_units, 1) * sizeof(int))
        m.failures = <Failure*>self._alloc(max(n_units, 1) * sizeof(Failure))
        m.stats = <UnitStats*>self._alloc(max(n_units, 1) * sizeof(UnitStats))
        for g in range(N_GROUPS):
            m.slot_counts[g] = max(slot_counts[g], 1)
        for b in range(2):
            self._buffers(&m.bufs[b])
        self._buffers(&m.control.backup)
        m.holds.at_n = <double*>self._alloc(m.slot_counts[G_F64] * sizeof(double))
        m.holds.at_prev = <double*>self._alloc(m.slot_counts[G_F64] * sizeof(double))
        m.has_derivative = <uint8_t*>self._alloc(m.slot_counts[G_F64])
        m.rd = m.wr = &m.bufs[0]
        for t in range(2):
            # Not from the arena: __dealloc__ frees the stores, and when the
            # garbage collector breaks a cycle through a core, the arena's
            # arrays may be gone before it runs.
            m.text[t] = <TextStore*>calloc(m.slot_counts[G_STR + t], sizeof(TextStore))
            if m.text[t] == NULL:
                raise MemoryError()
            for s in range(m.slot_counts[G_STR + t]):
                if text_index(&m.text[t][s], "", 0) != 0:     # index 0: the empty value
                    raise MemoryError()
        m.rows.chunk_rows = chunk_rows
        m.rows.check_every = 1
        m.threads = 1
        for k in range(n_units):
            m.order[k] = k
            m.units[k].ports = &pool[k * 3 * N_GROUPS]
            m.units[k].multiple = 1

    cdef void _buffers(self, Buffers* b) except *:
        b.f64 = <double*>self._alloc(self.m.slot_counts[G_F64] * sizeof(double))
        b.d64 = <double*>self._alloc(self.m.slot_counts[G_F64] * sizeof(double))
        b.i32 = <int32_t*>self._alloc(self.m.slot_counts[G_I32] * sizeof(int32_t))
        b.boolean = <int32_t*>self._alloc(self.m.slot_counts[G_BOOL] * sizeof(int32_t))
        for g in range(G_F32, N_GROUPS):
            b.raw[g] = <char*>self._alloc(self.m.slot_counts[g] * GROUP_SIZE[g])

    def __dealloc__(self):
        for t in range(2):
            if self.m.text[t] != NULL:
                for s in range(self.m.slot_counts[G_STR + t]):
                    text_free(&self.m.text[t][s])
                free(self.m.text[t])
                self.m.text[t] = NULL

    def free_states(self):
        """Free the FMU states kept for rollbacks; call before the instances are freed."""
        cdef Unit* u
        for k in range(self.m.n_units):
            u = &self.m.units[k]
            if u.saved_state != NULL and u.kind == KIND_FMU and u.slave.fn.free_state != NULL:
                u.slave.fn.free_state(u.slave.component, &u.saved_state)
            u.saved_state = NULL

    cdef void* _alloc(self, size_t nbytes) except NULL:
        """Zeroed memory owned by the core.  Small blocks come one after the other
        from shared chunks, so the ports of consecutive units sit together."""
        cdef size_t size = (max(nbytes, 1) + 15) & ~(<size_t>15)    # 16-byte aligned
        if size > ARENA_CHUNK // 4:
            array = np.zeros(size, dtype=np.uint8)
            self._keep.append(array)
            return cnp.PyArray_DATA(array)
        if self.arena_used + size > ARENA_CHUNK:
            array = np.zeros(ARENA_CHUNK, dtype=np.uint8)
            self._keep.append(array)
            self.arena = <char*>cnp.PyArray_DATA(array)
            self.arena_used = 0
        cdef void* block = self.arena + self.arena_used
        self.arena_used += size
        return block

    cdef int* _ints(self, values) except NULL:
        cdef int* out = <int*>self._alloc(len(values) * sizeof(int))
        for i, v in enumerate(values):
            out[i] = v
        return out

    cdef uint32_t* _vrs(self, values) except NULL:
        cdef uint32_t* out = <uint32_t*>self._alloc(len(values) * sizeof(uint32_t))
        for i, v in enumerate(values):
            out[i] = v
        return out

    cdef double* _doubles(self, values) except NULL:
        cdef double* out = <double*>self._alloc(len(values) * sizeof(double))
        for i, v in enumerate(values):
            out[i] = v
        return out

    # -- building -------------------------------------------------------------

    def add_fmu(self, int k, Instance instance):
        """Unit ``k`` is an FMU instance."""
        cdef Unit* u = &self.m.units[k]
        u.kind = KIND_FMU
        u.slave = instance.c_slave()[0]
        u.fmi_version = u.slave.version
        self._keep.append(instance)

    def add_python(self, int k, component):
        """Unit ``k`` is a Python-backed component (see :class:`cosim.component.PythonComponent`)."""
        self.m.units[k].kind = KIND_PYTHON
        self.m.units[k].fmi_version = 0
        self._python[k] = component

    cdef void _port(self, Port* port, int version, int group, vrs, slots) except *:
        port.n = len(vrs)
        port.nv = len(slots)
        if port.nv < port.n or (port.nv != port.n and version != 3):
            raise ValueError(f"{port.nv} slots for {port.n} value references (FMI {version})")
        port.group = group
        port.type = _GROUP_TYPES[group]
        port.vr = self._vrs(vrs)
        port.slot = self._ints(slots)
        if group == G_BOOL and (version == 3 or version == 1):
            size = sizeof(uint8_t)          # fmi3Boolean, fmi1Boolean
        else:
            size = GROUP_SIZE[group]        # fmi2Boolean is an int32 too
        if group >= G_STR:
            if port.nv != port.n:
                raise ValueError(f"{_GROUP_NAMES[group]} arrays are not exchanged")
            size = sizeof(long long)       # `last` holds store indices; scratch, pointers
            port.lengths = <size_t*>self._alloc(max(port.n, 1) * sizeof(size_t))
        port.size = size
        port.scratch = self._alloc(max(port.nv, 1) * size)
        if group >= G_STR:
            port.direct = -1
            return
        contiguous = port.n > 0 and list(slots) == list(range(slots[0], slots[0] + port.nv))
        # fmi3Boolean and fmi1Boolean are one byte, unlike the buffer's int32: they need the copy.
        same_layout = group != G_BOOL or version == 2
        port.direct = slots[0] if contiguous and same_layout else -1

    def set_inputs(self, int k, str group, vrs, source_slots, scales=None, shifts=None, *,
                   holds=None, derivatives=False, counts=None):
        """Inputs of unit ``k`` of type ``group``, each value read from a buffer slot
        and, for float64, transformed as ``scale*value + shift`` when scales are
        given.  ``source_slots``, ``scales``, ``shifts`` and ``holds`` have one
        entry per value: an FMI 3 array input of m elements takes m in a row,
        and ``counts`` gives the elements of each value reference (None: one).
        A value is set only when it differs, bit for bit, from the one last set.

        ``holds`` (float64 only) gives each input's hold, a key of ``HOLDS``;
        first-order holds either set the unit's input derivatives
        (``derivatives``: FMI 2 units that can interpolate inputs) or set the
        value the first-order hold takes at the middle of the step.
        """
        cdef Unit* u = &self.m.units[k]
        cdef Port* port = &u.ports[ACT_IN * N_GROUPS + GROUPS[group]]
        self._port(port, u.fmi_version, GROUPS[group], vrs, source_slots)
        counts = [1] * port.n if counts is None else list(counts)
        if len(counts) != port.n or sum(counts) != port.nv:
            raise ValueError(f"counts {counts} do not split {port.nv} values over {port.n} "
                             "value references")
        port.first = self._ints([sum(counts[:i]) for i in range(port.n + 1)])
        port.changed_vr = self._vrs([0] * port.n)
        port.changed = self._alloc(max(port.nv, 1) * port.size)
        port.scale = port.shift = NULL
        port.hold = NULL
        port.slope = NULL
        port.order = NULL
        if scales is not None:
            port.scale = self._doubles(scales)
            port.shift = self._doubles(shifts)
            port.direct = -1
        if holds is not None and any(HOLDS[h] != HOLD_ZERO for h in holds):
            port.hold = <uint8_t*>self._alloc(port.nv)
            for i, h in enumerate(holds):
                port.hold[i] = HOLDS[h]
            port.direct = -1
            self.m.first_order = True
            if derivatives and u.kind == KIND_FMU and u.fmi_version == 2 \
                    and u.slave.fn.f2_set_input_derivatives != NULL:
                port.slope = self._doubles([0.0] * port.n)
                port.order = self._ints([1] * port.n)

    def set_outputs(self, int k, str group, vrs, slots, *, bint every_step,
                    bint derivatives=False):
        """Outputs of unit ``k`` written to buffer slots (one per value) after every
        step or only at output points.

        ``derivatives`` (float64 outputs fetched every step of FMI 2 and 3 FMUs
        whose binary exports the function): fetch their first derivatives with
        them, for first-order holds to take as the slope.
        """
        cdef Unit* u = &self.m.units[k]
        cdef Port* port = &u.ports[(ACT_OUT if every_step else ACT_REC) * N_GROUPS + GROUPS[group]]
        self._port(port, u.fmi_version, GROUPS[group], vrs, slots)
        port.derivative = NULL
        port.order = NULL
        if derivatives and every_step and group == "float64" and u.kind == KIND_FMU and (
                (u.fmi_version == 2 and u.slave.fn.f2_get_output_derivatives != NULL) or
                (u.fmi_version == 3 and u.slave.fn.f3_get_output_derivatives != NULL)):
            port.derivative = self._doubles([0.0] * port.nv)
            port.order = self._ints([1] * port.n)
            for slot in slots:
                self.m.has_derivative[slot] = 1

    def set_multiple(self, int k, int multiple):
        """Unit ``k`` steps once every ``multiple`` base steps, its inputs held meanwhile."""
        if multiple < 1:
            raise ValueError(f"step multiple must be >= 1, got {multiple}")
        self.m.units[k].multiple = multiple

    def add_loop(self, units, slots, *, labels, discrete=()):
        """An algebraic loop: its units in execution order and the float64 slots
        exchanged inside it; ``discrete``: its int32 and bool values as (group
        name, slot) pairs; ``labels`` = (unit names, float64 slot names,
        discrete slot names) for errors."""
        self.loop_labels.append(labels)
        new = <Loop*>self._alloc((self.m.n_loops + 1) * sizeof(Loop))
        if self.m.n_loops:
            memcpy(new, self.m.loops, self.m.n_loops * sizeof(Loop))
        self.m.loops = new
        cdef Loop* loop = &self.m.loops[self.m.n_loops]
        loop.n_units = len(units)
        loop.units = self._ints(units)
        loop.n_slots = len(slots)
        loop.slots = self._ints(slots or [0])
        loop.before = self._doubles([0.0] * max(len(slots), 1))
        loop.start = self._doubles([0.0] * max(len(slots), 1))
        loop.n_discrete = len(discrete)
        loop.discrete_group = self._ints([GROUPS[g] for g, _ in discrete] or [0])
        loop.discrete_slots = self._ints([s for _, s in discrete] or [0])
        loop.discrete_before = <uint64_t*>self._alloc(max(len(discrete), 1) * sizeof(uint64_t))
        loop.newton_left = 0
        self.m.n_loops += 1

    def configure(self, *, str algorithm, order, grid, columns):
        """Fix algorithm, execution order, time grid (a :class:`cosim.timegrid.TimeGrid`)
        and recorded columns ((group, slot) pairs)."""
        cdef Master* m = &self.m
        m.algorithm = GAUSS_SEIDEL if algorithm == "gauss-seidel" else JACOBI
        position = {}
        for j, k in enumerate(order):
            m.order[j] = k
            position[k] = j
        m.start_time, m.step_size, m.end_time = grid.start, grid.step, grid.end
        m.n_steps = grid.n_steps
        m.step_index = 0
        m.time = grid.start
        m.control.h_next = grid.step
        m.record_every = grid.record_every
        for k in range(m.n_units):
            self._activate(&m.units[k])
        self._input_block()
        fmus = [k for k in range(m.n_units) if m.units[k].kind == KIND_FMU]
        pythons = [k for k in range(m.n_units) if m.units[k].kind == KIND_PYTHON]
        m.fmu_units, m.n_fmu_units = self._ints(fmus or [0]), len(fmus)
        m.python_units, m.n_python_units = self._ints(pythons or [0]), len(pythons)
        m.loop_at = self._ints([-1] * max(m.n_units, 1))
        for i in range(m.n_loops):
            m.loops[i].last = max(position[m.loops[i].units[j]]
                                  for j in range(m.loops[i].n_units))
            m.loop_at[m.loops[i].last] = i
        self._rows(columns)

    cdef void _rows(self, columns) except *:
        """The result chunk for the recorded columns ((group, slot) pairs)."""
        cdef Master* m = &self.m
        m.rows.n_columns = len(columns)
        m.rows.column_group = self._ints([GROUPS[g] for g, _ in columns] or [0])
        m.rows.column_slot = self._ints([s for _, s in columns] or [0])
        m.rows.cells = <uint64_t*>self._alloc(
            m.rows.chunk_rows * max(m.rows.n_columns, 1) * sizeof(uint64_t))
        m.rows.times = <double*>self._alloc(m.rows.chunk_rows * sizeof(double))
        m.rows.filled = 0

    def configure_variable(self, grid, *, double rtol, double atol, int estimated):
        """Switch to variable steps (after :meth:`configure`): the step starts at
        the grid's ``step`` and is kept within its ``min_step..max_step``; a step
        is rejected and taken again, shorter, when the coupling error estimated
        on float64 slots ``[0, estimated)`` exceeds ``atol + rtol*|value|``.  Rows
        are recorded at every ``output_interval`` (0: after every accepted step)."""
        cdef StepControl* c = &self.m.control
        c.on = True
        c.min_step, c.max_step = grid.min_step, grid.max_step
        c.output_interval = grid.output_interval
        c.outputs_done = 0
        c.rtol, c.atol = rtol, atol
        c.error_order = 2 if self.m.first_order else 1
        c.n_estimated = estimated
        c.h_next = min(max(self.m.step_size, c.min_step), c.max_step)

    cdef void _input_block(self) except *:
        """Lay the known flags, then the last-set values, of every FMU input port
        out in one block (and its rollback copy)."""
        cdef int k, j
        cdef Port* p
        cdef size_t flags = 0, values = 0
        cdef Master* m = &self.m
        for k in range(m.n_units):
            if m.units[k].kind == KIND_FMU:
                for j in range(m.units[k].n_active[ACT_IN]):
                    p = m.units[k].active[ACT_IN][j]
                    flags += 1
                    values += (p.nv * p.size + 7) & ~(<size_t>7)
        flags = (flags + 7) & ~(<size_t>7)
        m.inputs_bytes = flags + values
        m.inputs_block = <char*>self._alloc(m.inputs_bytes)
        m.control.inputs_backup = <char*>self._alloc(m.inputs_bytes)
        values = flags
        flags = 0
        for k in range(m.n_units):
            if m.units[k].kind == KIND_FMU:
                for j in range(m.units[k].n_active[ACT_IN]):
                    p = m.units[k].active[ACT_IN][j]
                    p.known = <uint8_t*>&m.inputs_block[flags]
                    p.last = &m.inputs_block[values]
                    flags += 1
                    values += (p.nv * p.size + 7) & ~(<size_t>7)

    cdef void _activate(self, Unit* u):
        """List the unit's non-empty ports."""
        cdef int g, kind
        cdef Port* p
        for kind in range(3):
            u.n_active[kind] = 0
            for g in range(N_GROUPS):
                p = &u.ports[kind * N_GROUPS + g]
                if p.n:
                    u.active[kind][u.n_active[kind]] = p
                    u.n_active[kind] += 1

    # -- clocks (FMI 3) ---------------------------------------------------------------

    def set_clocks(self, int k, int n):
        """Unit ``k`` (an FMI 3 FMU instantiated with event mode) has ``n`` clocks."""
        cdef ClockSet* cs = <ClockSet*>self._alloc(sizeof(ClockSet))
        cs.n = n
        cs.clocks = <Clock*>self._alloc(max(n, 1) * sizeof(Clock))
        self.m.units[k].clocks = cs
        self.m.has_clocks = True

    def add_clock(self, int k, int index, int vr, str kind, *, bint query=False,
                  long long base=0, double interval=0.0, long long first=0,
                  bint countdown=False):
        """Clock ``index`` of unit ``k``: kind "timed" (tick j at ``base`` +
        j*``interval`` ns, from j = ``first``; ``query``: ask the FMU for the
        interval in each event and restart the schedule there when it changed;
        ``countdown``: tick once at ``base`` + ``interval`` if ``interval`` > 0,
        then only an interval after each event where the FMU set a new one),
        "triggered" or "output"."""
        cdef Clock* c = &self.m.units[k].clocks.clocks[index]
        c.kind = {"timed": CLOCK_TIMED, "triggered": CLOCK_TRIGGERED, "output": CLOCK_OUTPUT}[kind]
        c.vr = vr
        c.query = query or countdown
        c.countdown = countdown
        c.base, c.interval, c.j = base, interval, first
        c.next = tick_time(c) if c.kind == CLOCK_TIMED else NO_TICK
        if countdown:
            c.j = 1
            c.next = tick_time(c) if interval > 0 else NO_TICK

    def clock_schedules(self):
        """Per unit (None: no clocks), per clock: [kind ("timed", "countdown",
        "triggered", "output"), base, j, interval, next, ticks, pending ticks]
        (times in ns), what a saved state needs to go on ticking alike."""
        cdef ClockSet* cs
        cdef Clock* c
        cdef int k, i, p
        out = []
        for k in range(self.m.n_units):
            cs = self.m.units[k].clocks
            if cs == NULL:
                out.append(None)
                continue
            unit = []
            for i in range(cs.n):
                c = &cs.clocks[i]
                kind = ("countdown" if c.countdown else
                        ("timed", "triggered", "output")[c.kind])
                unit.append([kind, c.base, c.j, c.interval, c.next, c.ticks,
                             [c.pending[p] for p in range(c.n_pending)]])
            out.append(unit)
        return out

    def set_clock_schedules(self, schedules):
        """Restore what :meth:`clock_schedules` gave (checked by the caller to fit)."""
        cdef ClockSet* cs
        cdef Clock* c
        cdef int k, i, p
        for k, clocks in enumerate(schedules):
            cs = self.m.units[k].clocks
            if cs == NULL:
                continue
            for i in range(cs.n):
                c = &cs.clocks[i]
                _, c.base, c.j, c.interval, c.next, c.ticks, pending = clocks[i]
                c.n_pending = len(pending)
                for p in range(c.n_pending):
                    c.pending[p] = pending[p]
                c.active = False

    def set_clocked(self, int k, int index, str group, vrs, slots, *, bint inputs):
        """Values of type ``group`` clocked by clock ``index`` of unit ``k``: inputs
        set from the buffer ``slots`` when it ticks, or outputs fetched into them."""
        cdef Unit* u = &self.m.units[k]
        cdef Port* port = <Port*>self._alloc(sizeof(Port))
        self._port(port, u.fmi_version, GROUPS[group], vrs, slots)
        if inputs:
            u.clocks.clocks[index].inputs[GROUPS[group]] = port
        else:
            u.clocks.clocks[index].outputs[GROUPS[group]] = port

    def connect_clock(self, int k, int index, int target, int target_index):
        """Output clock ``index`` of unit ``k`` ticks triggered input clock
        ``target_index`` of unit ``target`` in the same event."""
        cdef Clock* c = &self.m.units[k].clocks.clocks[index]
        units = [c.target_unit[i] for i in range(c.n_targets)] + [target]
        clocks = [c.target_clock[i] for i in range(c.n_targets)] + [target_index]
        c.target_unit, c.target_clock = self._ints(units), self._ints(clocks)
        c.n_targets += 1
