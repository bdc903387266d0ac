# The master's shared types: what every part of the native core works on.
#
# Everything the step loop touches is a flat C array: per component (unit),
# batches ("ports") of value references with the buffer slots they read from
# or write to; one value buffer per type; a chunk of result rows.  An FMI 3
# array variable takes one slot per element, so a port holds more values than
# value references, and everything downstream (holds, unit conversion, loops,
# records) works element by element.  The small helpers are inline here so
# that they inline into the loop of every module that cimports them.

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from cosim.fmi._binding cimport Slave, StepEvents

# Value groups the loop moves between components.  From G_F32 on, the FMI 3
# only types: their buffers hold the values as the FMI calls take them, and
# the loop copies them as raw bytes of the group's size (no unit conversion,
# no holds, no loops to solve: those are float64 matters).  G_STR and G_BIN
# (strings, FMI 3 binaries) are text groups: a slot holds an int64 index into
# the slot's TextStore, so they copy, compare and record like the numbers.
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
    G_STR = 11
    G_BIN = 12
    N_GROUPS = 13

# Bytes per value in each group's buffer (the numpy dtypes of _core's
# _GROUP_DTYPES, checked against them when _core is imported).
cdef extern from *:
    """
    static const int cosim_group_size[13] = {8, 4, 4, 4, 1, 1, 2, 2, 4, 8, 8, 8, 8};
    """
    const int* GROUP_SIZE "cosim_group_size"

# The distinct values one string or binary slot has held, each kept once:
# equal values have equal indices, so the buffers hold indices (copied,
# compared and recorded as 8-byte integers) and Python reads the values
# behind recorded indices later.  Index 0 is the empty value.  Entries and
# their bytes never move once written (blocks are added, never reallocated),
# so a thread may read an entry while the slot's owner adds others; memory
# grows only with values not seen before in the slot.
cdef enum:
    TEXT_BLOCKS = 48           # entry block b holds 16 << b entries

cdef struct TextEntry:
    const char* data           # the bytes, followed by a NUL (a C string for strings)
    size_t size                # bytes, without the NUL
    uint64_t hash

cdef struct TextStore:
    long long n                # entries
    TextEntry* blocks[TEXT_BLOCKS]
    char* bytes                # the byte block being filled; each block starts with
    size_t used, capacity      # a pointer to the one before (freed in a chain)
    long long* table           # open addressing over entry indices (-1: free)
    size_t table_size          # a power of two, at least twice n

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

# Why a run returned.
cdef enum:
    DONE = 0
    CHUNK_FULL = 1
    FAILED = 2
    LOOP_FAILED = 3
    TERMINATED = 4         # a unit asked to end the simulation at the point reached

# How a float64 input follows its source over a step.
cdef enum:
    HOLD_ZERO = 0          # the value at the step's start, held
    HOLD_EXTRAPOLATE = 1   # first order, with the source's output derivative at the step's
                           # start where its FMU gives one, else from its last two points
    HOLD_INTERPOLATE = 2   # first order, between the source's old and new values
                           # (Gauss-Seidel, source stepped first)

# The kinds of a unit's ports.
cdef enum:
    ACT_IN = 0
    ACT_OUT = 1
    ACT_REC = 2

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
    size_t* lengths    # text groups: value sizes of the FMI call (binaries); scratch holds
                       # the value pointers, `last` the store indices last set

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
    bint countdown             # ticks once per interval the FMU sets (countdown): none after
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
    ClockSet* clocks           # FMI 3 clocks (NULL: none)

# The exchanged values.  Jacobi reads the previous point's values from one
# set and writes the new ones into the other, then swaps; Gauss-Seidel and
# initialization read and write the same set.
cdef struct Buffers:
    double* f64
    double* d64        # first time derivative of each float64 slot, where its FMU gives it
    int32_t* i32
    int32_t* boolean
    char* raw[N_GROUPS]    # the buffers of groups G_F32 on (GROUP_SIZE bytes per slot)

cdef union Cell:
    double f
    int64_t i
    uint64_t u

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
    uint64_t* discrete_before  # discrete values before a sweep, as result cells (cell)
    int newton_left            # points left that skip the sweeps (see NEWTON_POINTS)

# What Newton's method on a loop answers (see Master.newton).
cdef enum:
    NEWTON_SOLVED = 0
    NEWTON_FAILED = 1          # Master.owner holds the loop's error
    NEWTON_RETRY = 2           # a remembered loop did not converge: try the sweeps

# The float64 values first-order holds and the step control carry from one
# communication point to the next.
cdef struct Holds:
    double* at_n               # at the start of the step being taken
    double* at_prev            # at the previous communication point
    double h_prev              # the step that led to this point
    bint have_prev             # whether there was one (the secant needs two points)
    double h_older             # h_prev and have_prev before the last step: what that
    bint had_prev              # step's holds extrapolated with (step-size control)

# The fixed-size tail of Core.history()'s bytes, after the previous point's
# float64 values and the output derivatives at this one.
cdef struct HistoryTail:
    double h_prev
    double h_next
    uint8_t have_prev
    uint8_t unused[7]

# Variable steps: the step-size control's settings and state.
cdef struct StepControl:
    bint on
    double h_next              # the next step tried
    double min_step, max_step, output_interval
    long long outputs_done     # output points reached
    double rtol, atol
    int error_order
    int n_estimated            # float64 slots [0, n) take part in the error estimate
    Buffers backup             # all exchanged values at the start of the step
    char* inputs_backup        # the inputs' last-set values at the start of the step

# The result rows not yet taken by Python.
cdef struct Rows:
    int n_columns
    int* column_group
    int* column_slot
    uint64_t* cells            # result cells (see cell), n_columns per row
    double* times
    int chunk_rows, filled
    # Rows are handed to Python (and the output file) at least every flush_ns
    # of wall clock (0: only full chunks), so a native crash loses little.
    # The clock is read every check_every rows, adapted so that reads are
    # some milliseconds apart whatever a step costs.
    long long flush_ns, next_flush_ns, last_check_ns
    int check_every, since_check

# Calls back into Python (the Core that owns the Master): each takes the GIL
# itself.  python_stage runs one stage of a Python-backed unit and answers
# like an FMI call; newton solves loop i with Newton's method (remembered: it
# needed Newton at the last points) and answers NEWTON_*; discrete_error sets
# the loop error of loop i whose int32/bool values did not settle in `sweeps`.
ctypedef int (*python_stage_fn)(void* owner, int k, int stage, double t, double h) noexcept nogil
ctypedef int (*newton_fn)(void* owner, int i, bint remembered) noexcept nogil
ctypedef void (*discrete_error_fn)(void* owner, int i, int sweeps) noexcept nogil

# Everything the native parts of the master work on, owned by a Core.
cdef struct Master:
    Unit* units
    int n_units
    int* order
    int slot_counts[N_GROUPS]
    Buffers bufs[2]
    Buffers* rd                # values inputs are set from
    Buffers* wr                # where outputs go
    int algorithm
    double start_time, step_size, end_time
    long long n_steps, step_index
    double time                # of the current communication point
    long long record_every
    Rows rows
    Failure* failures          # per unit; status 0 means it did not fail
    int n_failures
    int threads                # > 1: Jacobi steps FMU units on that many threads
    bint profile               # time every do step
    UnitStats* stats
    # Set when a unit asked to end the simulation at the point its step
    # reached; units stepping on several threads only ever store 1 into it.
    bint stop_requested
    bint has_clocks            # some unit has FMI 3 clocks: steps are cut at their ticks
    int* fmu_units
    int n_fmu_units
    int* python_units
    int n_python_units
    # algebraic loops
    Loop* loops
    int n_loops
    int* loop_at               # per order position: the loop Gauss-Seidel solves there, or -1
    int loop_max_iterations
    double loop_tolerance
    # first-order holds; output derivatives: which float64 slots get one, and
    # whether they are fetched yet (FMUs give them only after initialization)
    bint first_order
    Holds holds
    uint8_t* has_derivative
    bint derivatives_live
    StepControl control
    # The last-set values and known flags of every input port, in one block
    # so that a rollback restores them with the FMU states.
    char* inputs_block
    size_t inputs_bytes
    bint set_all_inputs        # set every input before every step (for measurements)
    TextStore* text[2]         # per slot of G_STR, G_BIN: the values its indices stand for
    void* owner                # the Core, passed to the callbacks
    python_stage_fn python_stage
    newton_fn newton
    discrete_error_fn discrete_error


cdef inline void* slot_at(Buffers* b, int g, int slot) noexcept nogil:
    """Slot ``slot`` of group g's buffer in b."""
    if g == G_F64:
        return &b.f64[slot]
    if g == G_I32:
        return &b.i32[slot]
    if g == G_BOOL:
        return &b.boolean[slot]
    return b.raw[g] + <size_t>slot * GROUP_SIZE[g]


cdef inline uint64_t cell(Buffers* b, int g, int s) noexcept nogil:
    """Slot s of group g as an 8-byte result cell: a double for float64 and
    float32, an int64 for signed integers and bools (0 or 1), a uint64 for
    unsigned integers; every value fits its cell exactly."""
    cdef Cell c
    cdef void* p = slot_at(b, g, s)
    if g == G_F64:
        c.f = b.f64[s]
    elif g == G_F32:
        c.f = (<float*>p)[0]
    elif g == G_I32:
        c.i = b.i32[s]
    elif g == G_BOOL:
        c.i = b.boolean[s] != 0
    elif g == G_I8:
        c.i = (<int8_t*>p)[0]
    elif g == G_I16:
        c.i = (<int16_t*>p)[0]
    elif g == G_I64:
        c.i = (<int64_t*>p)[0]
    elif g == G_U8:
        c.u = (<uint8_t*>p)[0]
    elif g == G_U16:
        c.u = (<uint16_t*>p)[0]
    elif g == G_U32:
        c.u = (<uint32_t*>p)[0]
    else:
        c.u = (<uint64_t*>p)[0]
    return c.u


cdef inline void copy_slot(Buffers* to, Buffers* source, int g, int s) noexcept nogil:
    """Copy slot s of group g (a float64 with its derivative)."""
    if g == G_F64:
        to.f64[s] = source.f64[s]
        to.d64[s] = source.d64[s]
    elif g == G_I32:
        to.i32[s] = source.i32[s]
    elif g == G_BOOL:
        to.boolean[s] = source.boolean[s]
    else:
        memcpy(slot_at(to, g, s), slot_at(source, g, s), GROUP_SIZE[g])


cdef inline void fail(Master* m, Unit* u, int stage, int group, int status) noexcept nogil:
    """Record unit u's failure; each unit writes only its own record, so
    worker threads never share one."""
    cdef Failure* f = &m.failures[u - m.units]
    f.unit = u - m.units
    f.stage = stage
    f.group = group
    f.status = status
    f.call = 0


cdef inline double time_at(Master* m, long long index) noexcept nogil:
    """The time of fixed-step point ``index``; the end time from the last point on."""
    if index >= m.n_steps:
        return m.end_time
    return m.start_time + index * m.step_size
