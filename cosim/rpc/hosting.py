"""A system hosted by the Orchestrator: its own thread, a bounded queue of
the calls waiting for it, and the output streams of its subscribers.

Calls are refused at once when the queue is full, dropped unrun when their
client has gone, and stepping runs in short slices so that a terminated
system (or a stopping server) ends a long Step or RunUntil within a slice.
"""

from __future__ import annotations

import collections
import logging
import queue
import shutil
import threading
import time
from typing import Any

import grpc

from cosim.errors import ConfigurationError, CosimError, FmiCallError, ModelError
from cosim.execution import Simulation
from cosim.rpc.common import RequestError, without_server_folders
from cosim.rpc.quotas import Quotas, SystemBudget, exceeded
from cosim.v1 import orchestrator_pb2 as pb

__all__ = ["HostedSystem"]

log = logging.getLogger("cosim.rpc")

S = pb.SystemState
# A slice of stepping takes about this long: the delay before a Terminate or
# a stopping server is noticed, and the granularity of output broadcasts.
SLICE_SECONDS = 0.05
# How often a waiting call looks whether its client is still there.
WAIT_POLL = 0.1


class _Call:
    __slots__ = ("changes", "command", "context", "done", "error", "final", "result")

    def __init__(self, command, context, *, final: bool = False, changes: bool = True):
        self.command, self.context, self.final = command, context, final
        self.changes = changes          # whether it may change the system's state
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None


class _Subscriber:
    """One StreamOutputs call: its rows waiting to be sent, counted."""

    def __init__(self, columns: list[int], context):
        self.queue: queue.Queue = queue.Queue()
        self.columns = columns
        self.context = context
        self.backlog = 0            # rows queued, not yet handed to the transport
        self.sending = False        # rows handed over and not yet taken by the client
        self.lock = threading.Lock()


def _gone(context) -> RequestError | None:
    """Why the client of ``context`` is no longer waiting (its deadline passed,
    or it cancelled), or None."""
    if context is None:
        return None
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed")
    if not context.is_active():
        return RequestError(grpc.StatusCode.CANCELLED, "the client has gone")
    return None


class HostedSystem:
    """A system on the server: its System, its Simulation once initialized,
    its command thread and queue, its output subscribers and its snapshots."""

    def __init__(self, system_id: str, system, workdir: str | None,
                 budget: SystemBudget | None, quotas: Quotas, durable=None):
        self.id = system_id
        self.system = system
        self.name = system.name
        self.sim: Simulation | None = None
        self.twin: Any = None             # a LiveTwin when live or real time
        self.state = S.SYSTEM_STATE_CREATED
        self.error = ""
        self.workdir = workdir
        self.budget = budget
        self.quotas = quotas
        self.snapshots: dict = {}
        self.subscribers: list[_Subscriber] = []
        self.rows_sent = 0                # rows ever recorded that were offered to subscribers
        self.dropped_calls = 0
        self.lock = threading.Lock()      # guards subscribers
        self.step_lock = threading.RLock()  # one command or live point at a time
        self.closing = threading.Event()
        self.chunk = 1                    # steps per slice, adapted to SLICE_SECONDS
        self.durable = durable            # the server's StateDir, or None
        self.changed = False              # since the last checkpoint
        self.checkpointed = time.monotonic()
        self.unsaveable = ""              # why its state cannot be saved, once known
        self.forgotten = False            # terminated: never checkpointed again
        self.failed_at = 0.0              # the time of a system brought back failed
        self._queue: collections.deque[_Call] = collections.deque()
        self._pending = 0                 # calls queued or running
        self._closed = False              # its shutdown is queued
        self._cv = threading.Condition()
        # A daemon: a component stuck in a step must not keep the server from exiting.
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name=f"cosim-{system_id[:8]}")
        self._thread.start()

    # -- calls ----------------------------------------------------------------------

    def do(self, command, context=None):
        """Run ``command(self)`` on the system's thread and return its result.

        Raises RESOURCE_EXHAUSTED at once when ``max_queued_calls`` calls are
        already queued or running; a call whose client goes away (``context``
        cancelled or past its deadline) before it runs is dropped.
        """
        with self._cv:
            if self.closing.is_set():
                raise self.terminated()
            if self._pending >= self.quotas.max_queued_calls:
                raise exceeded(self.quotas, "max_queued_calls",
                               f"system {self.id} has {self._pending} calls queued or running; "
                               "wait for them to finish")
            call = _Call(command, context)
            self._queue.append(call)
            self._pending += 1
            self._cv.notify()
        while not call.done.wait(WAIT_POLL):
            gone = _gone(context)
            if gone is not None:
                raise gone
        if call.error is not None:
            raise call.error
        return call.result

    def post(self, command) -> None:
        """Queue ``command(self)``, which changes nothing a checkpoint keeps,
        without waiting for it; nothing happens when the system is closing
        or its queue is full."""
        with self._cv:
            if self.closing.is_set() or self._pending >= self.quotas.max_queued_calls:
                return
            self._queue.append(_Call(command, None, changes=False))
            self._pending += 1
            self._cv.notify()

    def now(self, command, *, changes: bool = True):
        """Run ``command(self)`` in the calling thread, one command at a time.

        A live system's points and reads run this way, off the system's
        thread, to spare a thread hand-over per communication point; the
        lock keeps them and the queued commands from overlapping.  Then, if
        one is due, a checkpoint is written.
        """
        with self.step_lock:
            if self.closing.is_set():
                raise self.terminated()
            try:
                return command(self)
            finally:
                self.changed = self.changed or changes
                self.checkpoint(due=True)

    def _serve(self) -> None:
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                call = self._queue.popleft()
            if call.command is None:
                return
            try:
                if call.final:
                    with self.step_lock:
                        call.result = call.command(self)
                elif (gone := _gone(call.context)) is not None:
                    self.dropped_calls += 1
                    log.info("system %s: a call was dropped unrun (%s)", self.id, gone.message)
                    call.error = gone
                else:
                    call.result = self.now(call.command, changes=call.changes)
            except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
                call.error = exc
            finally:
                with self._cv:
                    self._pending -= 1
                call.done.set()

    def close(self, timeout: float, *, forget: bool = True) -> bool:
        """Stop the system: refuse further calls, end the running one at its next
        slice, drop the queued ones, then stop the simulation and free its files
        (see :meth:`shutdown` for ``forget``).
        Returns whether that finished within ``timeout`` seconds (if not, it
        finishes when the component's step in progress returns)."""
        with self._cv:
            if self._closed:
                return True
            self._closed = True
            self.closing.set()
            for call in self._queue:
                call.error = self.terminated()
                self._pending -= 1
                call.done.set()
            self._queue.clear()
            final = _Call(lambda h: h.shutdown(forget=forget), None, final=True)
            self._queue.extend((final, _Call(None, None)))
            self._pending += 1
            self._cv.notify()
        if not final.done.wait(timeout):
            log.warning("system %s is still in a step; it is freed when the step returns", self.id)
            return False
        return True

    def terminated(self) -> RequestError:
        return RequestError(grpc.StatusCode.ABORTED, f"system {self.id} was terminated")

    def status(self) -> pb.SystemStatus:
        sim = self.sim
        return pb.SystemStatus(system_id=self.id, name=self.name, state=self.state,
                               time=sim.time if sim is not None else self.failed_at,
                               steps=sim.step_index if sim is not None else 0, error=self.error)

    # -- on the system's thread ---------------------------------------------------

    def require_running(self) -> Simulation:
        if self.closing.is_set() or self.state == S.SYSTEM_STATE_TERMINATED:
            raise self.terminated()
        if self.state == S.SYSTEM_STATE_CREATED:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {self.id} is not initialized (call Initialize)")
        if self.state == S.SYSTEM_STATE_FAILED:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {self.id} has failed: {self.error}")
        assert self.sim is not None     # initialized, running or stopped: it has one
        return self.sim

    def advance(self, step_some, context=None) -> None:
        """Call ``step_some(k)`` (take at most ``k`` steps, return True when done)
        until done, with ``k`` adapted so that a slice takes about
        SLICE_SECONDS; between slices, broadcast new rows and stop if the system
        is being terminated or (``context``) the client has gone.  A failure
        marks the system failed."""
        sim = self.require_running()
        try:
            while True:
                if self.closing.is_set():
                    raise RequestError(grpc.StatusCode.ABORTED, f"system {self.id} was terminated "
                                       f"while stepping, at t={sim.time:g} s")
                if _gone(context) is not None:
                    return
                self.checkpoint(due=True)
                began = time.perf_counter()
                done = step_some(self.chunk)
                took = time.perf_counter() - began
                self.broadcast()
                if took < SLICE_SECONDS / 4:
                    # a slice records fewer rows than are kept: streams miss none
                    self.chunk = min(2 * self.chunk, max(1, self.quotas.max_rows // 2))
                elif took > SLICE_SECONDS:
                    self.chunk = max(1, self.chunk // 2)
                if done:
                    return
        except FmiCallError as exc:
            self.state, self.error = S.SYSTEM_STATE_FAILED, without_server_folders(str(exc))
            if self.durable is not None and not self.forgotten:
                try:
                    self.durable.failed(self.id, self.error, time=sim.time)
                except OSError as error:     # the failure itself is what the client hears of
                    log.error("system %s: its failure could not be noted in %s: %s", self.id,
                              self.durable.path, error)
            self.broadcast(final=True)
            raise

    def check_steps(self, n: int) -> None:
        """Refuse ``n`` steps that would pass the stop time."""
        sim = self.require_running()
        if sim.stop_time is not None and sim.time + (n - 0.5) * sim.step_size > sim.stop_time:
            raise ConfigurationError(f"steps: {n} steps from t={sim.time:g} s would pass the "
                                     f"stop time {sim.stop_time:g} s")

    def step(self, n: int) -> None:
        """``n`` communication steps, through the live twin when there is one."""
        self.check_steps(n)
        sim = self.require_running()
        if self.twin is None:
            sim.step(n)
            return
        for _ in range(n):
            self.twin.step(wait=False)

    def checkpoint(self, *, due: bool = False) -> None:
        """Save the system's state to the server's state directory (with
        ``due``: only if it changed and the last checkpoint is older than
        ``--checkpoint-every``).  A system whose components cannot serialize
        their state is said so once, in the log."""
        store = self.durable
        if (store is None or self.forgotten or self.sim is None
                or self.state != S.SYSTEM_STATE_RUNNING):
            return
        if due and not (self.changed and
                        time.monotonic() - self.checkpointed >= store.checkpoint_every):
            return
        self.changed = False
        self.checkpointed = time.monotonic()
        if self.unsaveable:
            return
        sim = self.sim
        try:
            state = sim.save_state()
        except ModelError as exc:
            self.unsaveable = str(exc)
            log.warning("system %s cannot be checkpointed, so a restarted server cannot bring it "
                        "back: %s", self.id, exc)
            store.unsaveable(self.id, self.unsaveable, time=sim.time)
            return
        except CosimError as exc:       # a component failed to save: try again next time
            log.error("system %s: checkpoint at t=%g s failed: %s", self.id, sim.time, exc)
            self.changed = True
            return
        try:
            store.checkpoint(self.id, state, time=sim.time, steps=sim.step_index)
        except OSError as exc:          # a full disk must not stop the system
            log.error("system %s: checkpoint at t=%g s could not be written to %s: %s",
                      self.id, sim.time, store.path, exc)
            self.changed = True

    def shutdown(self, *, forget: bool = True) -> None:
        """Stop the simulation and free its files; ``forget`` (a Terminate)
        also removes it from the state directory, else (the server stopping)
        it is checkpointed there to come back."""
        if self.durable is not None:
            if forget:
                self.forgotten = True
                self.durable.forget(self.id)
            else:
                self.changed = True
                self.checkpoint()
        if self.twin is not None:
            self.twin.close()
        if self.sim is not None:
            self.sim.stop()
        self.state = S.SYSTEM_STATE_TERMINATED
        self.close_streams()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.budget is not None:
            self.budget.release()

    # -- output streams -------------------------------------------------------------

    def subscribe(self, columns: list[int], context) -> _Subscriber:
        subscriber = _Subscriber(columns, context)
        with self.lock:
            self.subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        with self.lock:
            if subscriber in self.subscribers:
                self.subscribers.remove(subscriber)

    def broadcast(self, *, final: bool = False) -> None:
        """Offer the rows recorded since the last broadcast to every subscriber."""
        result = self.sim.result if self.sim is not None else None
        if result is not None:
            total = result.total            # rows dropped from the window kept in memory included
            if total > self.rows_sent:
                with self.lock:
                    if self.subscribers:
                        times, rows = result.since(self.rows_sent)
                        for subscriber in list(self.subscribers):
                            self._offer(subscriber, times, rows)
                self.rows_sent = total
        if final:
            self.close_streams()

    def _offer(self, subscriber: _Subscriber, times, rows) -> None:
        limit = self.quotas.max_stream_backlog
        with subscriber.lock:
            if subscriber.backlog + len(times) <= limit:
                subscriber.backlog += len(times)
                subscriber.queue.put((times, rows))
                return
            self.subscribers.remove(subscriber)
            subscriber.queue.queue.clear()
            subscriber.queue.put(exceeded(
                self.quotas, "max_stream_backlog",
                f"the output stream of system {self.id} fell more than {limit} rows behind "
                "(read faster, or ask for fewer names)"))
            if subscriber.sending:
                # Its call is stuck handing rows to a client that does not read.
                subscriber.context.cancel()

    def close_streams(self) -> None:
        with self.lock:
            for subscriber in self.subscribers:
                subscriber.queue.put(None)
            self.subscribers.clear()
