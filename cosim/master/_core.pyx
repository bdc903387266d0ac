# cython: language_level=3
"""The master's native core: :class:`Core`, which builds the flat arrays a
flattened system's step loop runs on and drives the loop from Python.

The core is split by role: the shared types in ``_types.pxd``; moving values
between the buffers and the FMUs in ``_exchange.pxd`` (inline, the innermost
calls); one macro step, recording and the fixed-step run in ``_stepping``;
variable steps (error estimate, rollback, history) in ``_stepcontrol``;
algebraic loops' sweeps in ``_loops``, with Newton's method in
:mod:`cosim.master.newton`; FMI 3 clocks in ``_clocks``.  Everything from
``_stepping`` down runs without the GIL on the :c:type:`Master` struct a
Core owns; it calls back into the Core only for Python-backed components and
Newton's method.
"""

import numpy as np

cimport cython
cimport numpy as cnp
from libc.math cimport llround
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from cosim.fmi._binding cimport (
    STATUS_ERROR, STATUS_TERMINATED, T_BOOL, T_FLOAT32, T_FLOAT64, T_INT8, T_INT16, T_INT32,
    T_INT64, T_UINT8, T_UINT16, T_UINT32, T_UINT64, Instance)
from cosim.master._clocks cimport get_port, post, tick_time
from cosim.master._exchange cimport pull, push
from cosim.master._loops cimport discrete_changed, discrete_value, keep_discrete, solve_loop, sweep
from cosim.master._stepcontrol cimport (
    history_bytes, history_size, place_outputs, restore_history, run_variable)
from cosim.master._stepping cimport record, run_fixed
from cosim.master._types cimport (
    ACT_IN, ACT_OUT, ACT_REC, CHUNK_FULL, CLOCK_OUTPUT, CLOCK_TIMED, CLOCK_TRIGGERED, DONE,
    FAILED, G_BOOL, G_F32, G_F64, G_I32, G_U8, G_U16, G_U32, G_U64, GAUSS_SEIDEL, GROUP_SIZE,
    HOLD_EXTRAPOLATE, HOLD_INTERPOLATE, HOLD_ZERO, JACOBI, KIND_FMU, KIND_PYTHON, LOOP_FAILED,
    MAX_PENDING, N_GROUPS, NEWTON_FAILED, NO_TICK, STAGE_GET, STAGE_SET, STAGE_STEP, TERMINATED,
    fail,
    Buffers, Clock, ClockSet, Failure, Loop, Master, Port, StepControl, Unit, UnitStats, slot_at)

from cosim.master import newton as _newton
from cosim.master.newton import SweepFailed as _SweepFailed

cnp.import_array()

_GROUP_NAMES = ("float64", "int32", "bool", "float32", "int8", "uint8", "int16", "uint16",
                "uint32", "int64", "uint64")
GROUPS = {name: g for g, name in enumerate(_GROUP_NAMES)}
_GROUP_TYPES = (T_FLOAT64, T_INT32, T_BOOL, T_FLOAT32, T_INT8, T_UINT8, T_INT16, T_UINT16,
                T_UINT32, T_INT64, T_UINT64)
# numpy dtype of each group's buffer
_GROUP_DTYPES = (np.float64, np.int32, np.int32, np.float32, np.int8, np.uint8, np.int16,
                 np.uint16, np.uint32, np.int64, np.uint64)
for _g, _dtype in enumerate(_GROUP_DTYPES):
    if GROUP_SIZE[_g] != np.dtype(_dtype).itemsize:
        raise ImportError(f"cosim.master: GROUP_SIZE of {_GROUP_NAMES[_g]} is {GROUP_SIZE[_g]}, "
                          f"its numpy dtype has {np.dtype(_dtype).itemsize} bytes")

cdef enum:
    ARENA_CHUNK = 1 << 18

STAGES = ("set", "step", "get")
RUN_DONE, RUN_CHUNK_FULL, RUN_FAILED, RUN_LOOP_FAILED, RUN_TERMINATED = \
    DONE, CHUNK_FULL, FAILED, LOOP_FAILED, TERMINATED
# A unit's step status when it asked to end the simulation inside the step.
STEP_TERMINATED = STATUS_TERMINATED
HOLDS = {"zero": HOLD_ZERO, "extrapolate": HOLD_EXTRAPOLATE, "interpolate": HOLD_INTERPOLATE}


def _cell_dtype(int g):
    """The numpy dtype of group g's result cells (see cosim.master._types.cell)."""
    if g == G_F64 or g == G_F32:
        return np.float64
    if g == G_U8 or g == G_U16 or g == G_U32 or g == G_U64:
        return np.uint64
    return np.int64


CELL_DTYPES = {name: _cell_dtype(g) for g, name in enumerate(_GROUP_NAMES)}


@cython.final
cdef class Core:
    """Owns the loop's arrays; built by :mod:`cosim.execution` from a flattened system.

    Call order: ``add_fmu``/``add_python`` for every unit, ``set_inputs``/
    ``set_outputs`` for their ports, optionally ``set_multiple`` and
    ``add_loop``, ``configure``, then ``run`` (fixed step) or
    ``run_variable`` repeatedly; initialization uses ``pull``/``push``/
    ``solve_loops``/``record_now`` from Python.
    """

    cdef Master m
    cdef list _keep          # numpy arrays and objects whose memory the loop uses
    cdef char* arena         # the chunk small blocks are cut from
    cdef size_t arena_used
    cdef list _python        # Python component per unit, or None
    cdef list loop_labels    # per loop: (unit names, float64 slot names, discrete slot names)
    cdef dict jacobians      # loop -> Jacobian of its residual, once Newton has solved it
    cdef public object loop_error
    cdef readonly list python_errors

    def __cinit__(self, int n_units, slot_counts, *, int chunk_rows=4096):
        cdef Master* m = &self.m
        self._keep = []
        self.arena_used = ARENA_CHUNK      # the first small block opens a chunk
        self._python = [None] * n_units
        self.python_errors = []
        self.loop_labels = []
        self.jacobians = {}
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
        m.rows.chunk_rows = chunk_rows
        m.threads = 1
        m.owner = <void*>self
        m.python_stage = _python_stage_call
        m.newton = _newton_call
        m.discrete_error = _discrete_error_call
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

    # -- the loop's state, seen from Python -------------------------------------

    @property
    def start_time(self):
        return self.m.start_time

    @property
    def step_size(self):
        return self.m.step_size

    @property
    def end_time(self):
        return self.m.end_time

    @property
    def n_steps(self):
        return self.m.n_steps

    @property
    def step_index(self):
        return self.m.step_index

    @property
    def time(self):
        """The time of the current communication point."""
        return self.m.time

    @property
    def record_every(self):
        return self.m.record_every

    @property
    def chunk_rows(self):
        return self.m.rows.chunk_rows

    @property
    def rows_filled(self):
        return self.m.rows.filled

    @property
    def n_failures(self):
        return self.m.n_failures

    @property
    def h_next(self):
        """Variable steps: the next step tried."""
        return self.m.control.h_next

    @property
    def threads(self):
        """> 1: Jacobi steps FMU units on that many threads."""
        return self.m.threads

    @threads.setter
    def threads(self, int value):
        self.m.threads = value

    @property
    def profile(self):
        """Time every do step."""
        return self.m.profile

    @profile.setter
    def profile(self, bint value):
        self.m.profile = value

    @property
    def loop_max_iterations(self):
        return self.m.loop_max_iterations

    @loop_max_iterations.setter
    def loop_max_iterations(self, int value):
        self.m.loop_max_iterations = value

    @property
    def loop_tolerance(self):
        return self.m.loop_tolerance

    @loop_tolerance.setter
    def loop_tolerance(self, double value):
        self.m.loop_tolerance = value

    @property
    def derivatives_live(self):
        """Whether the FMUs' output derivatives are fetched (after initialization)."""
        return self.m.derivatives_live

    @derivatives_live.setter
    def derivatives_live(self, bint value):
        self.m.derivatives_live = value

    @property
    def set_all_inputs(self):
        """Set every input before every step (for measurements)."""
        return self.m.set_all_inputs

    @set_all_inputs.setter
    def set_all_inputs(self, bint value):
        self.m.set_all_inputs = value

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
        port.size = size
        port.scratch = self._alloc(max(port.nv, 1) * size)
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

    # -- running ----------------------------------------------------------------

    def run(self, long long until_step):
        """Step until step index ``until_step``, a full result chunk, or a failure.

        Returns DONE, CHUNK_FULL, FAILED, LOOP_FAILED or TERMINATED; on FAILED,
        ``failures()`` tells which units failed and where (a unit that asked to
        end the simulation inside the step fails with STEP_TERMINATED), on
        LOOP_FAILED ``loop_error`` holds the error; ``time`` is the start of the
        failed step.  TERMINATED: the step was completed and recorded, and a
        unit asked to end the simulation there (see :meth:`terminations`).
        """
        cdef int reason
        with nogil:
            reason = run_fixed(&self.m, until_step)
        return reason

    def run_variable(self, double until):
        """Take variable steps until time ``until`` (at most the end), a full
        result chunk, or a failure; returns DONE, CHUNK_FULL, FAILED, LOOP_FAILED or
        TERMINATED.  The points to reach (``until``, output points, the end) are
        set exactly.  A step inside which a unit asks to end the simulation (an
        FMI 2 discard with fmi2Terminated) is rolled back and taken again to end
        where the unit asked, so the run ends there with a row."""
        cdef int reason
        with nogil:
            reason = run_variable(&self.m, until)
        return reason

    # -- Python-side access (initialization, step-wise control) ----------------

    def pull(self, int k, *, bint recorded=False):
        """Fetch unit k's outputs (or recorded values) into the buffers; returns failures."""
        pull(&self.m, &self.m.units[k], ACT_REC if recorded else ACT_OUT)
        return self.failures_list()

    def push(self, int k):
        """Set unit k's inputs from the buffers; returns failures."""
        push(&self.m, &self.m.units[k], 0.0)
        return self.failures_list()

    def record_now(self):
        """Append a row at the current time; returns failures."""
        record(&self.m, self.m.time)
        return self.failures_list()

    def failures_list(self):
        """[(unit, stage, group name, status, call)] of the last operation; clears
        them.  ``call`` is the CALL_* code of the FMI 3 function a failed step
        called last (0, do step, otherwise)."""
        cdef Failure* f
        found = []
        for k in range(self.m.n_units):
            f = &self.m.failures[k]
            if f.status:
                found.append((f.unit, f.stage, _GROUP_NAMES[f.group], f.status, f.call))
                f.status = 0
        return found

    def terminations(self):
        """[(unit, time)] of the units whose last step ended with a request to
        end the simulation, at the time each asked."""
        return [(k, self.m.stats[k].ev.stop_time) for k in range(self.m.n_units)
                if self.m.units[k].kind == KIND_FMU and self.m.stats[k].ev.terminated]

    def statistics(self):
        """Per unit: (steps, rejected, rollbacks, loop iterations, seconds in do step,
        events, early returns, Newton solves)."""
        cdef UnitStats* s
        found = []
        for k in range(self.m.n_units):
            s = &self.m.stats[k]
            found.append((s.steps, s.rejected, s.rollbacks, s.loop_iterations, s.step_ns / 1e9,
                          s.ev.events, s.ev.early_returns, s.newton_solves))
        return found

    def clear_step_times(self):
        """Forget the do-step times measured so far (a calibration that profiled
        a run not started with ``profile``)."""
        for k in range(self.m.n_units):
            self.m.stats[k].step_ns = 0

    def take_rows(self):
        """(times, rows) recorded since the last call, as new arrays; rows hold
        8-byte cells (uint64), read per column with :func:`cell_dtype`."""
        n = self.m.rows.filled
        c = self.m.rows.n_columns
        times = np.asarray(<double[:max(n, 1)]>self.m.rows.times)[:n].copy()
        rows = np.asarray(<uint64_t[:max(n * c, 1)]>self.m.rows.cells)[:n * c]
        self.m.rows.filled = 0
        return times, rows.reshape(n, c).copy()

    def rewind(self, long long step_index, double time, bytes values not None,
               bytes history=None, *, bytes inputs=None):
        """Return to the communication point ``step_index`` at ``time`` with the
        exchanged values ``values`` (from :meth:`buffers` at that point) and the
        holds' and step control's ``history`` (from :meth:`history`; None starts
        them afresh); unflushed rows are dropped.  ``inputs`` (from
        :meth:`inputs_set` at that point, with the FMU states restored to it)
        are the values the FMUs hold; without it (or from another system)
        every input is set again before the next step."""
        cdef Master* m = &self.m
        cdef size_t offset = 0, nbytes
        if step_index < 0 or not m.start_time <= time <= m.end_time:
            raise ValueError(f"step {step_index} at t={time!r} is outside this run")
        if len(values) != sum(m.slot_counts[g] * GROUP_SIZE[g] for g in range(N_GROUPS)) or (
                history is not None and <size_t>len(history) != history_size(m)):
            raise ValueError("the saved values do not belong to this system")
        cdef const char* data = values
        if inputs is not None and <size_t>len(inputs) == m.inputs_bytes:
            memcpy(m.inputs_block, <const char*>inputs, m.inputs_bytes)
        else:
            self.forget_inputs()
        for g in range(N_GROUPS):
            nbytes = m.slot_counts[g] * GROUP_SIZE[g]
            memcpy(slot_at(m.rd, g, 0), data + offset, nbytes)
            offset += nbytes
        m.step_index = step_index
        m.time = time
        restore_history(m, history)
        place_outputs(m, time)
        m.rows.filled = 0

    def history(self):
        """What the holds and the step control carry from point to point (the
        previous point's values, the output derivatives at this one), as bytes."""
        return history_bytes(&self.m)

    def inputs_set(self):
        """The values last set to the FMUs' inputs (and which are known), as bytes."""
        cdef size_t n = self.m.inputs_bytes
        return bytes(<char[:max(n, 1)]>self.m.inputs_block)[:n]

    def forget_inputs(self):
        """Set every input again before the next step (the FMUs' inputs changed
        behind the loop's back)."""
        cdef int k, j
        cdef Unit* u
        for k in range(self.m.n_units):
            u = &self.m.units[k]
            if u.kind == KIND_FMU:
                for j in range(u.n_active[ACT_IN]):
                    u.active[ACT_IN][j].known[0] = 0

    def value(self, str group, slots):
        """The values in buffer ``slots`` of ``group``, as a numpy array."""
        g = GROUPS[group]
        values = self._buffer(self.m.rd, g)[np.asarray(slots, dtype=np.intp)]
        return values != 0 if g == G_BOOL else values

    cdef object _buffer(self, Buffers* b, int g):
        """Group g's buffer in ``b`` as a numpy array over its memory (no copy)."""
        cdef size_t nbytes = self.m.slot_counts[g] * GROUP_SIZE[g]
        cdef char* data = <char*>slot_at(b, g, 0)
        return np.asarray(<char[:nbytes]>data).view(_GROUP_DTYPES[g])

    def buffers(self):
        """A copy of every exchanged value, as bytes (to detect change): the
        float64 values first, then each other group in turn."""
        return b"".join(
            bytes(<char[:self.m.slot_counts[g] * GROUP_SIZE[g]]><char*>slot_at(self.m.rd, g, 0))
            for g in range(N_GROUPS))

    # -- Python-backed units ------------------------------------------------------

    cdef int _python_stage(self, int k, int stage, double t, double h):
        """Run one stage of a Python-backed component; exceptions become failures."""
        cdef Unit* u = &self.m.units[k]
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
                vrs = np.asarray(<uint32_t[:p.n]>p.vr).copy()
                if stage == STAGE_SET:
                    component.set(_GROUP_NAMES[g], vrs, self._read_slots(g, p))
                else:
                    self._write_slots(g, p, component.get(_GROUP_NAMES[g], vrs))
            return 0
        except BaseException as exc:
            self.python_errors.append((k, exc))
            fail(&self.m, u, min(stage, STAGE_GET), 0, STATUS_ERROR)
            return STATUS_ERROR

    cdef object _read_slots(self, int g, Port* p):
        slots = np.asarray(<int[:p.nv]>p.slot)
        values = self._buffer(self.m.rd, g)[slots]
        if g == G_F64 and p.scale != NULL:
            return np.asarray(<double[:p.nv]>p.scale) * values + np.asarray(<double[:p.nv]>p.shift)
        return values != 0 if g == G_BOOL else values

    cdef void _write_slots(self, int g, Port* p, values) except *:
        values = np.asarray(values)
        if values.shape != (p.nv,):
            raise ValueError(f"get returned {values.shape} values for {p.nv} variables")
        if g == G_BOOL:
            values = values.astype(bool)
        self._buffer(self.m.wr, g)[np.asarray(<int[:p.nv]>p.slot)] = values

    # -- algebraic loops ------------------------------------------------------------

    def solve_loops(self):
        """Solve every algebraic loop at the current point (initialization).

        Returns failures like :meth:`pull`; an unsolvable loop leaves its
        error in ``loop_error``.
        """
        for i in range(self.m.n_loops):
            if solve_loop(&self.m, i):
                break
        return self.failures_list()

    cdef int _newton(self, int i, bint remembered):
        """Newton's method on loop i (see cosim.master.newton.solve); a failure
        leaves its error in ``loop_error``."""
        cdef Loop* loop = &self.m.loops[i]
        for j in range(loop.n_units):
            self.m.stats[loop.units[j]].newton_solves += 1
        status, error = _newton.solve(self, i, remembered, self.jacobians)
        if status == NEWTON_FAILED:
            self.loop_error = error
        return status

    def _loop_start(self, int i):
        """Loop i's float64 values when its solve began."""
        cdef Loop* loop = &self.m.loops[i]
        return np.array([loop.start[j] for j in range(loop.n_slots)])

    def _loop_labels(self, int i):
        """(unit names, float64 slot names, discrete slot names, discrete values) of loop i."""
        return (*self.loop_labels[i], self.m.loops[i].n_discrete)

    def _loop_residual(self, int i, u):
        """One sweep of loop i from slot values u; returns (new values - u)."""
        cdef Loop* loop = &self.m.loops[i]
        for j in range(loop.n_slots):
            self.m.rd.f64[loop.slots[j]] = u[j]
        if sweep(&self.m, loop):
            raise _SweepFailed()
        return np.array([self.m.rd.f64[loop.slots[j]] for j in range(loop.n_slots)]) - u

    def _loop_keep_discrete(self, int i):
        """Remember loop i's int32 and bool values."""
        keep_discrete(&self.m, &self.m.loops[i])

    def _loop_discrete_changed(self, int i):
        """Whether loop i's int32 and bool values changed since they were remembered."""
        return discrete_changed(&self.m, &self.m.loops[i])

    def _discrete_error(self, int i, int sweeps):
        """The AlgebraicLoopError of loop i whose int32/bool values still change."""
        from cosim.errors import AlgebraicLoopError
        cdef Loop* loop = &self.m.loops[i]
        members, _, names = self.loop_labels[i]
        changes = {}
        for j in range(loop.n_discrete):
            cells = np.array([loop.discrete_before[j], discrete_value(&self.m, loop, j)],
                             dtype=np.uint64)
            before, now = cells.view(_cell_dtype(loop.discrete_group[j])).tolist()
            if loop.discrete_group[j] == G_BOOL:
                before, now = before != 0, now != 0
            if before != now:
                changes[names[j]] = (before, now)
        detail = ", ".join(f"{name}: {a} -> {b}" for name, (a, b) in changes.items())
        return AlgebraicLoopError(
            f"algebraic loop through {', '.join(members)} did not converge at t={self.m.time:g} s: "
            f"its integer/boolean values still change after {sweeps} sweep(s) ({detail}); "
            "a loop of discrete values must reach values that repeat: break the loop or add "
            "a delay (a component without direct feedthrough) to it",
            [list(members)], residuals={name: float(b) - float(a)
                                        for name, (a, b) in changes.items()}, time=self.m.time)

    # -- clocks (FMI 3) ---------------------------------------------------------------

    def set_clocks(self, int k, int n):
        """Unit ``k`` (an FMI 3 FMU instantiated with event mode) has ``n`` clocks."""
        cdef ClockSet* cs = <ClockSet*>self._alloc(sizeof(ClockSet))
        cs.n = n
        cs.clocks = <Clock*>self._alloc(max(n, 1) * sizeof(Clock))
        self.m.units[k].clocks = cs

    def add_clock(self, int k, int index, int vr, str kind, *, bint query=False,
                  long long base=0, double interval=0.0, long long first=0):
        """Clock ``index`` of unit ``k``: kind "timed" (tick j at ``base`` +
        j*``interval`` ns, from j = ``first``; ``query``: ask the FMU for the
        interval in each event and restart the schedule there when it changed),
        "triggered" or "output"."""
        cdef Clock* c = &self.m.units[k].clocks.clocks[index]
        c.kind = {"timed": CLOCK_TIMED, "triggered": CLOCK_TRIGGERED, "output": CLOCK_OUTPUT}[kind]
        c.vr = vr
        c.query = query
        c.base, c.interval, c.j = base, interval, first
        c.next = tick_time(c) if c.kind == CLOCK_TIMED else NO_TICK

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

    def tick(self, int k, int index):
        """Tick triggered input clock ``index`` of unit ``k`` at the current point
        (in the event that starts the next step of the unit)."""
        if post(&self.m.units[k].clocks.clocks[index], llround(self.m.time * 1e9)):
            raise OverflowError(f"more than {MAX_PENDING} ticks are waiting")

    def clock_ticks(self, int k):
        """Ticks so far of each clock of unit ``k``."""
        cdef ClockSet* cs = self.m.units[k].clocks
        return [] if cs == NULL else [cs.clocks[i].ticks for i in range(cs.n)]

    def pull_clocked(self, int k):
        """Fetch every clocked output of unit ``k`` (initialization mode, where
        FMI 3 lets them be read); returns failures."""
        cdef ClockSet* cs = self.m.units[k].clocks
        cdef int i, g
        if cs != NULL:
            for i in range(cs.n):
                for g in range(N_GROUPS):
                    if cs.clocks[i].outputs[g] != NULL and \
                            get_port(&self.m, &self.m.units[k], cs.clocks[i].outputs[g]):
                        break
        return self.failures_list()


cdef int _python_stage_call(void* owner, int k, int stage, double t, double h) noexcept nogil:
    with gil:
        return (<Core>owner)._python_stage(k, stage, t, h)


cdef int _newton_call(void* owner, int i, bint remembered) noexcept nogil:
    with gil:
        return (<Core>owner)._newton(i, remembered)


cdef void _discrete_error_call(void* owner, int i, int sweeps) noexcept nogil:
    with gil:
        core = <Core>owner
        try:
            core.loop_error = core._discrete_error(i, sweeps)
        except BaseException as exc:
            core.loop_error = exc
