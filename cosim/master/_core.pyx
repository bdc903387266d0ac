# cython: language_level=3
"""The master's step loop.

Everything the loop touches is a flat C array: per component (unit), batches
("ports") of value references with the buffer slots they read from or write
to; one value buffer per type; a chunk of result rows.  An FMI 3 array
variable takes one slot per element, so a port holds more values than value
references, and everything downstream (holds, unit conversion, loops,
records) works element by element.  The loop runs without
the GIL and calls the FMUs' C functions through their function tables; it
takes the GIL only for Python-backed components.  Fixed-step point n is at
t0 + n*h from the integer step count, never accumulated; variable steps set
the points they must reach (outputs, the end) exactly (see cosim.timegrid).
"""

import numpy as np

cimport cython
cimport numpy as cnp
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs, floor, isfinite, pow
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from cosim.fmi._binding cimport (
    CALL_DO_STEP, CALL_ENTER_EVENT_MODE, CALL_ENTER_STEP_MODE, INTERVAL_CHANGED, MAX_EARLY_RETURNS,
    STATUS_ERROR, STATUS_OK, STATUS_TERMINATED, STATUS_WARNING, T_BOOL, T_FLOAT32, T_FLOAT64,
    T_INT8, T_INT16, T_INT32, T_INT64, T_UINT8, T_UINT16, T_UINT32, T_UINT64,
    Instance, Slave, StepEvents, cbool, slave_do_step, slave_get, slave_get_output_derivatives,
    slave_set, slave_set_input_derivatives, slave_settle, slave_step_once3)
from libc.math cimport llround
from libc.stdio cimport snprintf

cnp.import_array()

# Value groups the loop moves between components.  From G_F32 on, the FMI 3
# only types: their buffers hold the values as the FMI calls take them, and
# the loop copies them as raw bytes of the group's size (no unit conversion,
# no holds, no loops to solve: those are float64 matters).
cdef enum:
    G_F64 = 0
    G_I32 = 1
    G_BOOL = 2
    G_F32 = 3
    G_I8 = 4
    G_U8 = 5
    G_I16 = 6
    G_U16 = 7
    G_U32 = 8
    G_I64 = 9
    G_U64 = 10
    N_GROUPS = 11

_GROUP_NAMES = ("float64", "int32", "bool", "float32", "int8", "uint8", "int16", "uint16",
                "uint32", "int64", "uint64")
GROUPS = {name: g for g, name in enumerate(_GROUP_NAMES)}
_GROUP_TYPES = (T_FLOAT64, T_INT32, T_BOOL, T_FLOAT32, T_INT8, T_UINT8, T_INT16, T_UINT16,
                T_UINT32, T_INT64, T_UINT64)
# numpy dtype of each group's buffer
_GROUP_DTYPES = (np.float64, np.int32, np.int32, np.float32, np.int8, np.uint8, np.int16,
                 np.uint16, np.uint32, np.int64, np.uint64)

# Bytes per value in each group's buffer.
cdef int GROUP_SIZE[N_GROUPS]
for _g, _dtype in enumerate(_GROUP_DTYPES):
    GROUP_SIZE[_g] = np.dtype(_dtype).itemsize

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
    LOOP_FAILED = 3
    TERMINATED = 4         # a unit asked to end the simulation at the point reached

RUN_DONE, RUN_CHUNK_FULL, RUN_FAILED, RUN_LOOP_FAILED, RUN_TERMINATED = \
    DONE, CHUNK_FULL, FAILED, LOOP_FAILED, TERMINATED
# A unit's step status when it asked to end the simulation inside the step.
STEP_TERMINATED = STATUS_TERMINATED

# How a float64 input follows its source over a step.
cdef enum:
    HOLD_ZERO = 0          # the value at the step's start, held
    HOLD_EXTRAPOLATE = 1   # first order, with the source's output derivative at the step's
                           # start where its FMU gives one, else from its last two points
    HOLD_INTERPOLATE = 2   # first order, between the source's old and new values
                           # (Gauss-Seidel, source stepped first)

HOLDS = {"zero": HOLD_ZERO, "extrapolate": HOLD_EXTRAPOLATE, "interpolate": HOLD_INTERPOLATE}

cdef struct Port:                # hot fields first
    int n              # value references
    int nv             # values: n, or more when FMI 3 arrays give one per element
    int direct         # first slot when the slots are contiguous and need no conversion:
                       # the FMI call then reads or writes the buffer without a copy (-1: no)
    int group          # G_*
    int type           # the FMI value type code of the group
    uint32_t* vr
    int* slot          # per value: inputs read their source's slot, outputs write their own
    void* scratch      # the nv values in the C type of the FMI call
    double* scale      # float64 inputs only: value = scale*source + shift (NULL: plain copy)
    double* shift
    uint8_t* hold      # float64 inputs only: HOLD_* per value (NULL: all HOLD_ZERO)
    double* slope      # first-order holds: derivative per value, set with the value when
    int* order         # the unit takes input derivatives (NULL otherwise); order is all 1
    double* derivative # float64 outputs fetched every step: their first derivatives (NULL:
                       # the FMU gives none), fetched with the values into the d64 buffer
    # Inputs only: an FMU is set only the values that changed since it was last set
    # (FMUs with their own integrators restart it on every set).
    int size           # bytes per value in the FMI call's C type
    int* first         # first value of each value reference (n + 1 entries)
    char* last         # the nv values last set to the FMU, bit for bit
    uint8_t* known     # 1: `last` is what the FMU holds; 0: set every value next time
    uint32_t* changed_vr   # scratch: the value references to set, and their values
    void* changed

# FMI 3 clocks of one unit.  Input clocks tick on a schedule (time-based) or
# when asked (triggered: by a connected output clock or the user); output
# clocks are read in each of the unit's events.  A clocked value is set or
# fetched only in an event where one of its clocks ticks.
cdef enum:
    CLOCK_TIMED = 0            # time-based input clock: tick j at base + j*interval
    CLOCK_TRIGGERED = 1        # triggered input clock
    CLOCK_OUTPUT = 2           # output clock, raised by the FMU
    MAX_PENDING = 64           # ticks a triggered clock can have waiting

cdef enum:
    NO_TICK = 0x7fffffffffffffff

cdef struct Clock:
    int kind
    uint32_t vr
    bint query                 # ask the FMU for the interval in each event (tunable, changing)
    long long base             # ns; tick j at base + round(j*interval*1e9), never accumulated
    long long j
    double interval
    long long next             # ns of the next tick of a timed clock (NO_TICK: none)
    int n_pending              # triggered: ticks asked for, earliest first (ns)
    long long pending[MAX_PENDING]
    bint active                # ticking in the current event
    long long ticks            # ticks so far
    int n_targets              # output clocks: the triggered input clocks they tick
    int* target_unit
    int* target_clock
    Port* inputs[N_GROUPS]     # clocked values set when it ticks (NULL: none)
    Port* outputs[N_GROUPS]    # clocked values fetched when it ticks

cdef struct ClockSet:
    int n
    Clock* clocks

cdef struct Unit:
    int kind
    int fmi_version
    int multiple               # steps once every `multiple` base steps (multi-rate)
    void* saved_state          # FMU state kept for rollback (variable step)
    Slave slave                # a copy of the instance's C view, kept with the unit
    # The non-empty ports of each kind: inputs, outputs fetched after every
    # step, values fetched only at output points.  The loop touches only these.
    int n_active[3]
    Port* active[3][N_GROUPS]  # [ACT_IN | ACT_OUT | ACT_REC][i]
    Port* ports                # this unit's 3 x N_GROUPS ports, in a pool apart from the units
    ClockSet* clocks           # FMI 3 clocks (NULL: none); see "clocks" below

# The exchanged values.  Jacobi reads the previous point's values from one
# set and writes the new ones into the other, then swaps; Gauss-Seidel and
# initialization read and write the same set.
cdef struct Buffers:
    double* f64
    double* d64        # first time derivative of each float64 slot, where its FMU gives it
    int32_t* i32
    int32_t* boolean
    char* raw[N_GROUPS]    # the buffers of groups G_F32 on (GROUP_SIZE bytes per slot)

cdef inline void* _at(Buffers* b, int g, int slot) noexcept nogil:
    if g == G_F64:
        return &b.f64[slot]
    if g == G_I32:
        return &b.i32[slot]
    if g == G_BOOL:
        return &b.boolean[slot]
    return b.raw[g] + <size_t>slot * GROUP_SIZE[g]

def _cell_dtype(int g):
    """The numpy dtype of group g's result cells (see _cell)."""
    if g == G_F64 or g == G_F32:
        return np.float64
    if g == G_U8 or g == G_U16 or g == G_U32 or g == G_U64:
        return np.uint64
    return np.int64


CELL_DTYPES = {name: _cell_dtype(g) for g, name in enumerate(_GROUP_NAMES)}


cdef union Cell:
    double f
    int64_t i
    uint64_t u

cdef inline uint64_t _cell(Buffers* b, int g, int s) noexcept nogil:
    """Slot s of group g as an 8-byte result cell: a double for float64 and
    float32, an int64 for signed integers and bools (0 or 1), a uint64 for
    unsigned integers; every value fits its cell exactly."""
    cdef Cell c
    cdef void* at = _at(b, g, s)
    if g == G_F64:
        c.f = b.f64[s]
    elif g == G_F32:
        c.f = (<float*>at)[0]
    elif g == G_I32:
        c.i = b.i32[s]
    elif g == G_BOOL:
        c.i = b.boolean[s] != 0
    elif g == G_I8:
        c.i = (<int8_t*>at)[0]
    elif g == G_I16:
        c.i = (<int16_t*>at)[0]
    elif g == G_I64:
        c.i = (<int64_t*>at)[0]
    elif g == G_U8:
        c.u = (<uint8_t*>at)[0]
    elif g == G_U16:
        c.u = (<uint16_t*>at)[0]
    elif g == G_U32:
        c.u = (<uint32_t*>at)[0]
    else:
        c.u = (<uint64_t*>at)[0]
    return c.u

cdef inline void _copy_slot(Buffers* to, Buffers* source, int g, int s) noexcept nogil:
    """Copy slot s of group g (a float64 with its derivative)."""
    if g == G_F64:
        to.f64[s] = source.f64[s]
        to.d64[s] = source.d64[s]
    elif g == G_I32:
        to.i32[s] = source.i32[s]
    elif g == G_BOOL:
        to.boolean[s] = source.boolean[s]
    else:
        memcpy(_at(to, g, s), _at(source, g, s), GROUP_SIZE[g])

cdef enum:
    ACT_IN = 0
    ACT_OUT = 1
    ACT_REC = 2

cdef struct Failure:
    int unit
    int stage
    int group
    int status
    int call           # STAGE_STEP of an FMI 3 unit: the function that failed (CALL_*)

# What each unit did; read by Python as result statistics.
cdef struct UnitStats:
    long long steps            # do-step calls, rejected ones included
    long long rejected         # steps thrown away by the step-size control
    long long rollbacks        # states restored
    long long loop_iterations  # algebraic-loop sweeps the unit took part in
    long long step_ns          # time spent in do step (only when profiling)
    StepEvents ev              # FMI 3: events handled, early returns, termination
    long long newton_solves    # Newton solves of the algebraic loops the unit is in

# After a loop needed Newton's method, it goes straight to Newton for this
# many communication points before trying fixed-point sweeps again: a loop
# that diverged under sweeps at one point nearly always does at the next.
cdef enum:
    NEWTON_POINTS = 50

# An algebraic loop: its units, in execution order, the float64 slots of the
# values exchanged inside it (what the solver iterates on), and its int32
# and bool slots, which are swept along and must settle too.
cdef struct Loop:
    int n_units
    int* units
    int last                   # position in the order after which Gauss-Seidel solves it
    int n_slots
    int* slots
    double* before             # slot values before a sweep
    double* start              # slot values when the solve began
    int n_discrete
    int* discrete_group        # G_* (not G_F64) per discrete slot
    int* discrete_slots
    uint64_t* discrete_before  # discrete values before a sweep, as result cells (_cell)
    int newton_left            # points left that skip the sweeps (see NEWTON_POINTS)


@cython.final
cdef class Core:
    """Owns the loop's arrays; built by :mod:`cosim.execution` from a flattened system.

    Call order: ``add_fmu``/``add_python`` for every unit, ``set_inputs``/
    ``set_outputs`` for their ports, optionally ``set_multiple`` and
    ``add_loop``, ``configure``, then ``run`` (fixed step) or
    ``run_variable`` repeatedly; initialization uses ``pull``/``push``/
    ``solve_loops``/``record_now`` from Python.
    """

    cdef Unit* units
    cdef int n_units
    cdef int* order
    cdef int slot_counts[N_GROUPS]
    cdef Buffers bufs[2]
    cdef Buffers* rd           # values inputs are set from
    cdef Buffers* wr           # where outputs go
    cdef int algorithm
    cdef readonly double start_time, step_size, end_time
    cdef readonly long long n_steps, step_index
    cdef readonly double time          # of the current communication point
    cdef readonly long long record_every
    cdef int n_columns
    cdef int* column_group
    cdef int* column_slot
    cdef uint64_t* rows        # result cells (see _cell), n_columns per row
    cdef double* row_times
    cdef readonly int chunk_rows, rows_filled
    cdef Failure* failures     # per unit; status 0 means it did not fail
    cdef readonly int n_failures
    cdef public int threads    # > 1: Jacobi steps FMU units on that many threads
    cdef public bint profile   # time every do step
    cdef UnitStats* stats
    # Set when a unit asked to end the simulation at the point its step
    # reached; units stepping on several threads only ever store 1 into it.
    cdef bint stop_requested
    cdef int* fmu_units
    cdef int n_fmu_units
    cdef int* python_units
    cdef int n_python_units
    cdef bint multirate
    # algebraic loops
    cdef Loop* loops
    cdef int n_loops
    cdef int* loop_at          # per order position: the loop Gauss-Seidel solves there, or -1
    cdef public int loop_max_iterations
    cdef public double loop_tolerance
    cdef list loop_labels      # per loop: (unit names, float64 slot names, discrete slot names)
    cdef dict jacobians        # loop -> Jacobian of its residual, once Newton has solved it
    cdef public object loop_error
    # first-order holds and step-size control: float64 values at the start
    # of the step and at the previous communication point
    cdef bint first_order
    cdef double* at_n
    cdef double* at_prev
    cdef double h_prev
    cdef bint have_prev
    cdef double h_older        # h_prev and have_prev before the last step: what that
    cdef bint had_prev         # step's holds extrapolated with (step-size control)
    # output derivatives: which float64 slots get one, and whether they are
    # fetched yet (FMUs give them only after initialization)
    cdef uint8_t* has_derivative
    cdef public bint derivatives_live
    cdef Buffers backup        # all exchanged values at the start of a variable step
    cdef bint variable
    cdef readonly double h_next        # variable steps: the next step tried
    cdef double min_step, max_step, output_interval
    cdef long long outputs_done        # variable steps: output points reached
    cdef double rtol, atol
    cdef int error_order
    cdef int n_estimated       # float64 slots [0, n) take part in the error estimate
    cdef list _keep          # numpy arrays and objects whose memory the loop uses
    cdef char* arena         # the chunk small blocks are cut from
    cdef size_t arena_used
    cdef list _python        # Python component per unit, or None
    # The last-set values and known flags of every input port, in one block
    # so that a rollback restores them with the FMU states.
    cdef char* inputs_block
    cdef char* inputs_backup
    cdef size_t inputs_bytes
    cdef public bint set_all_inputs    # set every input before every step (for measurements)
    cdef readonly list python_errors

    def __cinit__(self, int n_units, slot_counts, *, int chunk_rows=4096):
        self._keep = []
        self.arena_used = ARENA_CHUNK      # the first small block opens a chunk
        self._python = [None] * n_units
        self.python_errors = []
        self.loop_labels = []
        self.jacobians = {}
        self.loop_max_iterations = 100
        self.loop_tolerance = 1e-10
        self.n_units = n_units
        self.units = <Unit*>self._alloc(max(n_units, 1) * sizeof(Unit))
        cdef Port* pool = <Port*>self._alloc(max(n_units, 1) * 3 * N_GROUPS * sizeof(Port))
        self.order = <int*>self._alloc(max(n_units, 1) * sizeof(int))
        self.failures = <Failure*>self._alloc(max(n_units, 1) * sizeof(Failure))
        self.stats = <UnitStats*>self._alloc(max(n_units, 1) * sizeof(UnitStats))
        for g in range(N_GROUPS):
            self.slot_counts[g] = max(slot_counts[g], 1)
        for b in range(2):
            self._buffers(&self.bufs[b])
        self._buffers(&self.backup)
        self.at_n = <double*>self._alloc(self.slot_counts[G_F64] * sizeof(double))
        self.at_prev = <double*>self._alloc(self.slot_counts[G_F64] * sizeof(double))
        self.has_derivative = <uint8_t*>self._alloc(self.slot_counts[G_F64])
        self.rd = self.wr = &self.bufs[0]
        self.chunk_rows = chunk_rows
        self.threads = 1
        for k in range(n_units):
            self.order[k] = k
            self.units[k].ports = &pool[k * 3 * N_GROUPS]
            self.units[k].multiple = 1

    cdef void _buffers(self, Buffers* b) except *:
        b.f64 = <double*>self._alloc(self.slot_counts[G_F64] * sizeof(double))
        b.d64 = <double*>self._alloc(self.slot_counts[G_F64] * sizeof(double))
        b.i32 = <int32_t*>self._alloc(self.slot_counts[G_I32] * sizeof(int32_t))
        b.boolean = <int32_t*>self._alloc(self.slot_counts[G_BOOL] * sizeof(int32_t))
        for g in range(G_F32, N_GROUPS):
            b.raw[g] = <char*>self._alloc(self.slot_counts[g] * GROUP_SIZE[g])

    def free_states(self):
        """Free the FMU states kept for rollbacks; call before the instances are freed."""
        cdef Unit* u
        for k in range(self.n_units):
            u = &self.units[k]
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
        cdef Unit* u = &self.units[k]
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
            self.first_order = True
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
        cdef Unit* u = &self.units[k]
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
                self.has_derivative[slot] = 1

    def set_multiple(self, int k, int multiple):
        """Unit ``k`` steps once every ``multiple`` base steps, its inputs held meanwhile."""
        if multiple < 1:
            raise ValueError(f"step multiple must be >= 1, got {multiple}")
        self.units[k].multiple = multiple
        self.multirate = self.multirate or multiple > 1

    def add_loop(self, units, slots, *, labels, discrete=()):
        """An algebraic loop: its units in execution order and the float64 slots
        exchanged inside it; ``discrete``: its int32 and bool values as (group
        name, slot) pairs; ``labels`` = (unit names, float64 slot names,
        discrete slot names) for errors."""
        self.loop_labels.append(labels)
        new = <Loop*>self._alloc((self.n_loops + 1) * sizeof(Loop))
        if self.n_loops:
            memcpy(new, self.loops, self.n_loops * sizeof(Loop))
        self.loops = new
        cdef Loop* loop = &self.loops[self.n_loops]
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
        self.n_loops += 1

    def configure(self, *, str algorithm, order, grid, columns):
        """Fix algorithm, execution order, time grid (a :class:`cosim.timegrid.TimeGrid`)
        and recorded columns ((group, slot) pairs)."""
        self.algorithm = GAUSS_SEIDEL if algorithm == "gauss-seidel" else JACOBI
        position = {}
        for j, k in enumerate(order):
            self.order[j] = k
            position[k] = j
        self.start_time, self.step_size, self.end_time = grid.start, grid.step, grid.end
        self.n_steps = grid.n_steps
        self.step_index = 0
        self.time = grid.start
        self.h_next = grid.step
        self.record_every = grid.record_every
        self.n_columns = len(columns)
        self.column_group = self._ints([GROUPS[g] for g, _ in columns] or [0])
        self.column_slot = self._ints([s for _, s in columns] or [0])
        for k in range(self.n_units):
            self._activate(&self.units[k])
        self._input_block()
        fmus = [k for k in range(self.n_units) if self.units[k].kind == KIND_FMU]
        pythons = [k for k in range(self.n_units) if self.units[k].kind == KIND_PYTHON]
        self.fmu_units, self.n_fmu_units = self._ints(fmus or [0]), len(fmus)
        self.python_units, self.n_python_units = self._ints(pythons or [0]), len(pythons)
        self.loop_at = self._ints([-1] * max(self.n_units, 1))
        for i in range(self.n_loops):
            self.loops[i].last = max(position[self.loops[i].units[j]]
                                     for j in range(self.loops[i].n_units))
            self.loop_at[self.loops[i].last] = i
        self.rows = <uint64_t*>self._alloc(self.chunk_rows * max(self.n_columns, 1) * sizeof(uint64_t))
        self.row_times = <double*>self._alloc(self.chunk_rows * sizeof(double))
        self.rows_filled = 0

    def configure_variable(self, grid, *, double rtol, double atol, int estimated):
        """Switch to variable steps (after :meth:`configure`): the step starts at
        the grid's ``step`` and is kept within its ``min_step..max_step``; a step
        is rejected and taken again, shorter, when the coupling error estimated
        on float64 slots ``[0, estimated)`` exceeds ``atol + rtol*|value|``.  Rows
        are recorded at every ``output_interval`` (0: after every accepted step)."""
        self.variable = True
        self.min_step, self.max_step = grid.min_step, grid.max_step
        self.output_interval = grid.output_interval
        self.outputs_done = 0
        self.rtol, self.atol = rtol, atol
        self.error_order = 2 if self.first_order else 1
        self.n_estimated = estimated
        self.h_next = min(max(self.step_size, self.min_step), self.max_step)

    cdef void _input_block(self) except *:
        """Lay the known flags, then the last-set values, of every FMU input port
        out in one block (and its rollback copy)."""
        cdef int k, j
        cdef Port* p
        cdef size_t flags = 0, values = 0
        ports = []
        for k in range(self.n_units):
            if self.units[k].kind == KIND_FMU:
                for j in range(self.units[k].n_active[ACT_IN]):
                    p = self.units[k].active[ACT_IN][j]
                    flags += 1
                    values += (p.nv * p.size + 7) & ~(<size_t>7)
        flags = (flags + 7) & ~(<size_t>7)
        self.inputs_bytes = flags + values
        self.inputs_block = <char*>self._alloc(self.inputs_bytes)
        self.inputs_backup = <char*>self._alloc(self.inputs_bytes)
        values = flags
        flags = 0
        for k in range(self.n_units):
            if self.units[k].kind == KIND_FMU:
                for j in range(self.units[k].n_active[ACT_IN]):
                    p = self.units[k].active[ACT_IN][j]
                    p.known = <uint8_t*>&self.inputs_block[flags]
                    p.last = &self.inputs_block[values]
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

    # -- time -----------------------------------------------------------------

    cdef inline double _time(self, long long index) noexcept nogil:
        """The time of fixed-step point ``index``; the end time from the last point on."""
        if index >= self.n_steps:
            return self.end_time
        return self.start_time + index * self.step_size

    cdef inline double _next_output(self) noexcept nogil:
        """Variable steps: the next output point (infinity without an output interval)."""
        if self.output_interval == 0.0:
            return INFINITY
        return self.start_time + (self.outputs_done + 1) * self.output_interval

    # -- moving values ----------------------------------------------------------

    cdef inline int _push(self, Unit* u, double h) noexcept nogil:
        """Gather the unit's inputs from the buffers and set them for a step of
        ``h`` (0: at a communication point, where every hold gives the value itself)."""
        cdef int g, i, j, status
        cdef Port* p
        if u.kind == KIND_PYTHON:
            return self._python_call(u, STAGE_SET, 0.0, 0.0)
        for j in range(u.n_active[ACT_IN]):
            p = u.active[ACT_IN][j]
            g = p.group
            if p.direct >= 0:
                status = self._set_changed(u, p, <char*>_at(self.rd, g, p.direct))
                if status > STATUS_WARNING:
                    self._fail(u, STAGE_SET, g, status)
                    return status
                continue
            if p.hold != NULL:
                self._first_order(p, h)
            elif g == G_F64 and p.scale != NULL:
                for i in range(p.nv):
                    (<double*>p.scratch)[i] = p.scale[i] * self.rd.f64[p.slot[i]] + p.shift[i]
            else:
                self._gather(p, u.fmi_version)
            status = self._set_changed(u, p, <char*>p.scratch)
            if status <= STATUS_WARNING and p.slope != NULL and h > 0.0:
                status = slave_set_input_derivatives(&u.slave, p.vr, p.n, p.order, p.slope)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_SET, g, status)
                return status
        return 0

    cdef inline void _gather(self, Port* p, int version) noexcept nogil:
        """The port's values from the buffers being read, in the FMI call's C type."""
        cdef int i, g = p.group, w
        if g == G_F64:
            for i in range(p.nv):
                (<double*>p.scratch)[i] = self.rd.f64[p.slot[i]]
        elif g == G_I32:
            for i in range(p.nv):
                (<int32_t*>p.scratch)[i] = self.rd.i32[p.slot[i]]
        elif g == G_BOOL and (version == 3 or version == 1):
            for i in range(p.nv):
                (<uint8_t*>p.scratch)[i] = self.rd.boolean[p.slot[i]] != 0
        elif g == G_BOOL:
            for i in range(p.nv):
                (<int32_t*>p.scratch)[i] = self.rd.boolean[p.slot[i]]
        else:
            w = GROUP_SIZE[g]
            for i in range(p.nv):
                memcpy(<char*>p.scratch + i * w, _at(self.rd, g, p.slot[i]), w)

    cdef inline void _scatter(self, Port* p, int version) noexcept nogil:
        """The port's values, fetched in the FMI call's C type, into the buffers being written."""
        cdef int i, g = p.group, w
        if g == G_F64:
            for i in range(p.nv):
                self.wr.f64[p.slot[i]] = (<double*>p.scratch)[i]
        elif g == G_I32:
            for i in range(p.nv):
                self.wr.i32[p.slot[i]] = (<int32_t*>p.scratch)[i]
        elif g == G_BOOL and (version == 3 or version == 1):
            for i in range(p.nv):
                self.wr.boolean[p.slot[i]] = (<uint8_t*>p.scratch)[i] != 0
        elif g == G_BOOL:
            for i in range(p.nv):
                self.wr.boolean[p.slot[i]] = (<int32_t*>p.scratch)[i] != 0
        else:
            w = GROUP_SIZE[g]
            for i in range(p.nv):
                memcpy(_at(self.wr, g, p.slot[i]), <char*>p.scratch + i * w, w)

    cdef inline int _set_changed(self, Unit* u, Port* p, const char* values) noexcept nogil:
        """Set the port's values that differ, bit for bit, from those last set (an
        array variable whole if any element changed), in one call."""
        cdef int i, nc = 0, w = p.size
        cdef size_t offset, nbytes, filled = 0
        cdef int status
        if not p.known[0] or self.set_all_inputs:
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

    cdef inline void _first_order(self, Port* p, double h) noexcept nogil:
        """Values (and slopes) of a float64 input port with first-order holds."""
        cdef int i, s
        cdef double start, slope, value
        cdef double* out = <double*>p.scratch
        for i in range(p.nv):
            s = p.slot[i]
            slope = 0.0
            if h <= 0.0 or p.hold[i] == HOLD_ZERO:
                start = self.rd.f64[s]
            elif p.hold[i] == HOLD_INTERPOLATE:
                # the source has already stepped: from its old value to its new one
                start = self.at_n[s]
                slope = (self.rd.f64[s] - start) / h
            else:
                start = self.rd.f64[s]
                slope = self._slope(s, self.rd)
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

    cdef inline double _slope(self, int s, Buffers* at) noexcept nogil:
        """The slope a first-order hold extrapolates float64 slot s with from the
        point whose values are ``at``: the source's output derivative, else the
        secant through its last two points (0 before there are two)."""
        if self.has_derivative[s] and self.derivatives_live:
            return at.d64[s]
        if self.have_prev:
            return (at.f64[s] - self.at_prev[s]) / self.h_prev
        return 0.0

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
                               _at(self.wr, g, p.direct) if p.direct >= 0 else p.scratch, p.nv)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_GET, g, status)
                return status
            if p.derivative != NULL and self.derivatives_live:
                status = slave_get_output_derivatives(&u.slave, p.vr, p.n, p.order,
                                                      p.derivative, p.nv)
                if status > STATUS_WARNING:
                    self._fail(u, STAGE_GET, g, status)
                    return status
                for i in range(p.nv):
                    self.wr.d64[p.slot[i]] = p.derivative[i]
            if p.direct < 0:
                self._scatter(p, u.fmi_version)
        return 0

    cdef inline void _carry(self, Unit* u) noexcept nogil:
        """Keep a unit's values in the buffer set being written (it did not pull)."""
        cdef int i, j, kind
        cdef Port* p
        if self.rd == self.wr:
            return
        for kind in range(ACT_OUT, ACT_REC + 1):
            for j in range(u.n_active[kind]):
                p = u.active[kind][j]
                for i in range(p.nv):
                    _copy_slot(self.wr, self.rd, p.group, p.slot[i])

    cdef inline int _advance(self, Unit* u, double t, double h) noexcept nogil:
        cdef int status
        cdef timespec before, after
        cdef UnitStats* stats = &self.stats[u - self.units]
        stats.steps += 1
        if self.profile:
            clock_gettime(CLOCK_MONOTONIC, &before)
        if u.kind == KIND_PYTHON:
            status = self._python_call(u, STAGE_STEP, t, h)
        elif u.clocks != NULL:
            status = self._clocked_step(u, t, h, &stats.ev)
        else:
            status = slave_do_step(&u.slave, t, h, &stats.ev)
            if stats.ev.terminated and status <= STATUS_WARNING:
                self.stop_requested = True
        if self.profile:
            clock_gettime(CLOCK_MONOTONIC, &after)
            stats.step_ns += (after.tv_sec - before.tv_sec) * 1000000000 + (after.tv_nsec - before.tv_nsec)
        if status > STATUS_WARNING:
            if u.kind == KIND_FMU:
                self._fail(u, STAGE_STEP, 0, status)
                self.failures[u - self.units].call = stats.ev.call
            return status
        return 0

    cdef void _fail(self, Unit* u, int stage, int group, int status) noexcept nogil:
        # Each unit writes only its own record, so worker threads never share one.
        cdef Failure* f = &self.failures[u - self.units]
        f.unit = u - self.units
        f.stage = stage
        f.group = group
        f.status = status
        f.call = 0

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
                vrs = np.asarray(<uint32_t[:p.n]>p.vr).copy()
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
        slots = np.asarray(<int[:p.nv]>p.slot)
        values = self._buffer(self.rd, g)[slots]
        if g == G_F64 and p.scale != NULL:
            return np.asarray(<double[:p.nv]>p.scale) * values + np.asarray(<double[:p.nv]>p.shift)
        return values != 0 if g == G_BOOL else values

    cdef void _write_slots(self, int g, Port* p, values) except *:
        values = np.asarray(values)
        if values.shape != (p.nv,):
            raise ValueError(f"get returned {values.shape} values for {p.nv} variables")
        if g == G_BOOL:
            values = values.astype(bool)
        self._buffer(self.wr, g)[np.asarray(<int[:p.nv]>p.slot)] = values

    # -- stepping ---------------------------------------------------------------

    cdef inline bint _window_ends(self, Unit* u, long long n) noexcept nogil:
        """Whether unit u, stepping in windows of ``multiple`` base steps, reaches
        the end of a window at point n + 1 (where its outputs become visible)."""
        return u.multiple == 1 or (n + 1) % u.multiple == 0 or n + 1 >= self.n_steps

    cdef inline int _start_unit(self, Unit* u, long long n, double t, double h) noexcept nogil:
        """Set the unit's inputs and step it, if a step of it starts at point n."""
        cdef long long end
        if u.multiple > 1:
            if n % u.multiple:
                return 0
            end = n + u.multiple
            h = self._time(end if end < self.n_steps else self.n_steps) - t
        return self._push(u, h) or self._advance(u, t, h)

    cdef inline int _finish_unit(self, Unit* u, long long n) noexcept nogil:
        """Fetch the unit's outputs if its step ends at point n + 1; else keep them."""
        if self._window_ends(u, n):
            return self._pull(u, ACT_OUT)
        self._carry(u)
        return 0

    cdef inline int _unit(self, Unit* u, long long n, double t, double h) noexcept nogil:
        if u.multiple == 1:
            return self._push(u, h) or self._advance(u, t, h) or self._pull(u, ACT_OUT)
        return self._start_unit(u, n, t, h) or self._finish_unit(u, n)

    cdef int _step(self, long long n, double t, double h) noexcept nogil:
        """One macro step of every unit from point n; returns the number of units
        that failed, or -1 if an algebraic loop could not be solved."""
        cdef int i, j, k, errors = 0
        cdef Unit* u
        if self.first_order:
            memcpy(self.at_n, self.rd.f64, self.slot_counts[G_F64] * sizeof(double))
        if self.algorithm == GAUSS_SEIDEL:
            for j in range(self.n_units):
                u = &self.units[self.order[j]]
                if self._unit(u, n, t, h):
                    errors += 1
                elif self.n_loops and self.loop_at[j] >= 0 and not errors:
                    if self._solve_loop(self.loop_at[j]):
                        return self._loop_failed()
            return self._stepped(h, errors)
        # Jacobi: every unit steps on the values of the previous communication
        # point (rd) and writes its outputs into the other buffer set (wr), so
        # one pass suffices and units are independent of each other.
        self.wr = &self.bufs[1] if self.rd == &self.bufs[0] else &self.bufs[0]
        if self.n_python_units == 0 and self.threads == 1:
            for k in range(self.n_units):
                u = &self.units[k]
                if self._unit(u, n, t, h):
                    errors += 1
        else:
            # Python-backed units (they need the GIL: this thread) set their
            # inputs and step first, and give their outputs after the FMUs have
            # stepped: a remote twin computes on its host meanwhile, and several
            # remote twins step at the same time.
            for j in range(self.n_python_units):
                if self._start_unit(&self.units[self.python_units[j]], n, t, h):
                    errors += 1
            if self.threads > 1:
                for j in prange(self.n_fmu_units, num_threads=self.threads, schedule="static"):
                    if self._unit(&self.units[self.fmu_units[j]], n, t, h):
                        errors += 1
            else:
                for j in range(self.n_fmu_units):
                    if self._unit(&self.units[self.fmu_units[j]], n, t, h):
                        errors += 1
            for j in range(self.n_python_units):
                u = &self.units[self.python_units[j]]
                if self.failures[self.python_units[j]].status == 0 and self._finish_unit(u, n):
                    errors += 1
        self.rd = self.wr
        if not errors:
            for i in range(self.n_loops):
                if self._solve_loop(i):
                    return self._loop_failed()
        return self._stepped(h, errors)

    cdef inline int _stepped(self, double h, int errors) noexcept nogil:
        self.n_failures = errors
        if self.first_order and not errors:
            self.at_n, self.at_prev = self.at_prev, self.at_n
            self.h_older, self.had_prev = self.h_prev, self.have_prev
            self.h_prev = h
            self.have_prev = True
        return errors

    cdef inline int _loop_failed(self) noexcept nogil:
        self.n_failures = 0
        for k in range(self.n_units):
            if self.failures[k].status:
                self.n_failures += 1
        return self.n_failures if self.n_failures else -1

    # -- algebraic loops --------------------------------------------------------

    cdef int _sweep(self, Loop* loop) noexcept nogil:
        """Set the inputs and get the outputs of every unit of the loop, in order."""
        cdef int j
        cdef Unit* u
        for j in range(loop.n_units):
            u = &self.units[loop.units[j]]
            self.stats[loop.units[j]].loop_iterations += 1
            if self._push(u, 0.0) or self._pull(u, ACT_OUT):
                return 1
        return 0

    cdef inline uint64_t _discrete(self, Loop* loop, int j) noexcept nogil:
        # as a cell, an FMI 2 boolean that came back as any nonzero value is 1
        return _cell(self.rd, loop.discrete_group[j], loop.discrete_slots[j])

    cdef inline void _keep_discrete(self, Loop* loop) noexcept nogil:
        cdef int j
        for j in range(loop.n_discrete):
            loop.discrete_before[j] = self._discrete(loop, j)

    cdef inline bint _discrete_changed(self, Loop* loop) noexcept nogil:
        """Whether a value of the loop other than float64 differs from before the sweep."""
        cdef int j
        for j in range(loop.n_discrete):
            if self._discrete(loop, j) != loop.discrete_before[j]:
                return True
        return False

    cdef int _solve_loop(self, int i) noexcept nogil:
        """Solve loop i at the current communication point: fixed-point sweeps
        until the float64 values change by less than the tolerance and the
        int32 and bool values repeat, then Newton's method on the float64
        values if the sweeps diverge or stall.  A loop that needed Newton goes
        straight to it for the next NEWTON_POINTS points (and back to the
        sweeps if Newton alone fails).  Returns 0 or 1."""
        cdef Loop* loop = &self.loops[i]
        cdef int it, j, growing = 0, status
        cdef bint discrete_changed = False
        cdef double change, worst = 0.0, previous = 1e300, value
        for j in range(loop.n_slots):
            loop.start[j] = self.rd.f64[loop.slots[j]]
        if loop.newton_left > 0:
            loop.newton_left -= 1
            with gil:
                status = self._newton(i, True)
            if status != 2:
                return status
            for j in range(loop.n_slots):
                self.rd.f64[loop.slots[j]] = loop.start[j]
        for it in range(self.loop_max_iterations):
            for j in range(loop.n_slots):
                loop.before[j] = self.rd.f64[loop.slots[j]]
            self._keep_discrete(loop)
            if self._sweep(loop):
                return 1
            worst = 0.0
            for j in range(loop.n_slots):
                value = self.rd.f64[loop.slots[j]]
                change = fabs(value - loop.before[j]) / (1.0 + fabs(value))
                if not isfinite(change):
                    change = 1e300
                if change > worst:
                    worst = change
            discrete_changed = self._discrete_changed(loop)
            if worst <= self.loop_tolerance:
                if not discrete_changed:
                    return 0
                # Newton cannot move discrete values: only more sweeps can settle them
                previous = worst
                continue
            growing = growing + 1 if worst >= previous else 0
            if growing >= 3:
                break
            previous = worst
        if worst <= self.loop_tolerance and discrete_changed:
            with gil:
                self.loop_error = self._discrete_error(i, self.loop_max_iterations)
            return 1
        loop.newton_left = NEWTON_POINTS
        with gil:
            return self._newton(i, False)

    cdef int _newton(self, int i, bint remembered):
        """Newton's method on loop i; 0 when solved, else 1 with ``loop_error``
        set, or 2 (error dropped) when ``remembered`` and the loop did not
        converge, so that the caller tries the sweeps first."""
        from cosim.errors import AlgebraicLoopError
        cdef Loop* loop = &self.loops[i]
        for j in range(loop.n_units):
            self.stats[loop.units[j]].newton_solves += 1
        try:
            self._solve_newton(i, remembered)
            return 0
        except AlgebraicLoopError as exc:
            if remembered:
                return 2
            self.loop_error = exc
            return 1
        except BaseException as exc:
            self.loop_error = exc
            return 1

    def _discrete_error(self, int i, int sweeps):
        """The AlgebraicLoopError of loop i whose int32/bool values still change."""
        from cosim.errors import AlgebraicLoopError
        cdef Loop* loop = &self.loops[i]
        members, _, names = self.loop_labels[i]
        changes = {}
        for j in range(loop.n_discrete):
            cells = np.array([loop.discrete_before[j], self._discrete(loop, j)], dtype=np.uint64)
            before, now = cells.view(_cell_dtype(loop.discrete_group[j])).tolist()
            if loop.discrete_group[j] == G_BOOL:
                before, now = before != 0, now != 0
            if before != now:
                changes[names[j]] = (before, now)
        detail = ", ".join(f"{name}: {a} -> {b}" for name, (a, b) in changes.items())
        return AlgebraicLoopError(
            f"algebraic loop through {', '.join(members)} did not converge at t={self.time:g} s: "
            f"its integer/boolean values still change after {sweeps} sweep(s) ({detail}); "
            "a loop of discrete values must reach values that repeat: break the loop or add "
            "a delay (a component without direct feedthrough) to it",
            [list(members)], residuals={name: float(b) - float(a)
                                        for name, (a, b) in changes.items()}, time=self.time)

    def _loop_residual(self, int i, u):
        """One sweep of loop i from slot values u; returns (new values - u)."""
        cdef Loop* loop = &self.loops[i]
        for j in range(loop.n_slots):
            self.rd.f64[loop.slots[j]] = u[j]
        if self._sweep(loop):
            raise _SweepFailed()
        return np.array([self.rd.f64[loop.slots[j]] for j in range(loop.n_slots)]) - u

    def _solve_newton(self, int i, bint remembered=False):
        """Newton's method (scipy's hybr) on loop i from its start values; raises
        AlgebraicLoopError if it fails.  A ``remembered`` loop first tries a
        few Newton steps with the Jacobian kept from its last solve."""
        from scipy.optimize import root

        from cosim.errors import AlgebraicLoopError
        cdef Loop* loop = &self.loops[i]
        start = np.array([loop.start[j] for j in range(loop.n_slots)])
        members, names, _ = self.loop_labels[i]
        try:
            if remembered and self._chord(i, start):
                return
            with np.errstate(all="ignore"):
                solution = root(lambda u: self._loop_residual(i, u), start, method="hybr",
                                options={"xtol": min(1e-12, self.loop_tolerance)})
            residual = self._settled_residual(i, solution.x)
            scaled = np.abs(residual) / (1.0 + np.abs(solution.x))
            if np.all(np.isfinite(scaled)) and scaled.max(initial=0.0) <= self.loop_tolerance:
                if i not in self.jacobians:
                    self.jacobians[i] = self._jacobian(i, solution.x, residual)
                return
        except _SweepFailed:
            raise _SweepFailed() from None
        detail = ", ".join(f"{name}={r:.3g}" for name, r in zip(names, residual))
        raise AlgebraicLoopError(
            f"algebraic loop through {', '.join(members)} did not converge at t={self.time:g} s: "
            f"fixed-point iteration diverged or stalled, and Newton's method failed "
            f"({solution.message.strip()}); residuals: {detail}. A singular loop (gain "
            "product of 1) has no unique solution: change a gain or break the loop",
            [list(members)], residuals=dict(zip(names, residual.tolist())), time=self.time)

    def _settled_residual(self, int i, x):
        """The residual at x, swept until the loop's int32 and bool values repeat
        (AlgebraicLoopError naming them if they do not within two more sweeps)."""
        cdef Loop* loop = &self.loops[i]
        residual = self._loop_residual(i, x)
        if loop.n_discrete == 0:
            return residual
        for _ in range(2):
            self._keep_discrete(loop)
            residual = self._loop_residual(i, x)
            if not self._discrete_changed(loop):
                return residual
        raise self._discrete_error(i, 2)

    def _converged(self, residual, x) -> bool:
        scaled = np.abs(residual) / (1.0 + np.abs(x))
        return bool(np.all(np.isfinite(scaled)) and scaled.max(initial=0.0) <= self.loop_tolerance)

    def _chord(self, int i, u) -> bool:
        """Newton steps with the kept Jacobian of loop i from u (a loop that needed
        Newton at the previous points); whether they solved it.  A loop whose
        values did not move since the last point takes one sweep."""
        from cosim.errors import AlgebraicLoopError

        jacobian = self.jacobians.get(i)
        try:
            residual = self._settled_residual(i, u)
            for _ in range(4):
                if self._converged(residual, u):
                    return True
                if jacobian is None:
                    return False
                with np.errstate(all="ignore"):
                    u = u - np.linalg.solve(jacobian, residual)
                residual = self._settled_residual(i, u)
        except (AlgebraicLoopError, np.linalg.LinAlgError):
            pass
        return False

    def _jacobian(self, int i, x, residual):
        """Forward-difference Jacobian of loop i's residual at x (one sweep per
        value), leaving the loop's values as the sweep from x left them."""
        n = len(x)
        jacobian = np.empty((n, n))
        for k in range(n):
            h = 1e-7 * max(1.0, abs(x[k]))
            shifted = x.copy()
            shifted[k] += h
            jacobian[:, k] = (self._loop_residual(i, shifted) - residual) / h
        self._loop_residual(i, x)
        return jacobian if np.all(np.isfinite(jacobian)) else None

    def solve_loops(self):
        """Solve every algebraic loop at the current point (initialization).

        Returns failures like :meth:`pull`; an unsolvable loop leaves its
        error in ``loop_error``.
        """
        for i in range(self.n_loops):
            if self._solve_loop(i):
                break
        return self.failures_list()

    # -- variable step ------------------------------------------------------------

    cdef inline void _copy(self, Buffers* to, Buffers* source) noexcept nogil:
        cdef int g
        memcpy(to.f64, source.f64, self.slot_counts[G_F64] * sizeof(double))
        memcpy(to.d64, source.d64, self.slot_counts[G_F64] * sizeof(double))
        memcpy(to.i32, source.i32, self.slot_counts[G_I32] * sizeof(int32_t))
        memcpy(to.boolean, source.boolean, self.slot_counts[G_BOOL] * sizeof(int32_t))
        for g in range(G_F32, N_GROUPS):
            memcpy(to.raw[g], source.raw[g], self.slot_counts[g] * GROUP_SIZE[g])

    cdef int _save(self) noexcept nogil:
        """Keep every value and FMU state of the current point for a rollback."""
        cdef int j, status
        cdef Unit* u
        self._copy(&self.backup, self.rd)
        memcpy(self.inputs_backup, self.inputs_block, self.inputs_bytes)
        for j in range(self.n_fmu_units):
            u = &self.units[self.fmu_units[j]]
            status = u.slave.fn.get_state(u.slave.component, &u.saved_state)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_STEP, 0, status)
                return 1
        return 0

    cdef int _rollback(self) noexcept nogil:
        cdef int j, status
        cdef Unit* u
        self._copy(self.rd, &self.backup)
        # the FMUs' inputs come back with their states
        memcpy(self.inputs_block, self.inputs_backup, self.inputs_bytes)
        # a termination asked for in a rejected step is forgotten with the step
        self.stop_requested = False
        for j in range(self.n_fmu_units):
            u = &self.units[self.fmu_units[j]]
            self.stats[self.fmu_units[j]].ev.terminated = 0
            self.stats[self.fmu_units[j]].rejected += 1
            self.stats[self.fmu_units[j]].rollbacks += 1
            status = u.slave.fn.set_state(u.slave.component, u.saved_state)
            if status > STATUS_WARNING:
                self._fail(u, STAGE_STEP, 0, status)
                return 1
        return 0

    cdef double _asked_inside(self) noexcept nogil:
        """When every failure of the step is a unit that asked to end the
        simulation inside it (STATUS_TERMINATED), the earliest time one asked;
        otherwise -INFINITY."""
        cdef int k
        cdef double asked = INFINITY
        for k in range(self.n_units):
            if self.failures[k].status == 0:
                continue
            if self.failures[k].status != STATUS_TERMINATED:
                return -INFINITY
            if self.stats[k].ev.stop_time < asked:
                asked = self.stats[k].ev.stop_time
        return asked

    cdef double _coupling_error(self, double h) noexcept nogil:
        """Largest scaled difference between the exchanged values at the end of
        the step and what the holds assumed over it (the step's start value, or
        its first-order extrapolation)."""
        cdef int s
        cdef double worst = 0.0, start, predicted, value, e
        for s in range(self.n_estimated):
            value = self.rd.f64[s]
            start = self.backup.f64[s]
            predicted = start
            if self.first_order:
                # _stepped has moved the history on: the step's secant ran from
                # the point before (now in at_n) over the step before (h_older)
                if self.has_derivative[s] and self.derivatives_live:
                    predicted = start + self.backup.d64[s] * h
                elif self.had_prev:
                    predicted = start + (start - self.at_n[s]) / self.h_older * h
            e = fabs(value - predicted) / (self.atol + self.rtol * fabs(value))
            if not isfinite(e):
                return 1e300
            if e > worst:
                worst = e
        return worst

    def run_variable(self, double until):
        """Take variable steps until time ``until`` (at most the end), a full
        result chunk, or a failure; returns DONE, CHUNK_FULL, FAILED, LOOP_FAILED or
        TERMINATED.  The points to reach (``until``, output points, the end) are
        set exactly.  A step inside which a unit asks to end the simulation (an
        FMI 2 discard with fmi2Terminated) is rolled back and taken again to end
        where the unit asked, so the run ends there with a row."""
        cdef int reason = DONE, status
        cdef double error, factor, h, remaining, target, t_next, output, asked
        cdef double exponent = 1.0 / self.error_order
        # where a unit that discarded a step asked to end the simulation: the
        # step is taken again to end there
        cdef double cut = INFINITY
        if until > self.end_time:
            until = self.end_time
        with nogil:
            while self.time < until:
                output = self._next_output()
                target = output if output < until else until
                if cut < target:
                    target = cut
                remaining = target - self.time
                h = self.h_next
                t_next = self.time + h
                # a step that would leave a sliver shorter than min_step takes it too
                if h >= remaining or remaining - h < self.min_step:
                    if remaining <= self.max_step:
                        h, t_next = remaining, target
                    else:
                        h = remaining / 2
                        t_next = self.time + h
                if self._save():
                    reason = FAILED
                    break
                status = self._step(self.step_index, self.time, t_next - self.time)
                if status > 0:
                    asked = self._asked_inside()
                    if self.time < asked < t_next and asked < cut:
                        memset(self.failures, 0, self.n_units * sizeof(Failure))
                        if self._rollback():
                            reason = FAILED
                            break
                        cut = asked
                        self.h_next = asked - self.time
                        continue
                if status:
                    reason = LOOP_FAILED if status < 0 else FAILED
                    break
                error = self._coupling_error(t_next - self.time)
                # A step that cannot shrink without leaving a sliver shorter than
                # min_step is taken as it is: shrinking it would only grow it back.
                if error > 1.0 and h > self.min_step \
                        and not (t_next == target and remaining < 2 * self.min_step):
                    if self.first_order:          # _stepped moved the history on
                        self.at_n, self.at_prev = self.at_prev, self.at_n
                        self.h_prev, self.have_prev = self.h_older, self.had_prev
                    if self._rollback():
                        reason = FAILED
                        break
                    factor = 0.9 * pow(error, -exponent)
                    self.h_next = max(self.min_step, h * max(0.2, factor))
                    continue
                self.time = t_next
                self.step_index += 1
                if self.time >= cut:
                    cut = INFINITY
                factor = 0.9 * pow(error, -exponent) if error > 0.0 else 4.0
                self.h_next = min(self.max_step, max(self.min_step, h * min(4.0, max(0.2, factor))))
                if t_next == output:
                    self.outputs_done += 1
                if self.output_interval == 0.0 or t_next == output \
                        or t_next == self.end_time or self.stop_requested:
                    reason = self._record_point(t_next)
                    if reason != DONE:
                        break
        return reason

    cdef inline int _record_point(self, double t) noexcept nogil:
        """Record the row at an output point; FAILED, TERMINATED (a unit asked
        to stop there) or CHUNK_FULL end the loop, DONE goes on."""
        if self._record(t):
            return FAILED
        if self._stop_due():
            return TERMINATED
        if self.rows_filled == self.chunk_rows:
            return CHUNK_FULL
        return DONE

    cdef inline bint _stop_due(self) noexcept nogil:
        """Whether a request to end the simulation takes effect at the point
        reached: once the step of every unit that asked has ended there.  A slow
        unit (step multiple) asks at the end of its window, so the others run on
        to it and the result ends where the unit asked."""
        cdef int k
        if not self.stop_requested:
            return False
        for k in range(self.n_units):
            if self.stats[k].ev.terminated and \
                    not self._window_ends(&self.units[k], self.step_index - 1):
                return False
        return True

    cdef int _record(self, double t) noexcept nogil:
        """Fetch record-only values and append a row at time t; returns failures."""
        cdef int k, c, slot, errors = 0
        cdef Unit* u
        for k in range(self.n_units):
            u = &self.units[k]
            # a slow unit in the middle of its step keeps the values it had
            if (u.multiple == 1 or self.step_index % u.multiple == 0
                    or self.step_index >= self.n_steps) and self._pull(u, ACT_REC):
                errors += 1
        self.n_failures = errors
        if errors:
            return errors
        cdef uint64_t* row = self.rows + self.rows_filled * self.n_columns
        for c in range(self.n_columns):
            row[c] = _cell(self.rd, self.column_group[c], self.column_slot[c])
        self.row_times[self.rows_filled] = t
        self.rows_filled += 1
        return 0

    def run(self, long long until_step):
        """Step until step index ``until_step``, a full result chunk, or a failure.

        Returns DONE, CHUNK_FULL, FAILED, LOOP_FAILED or TERMINATED; on FAILED,
        ``failures()`` tells which units failed and where (a unit that asked to
        end the simulation inside the step fails with STEP_TERMINATED), on
        LOOP_FAILED ``loop_error`` holds the error; ``time`` is the start of the
        failed step.  TERMINATED: the step was completed and recorded, and a
        unit asked to end the simulation there (see :meth:`terminations`).
        """
        cdef int reason = DONE, status
        cdef double t, t_next
        if until_step > self.n_steps:
            until_step = self.n_steps
        with nogil:
            while self.step_index < until_step:
                t = self._time(self.step_index)
                t_next = self._time(self.step_index + 1)
                status = self._step(self.step_index, t, t_next - t)
                if status:
                    reason = LOOP_FAILED if status < 0 else FAILED
                    break
                self.step_index += 1
                self.time = t_next
                if self.step_index % self.record_every == 0 or self.step_index == self.n_steps \
                        or self._stop_due():
                    reason = self._record_point(t_next)
                    if reason != DONE:
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
        self._push(&self.units[k], 0.0)
        return self.failures_list()

    def record_now(self):
        """Append a row at the current time; returns failures."""
        self._record(self.time)
        return self.failures_list()

    def failures_list(self):
        """[(unit, stage, group name, status, call)] of the last operation; clears
        them.  ``call`` is the CALL_* code of the FMI 3 function a failed step
        called last (0, do step, otherwise)."""
        cdef Failure* f
        found = []
        for k in range(self.n_units):
            f = &self.failures[k]
            if f.status:
                found.append((f.unit, f.stage, _GROUP_NAMES[f.group], f.status, f.call))
                f.status = 0
        return found

    def terminations(self):
        """[(unit, time)] of the units whose last step ended with a request to
        end the simulation, at the time each asked."""
        return [(k, self.stats[k].ev.stop_time) for k in range(self.n_units)
                if self.units[k].kind == KIND_FMU and self.stats[k].ev.terminated]

    def statistics(self):
        """Per unit: (steps, rejected, rollbacks, loop iterations, seconds in do step,
        events, early returns, Newton solves)."""
        return [(self.stats[k].steps, self.stats[k].rejected, self.stats[k].rollbacks,
                 self.stats[k].loop_iterations, self.stats[k].step_ns / 1e9,
                 self.stats[k].ev.events, self.stats[k].ev.early_returns,
                 self.stats[k].newton_solves)
                for k in range(self.n_units)]

    def clear_step_times(self):
        """Forget the do-step times measured so far (a calibration that profiled
        a run not started with ``profile``)."""
        for k in range(self.n_units):
            self.stats[k].step_ns = 0

    def take_rows(self):
        """(times, rows) recorded since the last call, as new arrays; rows hold
        8-byte cells (uint64), read per column with :func:`cell_dtype`."""
        n = self.rows_filled
        times = np.asarray(<double[:max(n, 1)]>self.row_times)[:n].copy()
        rows = np.asarray(<uint64_t[:max(n * self.n_columns, 1)]>self.rows)[:n * self.n_columns]
        self.rows_filled = 0
        return times, rows.reshape(n, self.n_columns).copy()

    def rewind(self, long long step_index, double time, bytes values not None,
               bytes history=None, *, bytes inputs=None):
        """Return to the communication point ``step_index`` at ``time`` with the
        exchanged values ``values`` (from :meth:`buffers` at that point) and the
        holds' and step control's ``history`` (from :meth:`history`; None starts
        them afresh); unflushed rows are dropped.  ``inputs`` (from
        :meth:`inputs_set` at that point, with the FMU states restored to it)
        are the values the FMUs hold; without it (or from another system)
        every input is set again before the next step."""
        cdef size_t n64 = self.slot_counts[G_F64] * sizeof(double)
        cdef size_t offset = 0, nbytes
        if step_index < 0 or not self.start_time <= time <= self.end_time:
            raise ValueError(f"step {step_index} at t={time!r} is outside this run")
        if len(values) != sum(self.slot_counts[g] * GROUP_SIZE[g] for g in range(N_GROUPS)) or (
                history is not None and len(history) != 2 * n64 + 24):
            raise ValueError("the saved values do not belong to this system")
        cdef const char* data = values
        if inputs is not None and <size_t>len(inputs) == self.inputs_bytes:
            memcpy(self.inputs_block, <const char*>inputs, self.inputs_bytes)
        else:
            self.forget_inputs()
        for g in range(N_GROUPS):
            nbytes = self.slot_counts[g] * GROUP_SIZE[g]
            memcpy(_at(self.rd, g, 0), data + offset, nbytes)
            offset += nbytes
        self.step_index = step_index
        self.time = time
        self.have_prev = False
        if history is not None:
            data = history
            memcpy(self.at_prev, data, n64)
            memcpy(self.rd.d64, data + n64, n64)
            memcpy(&self.h_prev, data + 2 * n64, 8)
            memcpy(&self.h_next, data + 2 * n64 + 8, 8)
            self.have_prev = data[2 * n64 + 16] != 0
        if self.output_interval:
            self.outputs_done = <long long>floor((time - self.start_time) / self.output_interval)
            while self._next_output() <= time:
                self.outputs_done += 1
            while self.outputs_done > 0 and self._next_output() - self.output_interval > time:
                self.outputs_done -= 1
        self.rows_filled = 0

    def history(self):
        """What the holds and the step control carry from point to point (the
        previous point's values, the output derivatives at this one), as bytes."""
        cdef size_t n64 = self.slot_counts[G_F64] * sizeof(double)
        cdef char flags[8]
        memcpy(flags, b"\0\0\0\0\0\0\0\0", 8)
        flags[0] = 1 if self.have_prev else 0
        return (bytes(<char[:n64]><char*>self.at_prev) + bytes(<char[:n64]><char*>self.rd.d64)
                + bytes(<char[:8]><char*>&self.h_prev)
                + bytes(<char[:8]><char*>&self.h_next) + bytes(<char[:8]>flags))

    def inputs_set(self):
        """The values last set to the FMUs' inputs (and which are known), as bytes."""
        return bytes(<char[:max(self.inputs_bytes, 1)]>self.inputs_block)[:self.inputs_bytes]

    def forget_inputs(self):
        """Set every input again before the next step (the FMUs' inputs changed
        behind the loop's back)."""
        cdef int k, j
        for k in range(self.n_units):
            if self.units[k].kind == KIND_FMU:
                for j in range(self.units[k].n_active[ACT_IN]):
                    self.units[k].active[ACT_IN][j].known[0] = 0

    def value(self, str group, slots):
        """The values in buffer ``slots`` of ``group``, as a numpy array."""
        g = GROUPS[group]
        values = self._buffer(self.rd, g)[np.asarray(slots, dtype=np.intp)]
        return values != 0 if g == G_BOOL else values

    cdef object _buffer(self, Buffers* b, int g):
        """Group g's buffer in ``b`` as a numpy array over its memory (no copy)."""
        cdef size_t nbytes = self.slot_counts[g] * GROUP_SIZE[g]
        cdef char* data = <char*>_at(b, g, 0)
        return np.asarray(<char[:nbytes]>data).view(_GROUP_DTYPES[g])

    def buffers(self):
        """A copy of every exchanged value, as bytes (to detect change): the
        float64 values first, then each other group in turn."""
        return b"".join(bytes(<char[:self.slot_counts[g] * GROUP_SIZE[g]]><char*>_at(self.rd, g, 0))
                        for g in range(N_GROUPS))


    # -- clocks (FMI 3) ---------------------------------------------------------------
    #
    # A unit with clocks steps through _clocked_step: its step is cut at each
    # tick of its input clocks and at each event the FMU raises, and every
    # such point is an event (_clock_event) where the clocks due tick, their
    # clocked inputs are set, the discrete states settle, output clocks are
    # read and passed on to the triggered input clocks they are connected to,
    # and clocked outputs are fetched.  A tick at a communication point is
    # taken when the step from it starts, after the inputs are set there.

    def set_clocks(self, int k, int n):
        """Unit ``k`` (an FMI 3 FMU instantiated with event mode) has ``n`` clocks."""
        cdef ClockSet* cs = <ClockSet*>self._alloc(sizeof(ClockSet))
        cs.n = n
        cs.clocks = <Clock*>self._alloc(max(n, 1) * sizeof(Clock))
        self.units[k].clocks = cs

    def add_clock(self, int k, int index, int vr, str kind, *, bint query=False,
                  long long base=0, double interval=0.0, long long first=0):
        """Clock ``index`` of unit ``k``: kind "timed" (tick j at ``base`` +
        j*``interval`` ns, from j = ``first``; ``query``: ask the FMU for the
        interval in each event and restart the schedule there when it changed),
        "triggered" or "output"."""
        cdef Clock* c = &self.units[k].clocks.clocks[index]
        c.kind = {"timed": CLOCK_TIMED, "triggered": CLOCK_TRIGGERED, "output": CLOCK_OUTPUT}[kind]
        c.vr = vr
        c.query = query
        c.base, c.interval, c.j = base, interval, first
        c.next = _tick_time(c) if c.kind == CLOCK_TIMED else NO_TICK

    def set_clocked(self, int k, int index, str group, vrs, slots, *, bint inputs):
        """Values of type ``group`` clocked by clock ``index`` of unit ``k``: inputs
        set from the buffer ``slots`` when it ticks, or outputs fetched into them."""
        cdef Unit* u = &self.units[k]
        cdef Port* port = <Port*>self._alloc(sizeof(Port))
        self._port(port, u.fmi_version, GROUPS[group], vrs, slots)
        if inputs:
            u.clocks.clocks[index].inputs[GROUPS[group]] = port
        else:
            u.clocks.clocks[index].outputs[GROUPS[group]] = port

    def connect_clock(self, int k, int index, int target, int target_index):
        """Output clock ``index`` of unit ``k`` ticks triggered input clock
        ``target_index`` of unit ``target`` in the same event."""
        cdef Clock* c = &self.units[k].clocks.clocks[index]
        units = [c.target_unit[i] for i in range(c.n_targets)] + [target]
        clocks = [c.target_clock[i] for i in range(c.n_targets)] + [target_index]
        c.target_unit, c.target_clock = self._ints(units), self._ints(clocks)
        c.n_targets += 1

    def tick(self, int k, int index):
        """Tick triggered input clock ``index`` of unit ``k`` at the current point
        (in the event that starts the next step of the unit)."""
        if self._post(&self.units[k].clocks.clocks[index], llround(self.time * 1e9)):
            raise OverflowError(f"more than {MAX_PENDING} ticks are waiting")

    def clock_ticks(self, int k):
        """Ticks so far of each clock of unit ``k``."""
        cdef ClockSet* cs = self.units[k].clocks
        return [] if cs == NULL else [cs.clocks[i].ticks for i in range(cs.n)]

    def pull_clocked(self, int k):
        """Fetch every clocked output of unit ``k`` (initialization mode, where
        FMI 3 lets them be read); returns failures."""
        cdef ClockSet* cs = self.units[k].clocks
        cdef int i, g
        if cs != NULL:
            for i in range(cs.n):
                for g in range(N_GROUPS):
                    if cs.clocks[i].outputs[g] != NULL and \
                            self._get_port(&self.units[k], cs.clocks[i].outputs[g]):
                        break
        return self.failures_list()

    cdef int _post(self, Clock* c, long long at) noexcept nogil:
        """Ask triggered clock c to tick at ``at`` ns; 1 if too many wait."""
        cdef int i
        if c.n_pending == MAX_PENDING:
            return 1
        i = c.n_pending
        while i > 0 and c.pending[i - 1] > at:
            c.pending[i] = c.pending[i - 1]
            i -= 1
        if i > 0 and c.pending[i - 1] == at:     # one tick per event
            while i < c.n_pending:
                c.pending[i] = c.pending[i + 1]
                i += 1
            return 0
        c.pending[i] = at
        c.n_pending += 1
        return 0

    cdef long long _next_tick(self, ClockSet* cs) noexcept nogil:
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

    cdef int _set_port(self, Unit* u, Port* p) noexcept nogil:
        """Set a clocked input port from the buffers (values as they are)."""
        cdef int status
        self._gather(p, 3)
        status = slave_set(&u.slave, p.type, p.vr, p.n, p.scratch, p.nv)
        if status > STATUS_WARNING:
            self._fail(u, STAGE_SET, p.group, status)
        return status if status > STATUS_WARNING else 0

    cdef int _get_port(self, Unit* u, Port* p) noexcept nogil:
        """Fetch a clocked output port into the buffers being written."""
        cdef int status
        status = slave_get(&u.slave, p.type, p.vr, p.n, p.scratch, p.nv)
        if status > STATUS_WARNING:
            self._fail(u, STAGE_GET, p.group, status)
            return status
        self._scatter(p, 3)
        return 0

    cdef void _carry_clocked(self, ClockSet* cs) noexcept nogil:
        """Keep clocked outputs in the buffer set being written: they change only at ticks."""
        cdef int i, g, v
        cdef Port* p
        if self.rd == self.wr:
            return
        for i in range(cs.n):
            for g in range(N_GROUPS):
                p = cs.clocks[i].outputs[g]
                if p == NULL:
                    continue
                for v in range(p.nv):
                    _copy_slot(self.wr, self.rd, g, p.slot[v])

    cdef int _clocked_step(self, Unit* u, double t, double h, StepEvents* ev) noexcept nogil:
        """fmi3DoStep of a unit with clocks from t to t + h, cut at its ticks and
        at the events the FMU raises, each handled by _clock_event.  Answers like
        slave_do_step3."""
        cdef Slave* s = &u.slave
        cdef ClockSet* cs = u.clocks
        cdef double now = t, target = t + h, last
        cdef long long at = llround(t * 1e9), end = llround(target * 1e9), nxt, stop
        cdef cbool event, terminate, early
        cdef int status, rounds = 0
        cdef char text[320]
        ev.terminated = 0
        self._carry_clocked(cs)
        while True:
            if at >= end:           # a tick at the end waits for the next step's inputs
                return STATUS_OK
            nxt = self._next_tick(cs)
            if nxt <= at:
                status = self._clock_event(u, at, now, ev)
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
            at = stop if not early else llround(last * 1e9)
            if terminate:
                ev.terminated = 1
                ev.stop_time = last
                return STATUS_OK if at >= end else STATUS_TERMINATED
            if event:
                status = self._clock_event(u, at, now, ev)
                if status or ev.terminated:
                    return status if status else (STATUS_OK if at >= end else STATUS_TERMINATED)

    cdef int _clock_event(self, Unit* u, long long at, double t, StepEvents* ev) noexcept nogil:
        """One event of unit u at ``at`` ns (t s): enter event mode, tick the input
        clocks due, set their clocked inputs, settle the discrete states, read
        the output clocks and tick their targets, fetch the clocked outputs of
        every clock that ticked, follow interval changes, leave event mode."""
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
            c.active = (c.kind == CLOCK_TIMED and c.next <= at) or \
                (c.kind == CLOCK_TRIGGERED and c.n_pending > 0 and c.pending[0] <= at)
            if not c.active:
                continue
            if c.kind == CLOCK_TRIGGERED:
                c.n_pending -= 1
                for n in range(c.n_pending):
                    c.pending[n] = c.pending[n + 1]
            status = s.fn.f3_set_clock(s.component, &c.vr, 1, &on)
            if status > STATUS_WARNING:
                return status
            for g in range(N_GROUPS):
                if c.inputs[g] != NULL and self._set_port(u, c.inputs[g]):
                    return STATUS_ERROR
        status = slave_settle(s, t, ev)
        if status > STATUS_WARNING or ev.terminated:
            return status
        for i in range(cs.n):
            c = &cs.clocks[i]
            if c.kind == CLOCK_OUTPUT:
                status = s.fn.f3_get_clock(s.component, &c.vr, 1, &on)
                if status > STATUS_WARNING:
                    return status
                c.active = on
                on = 1
                for n in range(c.n_targets):
                    if c.active and self._post(
                            &self.units[c.target_unit[n]].clocks.clocks[c.target_clock[n]], at):
                        s.log(s.sink, STATUS_ERROR, "cosim", "an output clock ticked more "
                              "often than its target could follow (64 ticks waiting)")
                        return STATUS_ERROR
            if not c.active:
                if c.query and c.kind == CLOCK_TIMED:
                    status = self._follow_interval(u, c, at)
                    if status:
                        return status
                continue
            c.active = 0
            c.ticks += 1
            for g in range(N_GROUPS):
                if c.outputs[g] != NULL and self._get_port(u, c.outputs[g]):
                    return STATUS_ERROR
            if c.kind == CLOCK_TIMED:
                c.j += 1
                c.next = _tick_time(c)
                if c.query:
                    status = self._follow_interval(u, c, at)
                    if status:
                        return status
        ev.call = CALL_ENTER_STEP_MODE
        return s.fn.f3_enter_step_mode(s.component)

    cdef int _follow_interval(self, Unit* u, Clock* c, long long at) noexcept nogil:
        """Ask the FMU for the interval of a tunable or changing clock; a changed
        one restarts the schedule from this event."""
        cdef double interval
        cdef int qualifier = 0, status
        status = u.slave.fn.f3_get_interval_decimal(u.slave.component, &c.vr, 1, &interval,
                                                    &qualifier)
        if status > STATUS_WARNING:
            return status
        if qualifier == INTERVAL_CHANGED:
            if not interval > 0.0:
                u.slave.log(u.slave.sink, STATUS_ERROR, "cosim",
                            "fmi3GetIntervalDecimal gave a clock interval that is not > 0")
                return STATUS_ERROR
            c.base, c.interval, c.j = at, interval, 1
            c.next = _tick_time(c)
        return 0

class _SweepFailed(Exception):
    """A unit failed during a loop sweep; its failure record says which."""



cdef inline long long _tick_time(Clock* c) noexcept nogil:
    """Tick j of a timed clock in ns: from its base, never accumulated."""
    return c.base + llround(c.j * c.interval * 1e9)
