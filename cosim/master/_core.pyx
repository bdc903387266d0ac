# cython: language_level=3
"""The master's step loop.

Everything the loop touches is a flat C array: per component (unit), batches
("ports") of value references with the buffer slots they read from or write
to; one value buffer per type; a chunk of result rows.  The loop runs without
the GIL and calls the FMUs' C functions through their function tables; it
takes the GIL only for Python-backed components.  Time is an integer count
of nanosecond ticks: t = (t0 + n*h) / 1e9, never accumulated.
"""

import numpy as np

cimport cython
cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

from cosim.fmi._binding cimport (
    STATUS_ERROR, STATUS_WARNING, T_BOOL, T_FLOAT64, T_INT32, Instance, Slave, slave_do_step,
    slave_get, slave_set)

cnp.import_array()

# Value groups the loop moves between components.
cdef enum:
    G_F64 = 0
    G_I32 = 1
    G_BOOL = 2
    N_GROUPS = 3

GROUPS = {"float64": G_F64, "int32": G_I32, "bool": G_BOOL}
_GROUP_TYPES = (T_FLOAT64, T_INT32, T_BOOL)
_GROUP_NAMES = ("float64", "int32", "bool")

cdef enum:
    ARENA_CHUNK = 1 << 18

cdef enum:
    KIND_FMU = 0
    KIND_PYTHON = 1

cdef enum:
    JACOBI = 0
    GAUSS_SEIDEL = 1

# Stages at which a unit can fail (STAGE_RECORD fails as a get).
cdef enum:
    STAGE_SET = 0
    STAGE_STEP = 1
    STAGE_GET = 2
    STAGE_RECORD = 3

STAGES = ("set", "step", "get")

# Why run() returned.
cdef enum:
    DONE = 0
    CHUNK_FULL = 1
    FAILED = 2

RUN_DONE, RUN_CHUNK_FULL, RUN_FAILED = DONE, CHUNK_FULL, FAILED

cdef struct Port:                # hot fields first
    int n
    int direct         # first slot when the slots are contiguous and need no conversion:
                       # the FMI call then reads or writes the buffer without a copy (-1: no)
    int group          # G_*
    int type           # the FMI value type code of the group
    uint32_t* vr
    int* slot          # inputs: source slots; outputs: destination slots
    void* scratch      # the n values in the C type of the FMI call
    double* scale      # float64 inputs only: value = scale*source + shift (NULL: plain copy)
    double* shift

cdef struct Unit:
    int kind
    int fmi_version
    Slave slave                # a copy of the instance's C view, kept with the unit
    # The non-empty ports of each kind: inputs, outputs fetched after every
    # step, values fetched only at output points.  The loop touches only these.
    int n_active[3]
    Port* active[3][N_GROUPS]  # [ACT_IN | ACT_OUT | ACT_REC][i]
    Port* ports                # this unit's 3 x N_GROUPS ports, in a pool apart from the units

# The exchanged values.  Jacobi reads the previous point's values from one
# set and writes the new ones into the other, then swaps; Gauss-Seidel and
# initialization read and write the same set.
cdef struct Buffers:
    double* f64
    int32_t* i32
    int32_t* boolean

cdef inline void* _at(Buffers* b, int g, int slot) noexcept nogil:
    if g == G_F64:
        return &b.f64[slot]
    if g == G_I32:
        return &b.i32[slot]
    return &b.boolean[slot]

cdef enum:
    ACT_IN = 0
    ACT_OUT = 1
    ACT_REC = 2

cdef struct Failure:
    int unit
    int stage
    int group
    int status


@cython.final
cdef class Core:
    """Owns the loop's arrays; built by :mod:`cosim.execution` from a flattened system.

    Call order: ``add_unit`` for every component, ``set_inputs``/``set_outputs``
    for their ports, ``configure``, then ``run`` repeatedly; initialization
    uses ``pull``/``push``/``record_now`` from Python.
    """

    cdef Unit* units
    cdef int n_units
    cdef int* order
    cdef int slot_counts[N_GROUPS]
    cdef Buffers bufs[2]
    cdef Buffers* rd           # values inputs are set from
    cdef Buffers* wr           # where outputs go
    cdef int algorithm
    cdef readonly long long start_ticks, step_ticks, stop_ticks, n_steps, step_index
    cdef readonly long long record_every
    cdef int n_columns
    cdef int* column_group
    cdef int* column_slot
    cdef double* rows
    cdef double* row_times
    cdef readonly int chunk_rows, rows_filled
    cdef Failure* failures     # per unit; status 0 means it did not fail
    cdef readonly int n_failures
    cdef public int threads    # > 1: Jacobi steps FMU units on that many threads
    cdef int* fmu_units
    cdef int n_fmu_units
    cdef int* python_units
    cdef int n_python_units
    cdef list _keep          # numpy arrays and objects whose memory the loop uses
    cdef char* arena         # the chunk small blocks are cut from
    cdef size_t arena_used
    cdef list _python        # Python component per unit, or None
    cdef readonly list python_errors

    def __cinit__(self, int n_units, slot_counts, *, int chunk_rows=4096):
        self._keep = []
        self.arena_used = ARENA_CHUNK      # the first small block opens a chunk
        self._python = [None] * n_units
        self.python_errors = []
        self.n_units = n_units
        self.units = <Unit*>self._alloc(max(n_units, 1) * sizeof(Unit))
        cdef Port* pool = <Port*>self._alloc(max(n_units, 1) * 3 * N_GROUPS * sizeof(Port))
        self.order = <int*>self._alloc(max(n_units, 1) * sizeof(int))
        self.failures = <Failure*>self._alloc(max(n_units, 1) * sizeof(Failure))
        for b in range(2):
            self.bufs[b].f64 = <double*>self._alloc(max(slot_counts[G_F64], 1) * sizeof(double))
            self.bufs[b].i32 = <int32_t*>self._alloc(max(slot_counts[G_I32], 1) * sizeof(int32_t))
            self.bufs[b].boolean = <int32_t*>self._alloc(max(slot_counts[G_BOOL], 1) * sizeof(int32_t))
        self.rd = self.wr = &self.bufs[0]
        self.chunk_rows = chunk_rows
        self.threads = 1
        for g in range(N_GROUPS):
            self.slot_counts[g] = max(slot_counts[g], 1)
        for k in range(n_units):
            self.order[k] = k
            self.units[k].ports = &pool[k * 3 * N_GROUPS]

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

    # -- building -------------------------------------------------------------

    def add_fmu(self, int k, Instance instance):
        """Unit ``k`` is an FMU instance."""
        cdef Unit* u = &self.units[k]
        u.kind = KIND_FMU
        u.slave = instance.c_slave()[0]
        u.fmi_version = u.slave.version
        self._keep.append(instance)

    def add_python(self, int k, component):
        """Unit ``k`` is a Python-backed component (see :class:`cosim.component.PythonComponent`)."""
        self.units[k].kind = KIND_PYTHON
        self.units[k].fmi_version = 0
        self._python[k] = component

    cdef void _port(self, Port* port, int version, int group, vrs, slots):
        port.n = len(vrs)
        port.group = group
        port.type = _group_type(group)
        port.vr = self._vrs(vrs)
        port.slot = self._ints(slots)
        if group == G_F64:
            size = sizeof(double)
        elif group == G_BOOL and (version == 3 or version == 1):
            size = sizeof(uint8_t)          # fmi3Boolean, fmi1Boolean
        else:
            size = sizeof(int32_t)          # fmi2Integer, fmi2Boolean, fmi3Int32
        port.scratch = self._alloc(max(port.n, 1) * size)
        contiguous = port.n > 0 and list(slots) == list(range(slots[0], slots[0] + port.n))
        # fmi3Boolean and fmi1Boolean are one byte, unlike the buffer's int32: they need the copy.
        same_layout = group != G_BOOL or version == 2
        port.direct = slots[0] if contiguous and same_layout else -1

    def set_inputs(self, int k, str group, vrs, source_slots, scales=None, shifts=None):
        """Inputs of unit ``k`` of type ``group``, each read from a buffer slot and,
        for float64, transformed as ``scale*value + shift`` when scales are given."""
        cdef Port* port = &self.units[k].ports[ACT_IN * N_GROUPS + GROUPS[group]]
        self._port(port, self.units[k].fmi_version, GROUPS[group], vrs, source_slots)
        port.scale = port.shift = NULL
        if scales is not None:
            port.scale = self._doubles(scales)
            port.shift = self._doubles(shifts)
            port.direct = -1

    cdef double* _doubles(self, values) except NULL:
        cdef double* out = <double*>self._alloc(len(values) * sizeof(double))
        for i, v in enumerate(values):
            out[i] = v
        return out

    def set_outputs(self, int k, str group, vrs, slots, *, bint every_step):
        """Outputs of unit ``k`` written to buffer slots after every step or only at output points."""
        cdef Unit* u = &self.units[k]
        cdef Port* port = &u.ports[(ACT_OUT if every_step else ACT_REC) * N_GROUPS + GROUPS[group]]
        self._port(port, u.fmi_version, GROUPS[group], vrs, slots)

    def configure(self, *, str algorithm, order, long long start_ticks, long long step_ticks,
                  long long stop_ticks, long long record_every, columns):
        """Fix algorithm, execution order, time grid and recorded columns ((group, slot) pairs)."""
        self.algorithm = GAUSS_SEIDEL if algorithm == "gauss-seidel" else JACOBI
        for j, k in enumerate(order):
            self.order[j] = k
        self.start_ticks, self.step_ticks, self.stop_ticks = start_ticks, step_ticks, stop_ticks
        self.n_steps = (stop_ticks - start_ticks + step_ticks - 1) // step_ticks
        self.step_index = 0
        self.record_every = record_every
        self.n_columns = len(columns)
        self.column_group = self._ints([GROUPS[g] for g, _ in columns] or [0])
        self.column_slot = self._ints([s for _, s in columns] or [0])
        for k in range(self.n_units):
            self._activate(&self.units[k])
        fmus = [k for k in range(self.n_units) if self.units[k].kind == KIND_FMU]
        pythons = [k for k in range(self.n_units) if self.units[k].kind == KIND_PYTHON]
        self.fmu_units, self.n_fmu_units = self._ints(fmus or [0]), len(fmus)
        self.python_units, self.n_python_units = self._ints(pythons or [0]), len(pythons)
        self.rows = <double*>self._alloc(self.chunk_rows * max(self.n_columns, 1) * sizeof(double))
        self.row_times = <double*>self._alloc(self.chunk_rows * sizeof(double))
        self.rows_filled = 0

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

    # -- time -----------------------------------------------------------------

    cdef inline double _time(self, long long index) noexcept nogil:
        cdef long long ticks = self.start_ticks + index * self.step_ticks
        if ticks > self.stop_ticks:
            ticks = self.stop_ticks
        return ticks / 1e9

    @property
    def time(self):
        """Simulation time of the current communication point."""
        return self._time(self.step_index)

    # -- moving values ----------------------------------------------------------

    cdef inline int _push(self, Unit* u) noexcept nogil:
        """Gather the unit's inputs from the buffers and set them."""
        cdef int g, i, j, status
        cdef Port* p
        if u.kind == KIND_PYTHON:
            return self._python_call(u, STAGE_SET, 0.0, 0.0)
        for j in range(u.n_active[ACT_IN]):
            p = u.active[ACT_IN][j]
            g = p.group
            if p.direct >= 0:
                status = slave_set(&u.slave, p.type, p.vr, p.n, _at(self.rd, g, p.direct))
                if status > STATUS_WARNING:
                    self._fail(u, STAGE_SET, g, status)
                    return status
                continue
            if g == G_F64 and p.scale != NULL:
                for i in range(p.n):
                    (<double*>p.scratch)[i] = p.scale[i] * self.rd.f64[p.slot[i]] + p.shift[i]
            elif g == G_F64:
                for i in range(p.n):
                    (<double*>p.scratch)[i] = self.rd.f64[p.slot[i]]
            elif g == G_I32:
                for i in range(p.n):
                    (<int32_t*>p.scratch)[i] = self.rd.i32[p.slot[i]]
            elif u.fmi_version == 3 or u.fmi_version == 1:
                for i in range(p.n):
                    (<uint8_t*>p.scratch)[i] = self.rd.boolean[p.slot[i]] != 0
            else:
                for i in range(p.n):
                    (<int32_t*>p.scratch)[i] = self.rd.boolean[p.slot[i]]
            status = slave_set(&u.slave, p.type, p.vr, p.n, p.scratch)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_SET, g, status)
                return status
        return 0

    cdef inline int _pull(self, Unit* u, int which) noexcept nogil:
        """Get the unit's outputs (ACT_OUT) or recorded values (ACT_REC) into the buffers."""
        cdef int g, i, j, status
        cdef Port* p
        if u.kind == KIND_PYTHON:
            return self._python_call(u, STAGE_GET if which == ACT_OUT else STAGE_RECORD, 0.0, 0.0)
        for j in range(u.n_active[which]):
            p = u.active[which][j]
            g = p.group
            status = slave_get(&u.slave, p.type, p.vr, p.n,
                               _at(self.wr, g, p.direct) if p.direct >= 0 else p.scratch)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_GET, g, status)
                return status
            if p.direct >= 0:
                continue
            if g == G_F64:
                for i in range(p.n):
                    self.wr.f64[p.slot[i]] = (<double*>p.scratch)[i]
            elif g == G_I32:
                for i in range(p.n):
                    self.wr.i32[p.slot[i]] = (<int32_t*>p.scratch)[i]
            elif u.fmi_version == 3 or u.fmi_version == 1:
                for i in range(p.n):
                    self.wr.boolean[p.slot[i]] = (<uint8_t*>p.scratch)[i] != 0
            else:
                for i in range(p.n):
                    self.wr.boolean[p.slot[i]] = (<int32_t*>p.scratch)[i] != 0
        return 0

    cdef inline int _advance(self, Unit* u, double t, double h) noexcept nogil:
        cdef int status
        if u.kind == KIND_PYTHON:
            return self._python_call(u, STAGE_STEP, t, h)
        status = slave_do_step(&u.slave, t, h)
        if status > STATUS_WARNING:
            self._fail(u, STAGE_STEP, 0, status)
        return status if status > STATUS_WARNING else 0

    cdef void _fail(self, Unit* u, int stage, int group, int status) noexcept nogil:
        # Each unit writes only its own record, so worker threads never share one.
        cdef Failure* f = &self.failures[u - self.units]
        f.unit = u - self.units
        f.stage = stage
        f.group = group
        f.status = status

    cdef int _python_call(self, Unit* u, int stage, double t, double h) noexcept nogil:
        with gil:
            return self._python_stage(u - self.units, stage, t, h)

    cdef int _python_stage(self, int k, int stage, double t, double h):
        """Run one stage of a Python-backed component; exceptions become failures."""
        cdef Unit* u = &self.units[k]
        cdef Port* p
        component = self._python[k]
        try:
            if stage == STAGE_STEP:
                component.do_step(t, h)
                return 0
            for g in range(N_GROUPS):
                p = &u.ports[(ACT_IN if stage == STAGE_SET else
                              ACT_OUT if stage == STAGE_GET else ACT_REC) * N_GROUPS + g]
                if p.n == 0:
                    continue
                vrs = np.asarray(<uint32_t[:p.n]>p.vr)
                if stage == STAGE_SET:
                    component.set(_GROUP_NAMES[g], vrs, self._read_slots(g, p))
                else:
                    self._write_slots(g, p, component.get(_GROUP_NAMES[g], vrs))
            return 0
        except BaseException as exc:
            self.python_errors.append((k, exc))
            self._fail(u, min(stage, STAGE_GET), 0, STATUS_ERROR)
            return STATUS_ERROR

    cdef object _read_slots(self, int g, Port* p):
        slots = np.asarray(<int[:p.n]>p.slot)
        if g == G_F64:
            values = np.asarray(<double[:self.slot_counts[g]]>self.rd.f64)[slots]
            if p.scale != NULL:
                return np.asarray(<double[:p.n]>p.scale) * values + np.asarray(<double[:p.n]>p.shift)
            return values.copy()
        cdef int32_t* buffer = self.rd.i32 if g == G_I32 else self.rd.boolean
        values = np.asarray(<int32_t[:self.slot_counts[g]]>buffer)[slots]
        return values != 0 if g == G_BOOL else values.copy()

    cdef void _write_slots(self, int g, Port* p, values) except *:
        values = np.asarray(values)
        if values.shape != (p.n,):
            raise ValueError(f"get returned {values.shape} values for {p.n} variables")
        for i in range(p.n):
            if g == G_F64:
                self.wr.f64[p.slot[i]] = values[i]
            elif g == G_I32:
                self.wr.i32[p.slot[i]] = values[i]
            else:
                self.wr.boolean[p.slot[i]] = 1 if values[i] else 0

    # -- stepping ---------------------------------------------------------------

    cdef int _step(self, double t, double h) noexcept nogil:
        """One macro step of every unit; returns the number of units that failed."""
        cdef int j, k, errors = 0
        cdef Unit* u
        if self.algorithm == GAUSS_SEIDEL:
            for j in range(self.n_units):
                u = &self.units[self.order[j]]
                if self._push(u) or self._advance(u, t, h) or self._pull(u, ACT_OUT):
                    errors += 1
            self.n_failures = errors
            return errors
        # Jacobi: every unit steps on the values of the previous communication
        # point (rd) and writes its outputs into the other buffer set (wr), so
        # one pass suffices and units are independent of each other.
        self.wr = &self.bufs[1] if self.rd == &self.bufs[0] else &self.bufs[0]
        if self.n_python_units == 0 and self.threads == 1:
            for k in range(self.n_units):
                u = &self.units[k]
                if self._push(u) or self._advance(u, t, h) or self._pull(u, ACT_OUT):
                    errors += 1
            self.rd = self.wr
            self.n_failures = errors
            return errors
        # Python-backed units (they need the GIL: this thread) set their inputs
        # and step first, and give their outputs after the FMUs have stepped:
        # a remote twin computes on its host meanwhile, and several remote
        # twins step at the same time.
        for j in range(self.n_python_units):
            u = &self.units[self.python_units[j]]
            if self._push(u) or self._advance(u, t, h):
                errors += 1
        if self.threads > 1:
            for j in prange(self.n_fmu_units, num_threads=self.threads, schedule="static"):
                u = &self.units[self.fmu_units[j]]
                if self._push(u) or self._advance(u, t, h) or self._pull(u, ACT_OUT):
                    errors += 1
        else:
            for j in range(self.n_fmu_units):
                u = &self.units[self.fmu_units[j]]
                if self._push(u) or self._advance(u, t, h) or self._pull(u, ACT_OUT):
                    errors += 1
        for j in range(self.n_python_units):
            u = &self.units[self.python_units[j]]
            if self.failures[self.python_units[j]].status == 0 and self._pull(u, ACT_OUT):
                errors += 1
        self.rd = self.wr
        self.n_failures = errors
        return errors

    cdef int _record(self, double t) noexcept nogil:
        """Fetch record-only values and append a row at time t; returns failures."""
        cdef int k, c, slot, errors = 0
        cdef Unit* u
        for k in range(self.n_units):
            u = &self.units[k]
            if self._pull(u, ACT_REC):
                errors += 1
        self.n_failures = errors
        if errors:
            return errors
        cdef double* row = self.rows + self.rows_filled * self.n_columns
        for c in range(self.n_columns):
            slot = self.column_slot[c]
            if self.column_group[c] == G_F64:
                row[c] = self.rd.f64[slot]
            elif self.column_group[c] == G_I32:
                row[c] = self.rd.i32[slot]
            else:
                row[c] = self.rd.boolean[slot]
        self.row_times[self.rows_filled] = t
        self.rows_filled += 1
        return 0

    def run(self, long long until_step):
        """Step until step index ``until_step``, a full result chunk, or a failure.

        Returns DONE, CHUNK_FULL or FAILED; on FAILED, ``failures()`` tells
        which units failed and where; ``time`` is the start of the failed step.
        """
        cdef int reason = DONE
        cdef double t, t_next
        if until_step > self.n_steps:
            until_step = self.n_steps
        with nogil:
            while self.step_index < until_step:
                t = self._time(self.step_index)
                t_next = self._time(self.step_index + 1)
                if self._step(t, t_next - t):
                    reason = FAILED
                    break
                self.step_index += 1
                if self.step_index % self.record_every == 0 or self.step_index == self.n_steps:
                    if self._record(t_next):
                        reason = FAILED
                        break
                    if self.rows_filled == self.chunk_rows:
                        reason = CHUNK_FULL
                        break
        return reason

    # -- Python-side access (initialization, step-wise control) ----------------

    def pull(self, int k, *, bint recorded=False):
        """Fetch unit k's outputs (or recorded values) into the buffers; returns failures."""
        cdef Unit* u = &self.units[k]
        self._pull(u, ACT_REC if recorded else ACT_OUT)
        return self.failures_list()

    def push(self, int k):
        """Set unit k's inputs from the buffers; returns failures."""
        self._push(&self.units[k])
        return self.failures_list()

    def record_now(self):
        """Append a row at the current time; returns failures."""
        self._record(self._time(self.step_index))
        return self.failures_list()

    def failures_list(self):
        """[(unit, stage, group name, status)] of the last operation; clears them."""
        cdef Failure* f
        found = []
        for k in range(self.n_units):
            f = &self.failures[k]
            if f.status:
                found.append((f.unit, f.stage, _GROUP_NAMES[f.group], f.status))
                f.status = 0
        return found

    def take_rows(self):
        """(times, rows) recorded since the last call, as new arrays."""
        n = self.rows_filled
        times = np.asarray(<double[:max(n, 1)]>self.row_times)[:n].copy()
        rows = np.asarray(<double[:max(n * self.n_columns, 1)]>self.rows)[:n * self.n_columns]
        self.rows_filled = 0
        return times, rows.reshape(n, self.n_columns).copy()

    def rewind(self, long long step_index, bytes values not None):
        """Return to communication point ``step_index`` with the exchanged values
        ``values`` (from :meth:`buffers` at that point); unflushed rows are dropped."""
        cdef size_t n64 = self.slot_counts[G_F64] * sizeof(double)
        cdef size_t n32 = self.slot_counts[G_I32] * sizeof(int32_t)
        cdef size_t nb = self.slot_counts[G_BOOL] * sizeof(int32_t)
        if not 0 <= step_index <= self.n_steps:
            raise ValueError(f"step index {step_index} is outside 0..{self.n_steps}")
        if len(values) != n64 + n32 + nb:
            raise ValueError("the saved values do not belong to this system")
        cdef const char* data = values
        memcpy(self.rd.f64, data, n64)
        memcpy(self.rd.i32, data + n64, n32)
        memcpy(self.rd.boolean, data + n64 + n32, nb)
        self.step_index = step_index
        self.rows_filled = 0

    def buffers(self):
        """A copy of every exchanged value, as bytes (to detect change)."""
        return (bytes(<char[:self.slot_counts[G_F64] * sizeof(double)]><char*>self.rd.f64) +
                bytes(<char[:self.slot_counts[G_I32] * sizeof(int32_t)]><char*>self.rd.i32) +
                bytes(<char[:self.slot_counts[G_BOOL] * sizeof(int32_t)]><char*>self.rd.boolean))


cdef inline int _group_type(int g) noexcept nogil:
    if g == G_F64:
        return T_FLOAT64
    if g == G_I32:
        return T_INT32
    return T_BOOL
