# cython: language_level=3
"""The master's native core: :class:`Core`, which owns the flat arrays a
flattened system's step loop runs on (laid out by its base,
``_build.Builder``) and drives the loop from Python.

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
from libc.math cimport llround
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

from cosim.fmi._binding cimport STATUS_ERROR, STATUS_TERMINATED
from cosim.master._build cimport Builder
from cosim.master._clocks cimport get_port, post
from cosim.master._exchange cimport pull, push
from cosim.master._loops cimport discrete_changed, discrete_value, keep_discrete, solve_loop, sweep
from cosim.master._stepcontrol cimport (
    history_bytes, history_fault, history_size, place_outputs, restore_history, run_variable)
from cosim.master._stepping cimport record, run_fixed
from cosim.master._text cimport store_of, text_entry, text_index
from cosim.master._types cimport (
    ACT_IN, ACT_OUT, ACT_REC, CHUNK_FULL, DONE, FAILED, G_BIN, G_BOOL, G_F32, G_F64, G_STR, G_U8,
    G_U16, G_U32, G_U64, GROUP_SIZE, KIND_FMU, LOOP_FAILED, MAX_PENDING, N_GROUPS, NEWTON_FAILED,
    STAGE_GET, STAGE_SET, STAGE_STEP, TERMINATED, Buffers, TextEntry, ClockSet, Failure, Loop, Master, Port,
    Unit, UnitStats, fail, slot_at)

from cosim.master._build import _GROUP_DTYPES, _GROUP_NAMES, _GROUP_TYPES, GROUPS, HOLDS
from cosim.master.newton import SweepFailed as _SweepFailed
from cosim.master.newton import solve as _solve_newton

STAGES = ("set", "step", "get")
RUN_DONE, RUN_CHUNK_FULL, RUN_FAILED, RUN_LOOP_FAILED, RUN_TERMINATED = \
    DONE, CHUNK_FULL, FAILED, LOOP_FAILED, TERMINATED
# A unit's step status when it asked to end the simulation inside the step.
STEP_TERMINATED = STATUS_TERMINATED


def _cell_dtype(int g):
    """The numpy dtype of group g's result cells (see cosim.master._types.cell)."""
    if g == G_F64 or g == G_F32:
        return np.float64
    if g == G_U8 or g == G_U16 or g == G_U32 or g == G_U64:
        return np.uint64
    return np.int64


CELL_DTYPES = {name: _cell_dtype(g) for g, name in enumerate(_GROUP_NAMES)}


@cython.final
cdef class Core(Builder):
    """Owns the loop's arrays; built by :mod:`cosim.execution` from a flattened system.

    Call order: ``add_fmu``/``add_python`` for every unit, ``set_inputs``/
    ``set_outputs`` for their ports, optionally ``set_multiple`` and
    ``add_loop``, ``configure``, then ``run`` (fixed step) or
    ``run_variable`` repeatedly; initialization uses ``pull``/``push``/
    ``solve_loops``/``record_now`` from Python.
    """

    cdef dict jacobians      # loop -> Jacobian of its residual, once Newton has solved it
    cdef public object loop_error
    cdef readonly list python_errors

    def __cinit__(self, int n_units, slot_counts, *, int chunk_rows=4096):
        # Builder.__cinit__ has laid the arrays out
        self.python_errors = []
        self.jacobians = {}
        self.m.owner = <void*>self
        self.m.python_stage = _python_stage_call
        self.m.newton = _newton_call
        self.m.discrete_error = _discrete_error_call

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
    def flush_interval(self):
        """Wall seconds after which recorded rows are handed over even when the
        chunk is not full (run and run_variable return CHUNK_FULL); 0: off."""
        return self.m.rows.flush_ns / 1e9

    @flush_interval.setter
    def flush_interval(self, double seconds):
        if not seconds >= 0:
            raise ValueError(f"flush_interval must be >= 0 seconds, got {seconds!r}")
        self.m.rows.flush_ns = <long long>(seconds * 1e9)

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
        fault = self.rewind_fault(step_index, time, values, history)
        if fault is not None:
            raise ValueError(fault)
        cdef const char* data = values
        for g in range(G_STR):
            nbytes = m.slot_counts[g] * GROUP_SIZE[g]
            memcpy(slot_at(m.rd, g, 0), data + offset, nbytes)
            offset += nbytes
        for (g, slot), text in zip(self._text_slots(), self._text_tail(values, offset)):
            (<long long*>slot_at(m.rd, g, slot))[0] = self._intern(g, slot, text)
        # after the text tail: store indices of values not seen yet change the inputs block
        if inputs is not None and <size_t>len(inputs) == m.inputs_bytes:
            memcpy(m.inputs_block, <const char*>inputs, m.inputs_bytes)
        else:
            self.forget_inputs()
        m.step_index = step_index
        m.time = time
        restore_history(m, history)
        place_outputs(m, time)
        m.rows.filled = 0

    def rewind_fault(self, long long step_index, double time, bytes values not None,
                     bytes history=None):
        """Why :meth:`rewind` would refuse these, or None; changes nothing."""
        cdef Master* m = &self.m
        if step_index < 0 or not m.start_time <= time <= m.end_time:
            return f"step {step_index} at t={time!r} is outside this run"
        numbers = sum(m.slot_counts[g] * GROUP_SIZE[g] for g in range(G_STR))
        try:
            self._text_tail(values, numbers)
        except ValueError:
            return "the saved values do not belong to this system"
        if history is not None and <size_t>len(history) != history_size(m):
            return "the saved values do not belong to this system"
        return history_fault(m, history) if history is not None else None

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
        """The values in buffer ``slots`` of ``group``, as a numpy array (of
        objects, str or bytes, for strings and binaries)."""
        g = GROUPS[group]
        if g >= G_STR:
            return self._texts(self.m.rd, g, slots)
        values = self._buffer(self.m.rd, g)[np.asarray(slots, dtype=np.intp)]
        return values != 0 if g == G_BOOL else values

    cdef object _buffer(self, Buffers* b, int g):
        """Group g's buffer in ``b`` as a numpy array over its memory (no copy)."""
        cdef size_t nbytes = self.m.slot_counts[g] * GROUP_SIZE[g]
        cdef char* data = <char*>slot_at(b, g, 0)
        return np.asarray(<char[:nbytes]>data).view(_GROUP_DTYPES[g])

    def buffers(self):
        """A copy of every exchanged value, as bytes (to detect change): the
        float64 values first, then each other number group in turn, then each
        string and binary value as its 8-byte length and its bytes."""
        numbers = b"".join(
            bytes(<char[:self.m.slot_counts[g] * GROUP_SIZE[g]]><char*>slot_at(self.m.rd, g, 0))
            for g in range(G_STR))
        texts = []
        for g, slot in self._text_slots():
            data = self._text(g, slot, (<long long*>slot_at(self.m.rd, g, slot))[0], False)
            texts += [len(data).to_bytes(8, "little"), data]
        return numbers + b"".join(texts)

    # -- strings and binaries -------------------------------------------------------

    def text_count(self, str group, int slot):
        """How many distinct values the store of text ``slot`` of ``group`` holds."""
        g = GROUPS[group]
        self._text_slot(g, slot)
        return store_of(&self.m, g, slot).n

    def text_values(self, str group, int slot, long long start=0):
        """The distinct values text ``slot`` of ``group`` has held, from index
        ``start`` on (str for strings, bytes for binaries): a recorded cell of
        the slot holds the index of its value here."""
        g = GROUPS[group]
        self._text_slot(g, slot)
        return [self._text(g, slot, i, True) for i in range(start, store_of(&self.m, g, slot).n)]

    def _text_slots(self):
        return [(g, s) for g in (G_STR, G_BIN) for s in range(self.m.slot_counts[g])]

    cdef void _text_slot(self, int g, int slot) except *:
        if g < G_STR or not 0 <= slot < self.m.slot_counts[g]:
            raise ValueError(f"no {_GROUP_NAMES[g]} text slot {slot}")

    cdef object _text(self, int g, int slot, long long index, bint decoded):
        cdef TextEntry* e = text_entry(store_of(&self.m, g, slot), index)
        data = e.data[:e.size]
        return data.decode("utf-8", "replace") if decoded and g == G_STR else data

    cdef long long _intern(self, int g, int slot, value) except -1:
        """The store index of ``value`` (str or bytes) in text ``slot`` of ``g``."""
        cdef bytes data = value.encode() if isinstance(value, str) else bytes(value)
        if g == G_STR and b"\0" in data:
            raise ValueError(f"string {value!r} holds a NUL character, which FMI strings cannot")
        cdef long long index = text_index(store_of(&self.m, g, slot), data, len(data))
        if index < 0:
            raise MemoryError()
        return index

    cdef object _texts(self, Buffers* b, int g, slots):
        return np.array([self._text(g, s, (<long long*>slot_at(b, g, s))[0], True)
                         for s in slots] + [None], dtype=object)[:-1]

    def _text_tail(self, bytes values, size_t offset):
        """The text values at ``offset`` of :meth:`buffers`' bytes, one per text slot."""
        out = []
        for _ in self._text_slots():
            if offset + 8 > <size_t>len(values):
                raise ValueError("short")
            size = int.from_bytes(values[offset:offset + 8], "little")
            if offset + 8 + size > <size_t>len(values):
                raise ValueError("short")
            out.append(values[offset + 8:offset + 8 + size])
            offset += 8 + size
        if offset != <size_t>len(values):
            raise ValueError("long")
        return out

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
        if g >= G_STR:
            return self._texts(self.m.rd, g, slots)
        values = self._buffer(self.m.rd, g)[slots]
        if g == G_F64 and p.scale != NULL:
            return np.asarray(<double[:p.nv]>p.scale) * values + np.asarray(<double[:p.nv]>p.shift)
        return values != 0 if g == G_BOOL else values

    cdef void _write_slots(self, int g, Port* p, values) except *:
        if g >= G_STR:      # a list: numpy would drop a binary's trailing NUL bytes
            values = list(values)
            if len(values) != p.nv:
                raise ValueError(f"get returned {len(values)} values for {p.nv} variables")
            for i in range(p.nv):
                (<long long*>slot_at(self.m.wr, g, p.slot[i]))[0] = self._intern(
                    g, p.slot[i], values[i])
            return
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
        status, error = _solve_newton(self, i, remembered, self.jacobians)
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

    def tick(self, int k, int index, at=None):
        """Tick triggered input clock ``index`` of unit ``k`` at the current point
        (in the event that starts the next step of the unit), or at time ``at``
        (s, checked by the caller: not before the current point), where the run
        cuts the step."""
        cdef double when = self.m.time if at is None else at
        if post(&self.m.units[k].clocks.clocks[index], llround(when * 1e9)):
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
