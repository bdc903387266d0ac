"""The Orchestrator service: systems created, stepped and observed over gRPC.

Every hosted system has its own thread: commands from any client are queued
to it and run one at a time, so systems run side by side without sharing
state, and a system is only ever touched by one thread (see
:mod:`cosim.rpc.hosting`).  Outputs are broadcast to every open
StreamOutputs call as the system steps.  Everything a client can make the
server hold is bounded (see :mod:`cosim.rpc.quotas`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import queue
import threading
import time
import uuid
from pathlib import Path

import grpc

from cosim.errors import ConfigurationError, CosimError
from cosim.execution import ALGORITHMS, Simulation
from cosim.rpc.checks import (
    check_live_inputs,
    check_names,
    check_times,
    finite,
    named,
    require_id,
)
from cosim.rpc.common import RequestError, call_status, from_value, to_value
from cosim.rpc.durable import Saved, StateDir
from cosim.rpc.hosting import HostedSystem
from cosim.rpc.loading import Loader
from cosim.rpc.quotas import Quotas, SharedBudget, exceeded
from cosim.rpc.revival import bring_back
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc
from cosim.v1.values_pb2 import NamedValue

__all__ = ["OrchestratorService"]

log = logging.getLogger("cosim.rpc")

S = pb.SystemState
# RunUntil reports progress (and can be cancelled) at about this many points,
# and at least this often (seconds).
PROGRESS_POINTS = 100
PROGRESS_SECONDS = 0.5
# What the SSP archive and FMUs of one system may unpack to, by default.
MAX_UNPACKED_BYTES = Quotas.max_unpacked_bytes
# Steps one Step call may ask for.
MAX_STEPS = 1_000_000_000
# A Terminate waits this long for a busy system to stop, then answers anyway.
TERMINATE_WAIT = 1.5
# A stopping server waits this long, for all systems together.
CLOSE_WAIT = 2.0


class OrchestratorService(orchestrator_pb2_grpc.OrchestratorServicer):
    """Hosts systems for clients.

    Server-side paths must lie under ``root``, and so must every file a
    system read from such a path refers to; a system sent as an ``.ssp``
    archive may refer only to files inside it.  ``quotas`` bounds what
    clients can make the server hold (systems, bytes unpacked, queued
    calls, stream backlogs, rows in memory; see :class:`Quotas`).
    Components behind gRPC endpoints (which the server would call with its
    own token) are refused unless ``allow_remote_components``.

    ``isolate`` runs every FMU of every hosted system in a worker process of
    its own (:mod:`cosim.isolation`), so that a client's FMU that crashes
    fails only its own system; ``call_timeout`` (seconds) then ends a
    system whose FMU call hangs, and ``memory_limit`` (bytes) one whose FMU
    uses more memory.  With ``state_dir`` (a
    :class:`~cosim.rpc.durable.StateDir`), hosted systems are checkpointed
    there and the ones it holds are brought back, with their ids, when the
    service starts.
    """

    def __init__(self, *, root=".", quotas: Quotas | None = None,
                 allow_remote_components: bool = False, isolate: bool = True,
                 call_timeout: float | None = None, memory_limit: int | None = None,
                 state_dir: StateDir | None = None, **limits):
        self.quotas = quotas = quotas or Quotas(**limits)
        self.isolate = isolate
        self.call_timeout = call_timeout if isolate else None
        self.memory_limit = memory_limit if isolate else None
        self.state_dir = state_dir
        self.root = Path(root).resolve()
        self.max_systems = quotas.max_systems
        self.max_unpacked_bytes = quotas.max_unpacked_bytes
        self.unpacked = SharedBudget(quotas.max_total_unpacked_bytes)
        self._loader = Loader(self.root, max_unpacked_bytes=quotas.max_unpacked_bytes,
                              allow_remote=allow_remote_components, total=self.unpacked)
        self._systems: dict[str, HostedSystem] = {}
        self._creating = 0
        self._lock = threading.Lock()
        if state_dir is not None:
            threading.Thread(target=self._tick, daemon=True, name="cosim-checkpoints").start()
            for saved in state_dir.saved():
                self._bring_back(saved)

    def end_streams(self) -> None:
        """Stop every system at its next slice and end every StreamOutputs call
        (the server is stopping)."""
        with self._lock:
            hosted = list(self._systems.values())
        for h in hosted:
            h.closing.set()
            h.close_streams()

    def close(self) -> None:
        """Stop and free every system, waiting at most CLOSE_WAIT seconds in all;
        with a state directory, each is checkpointed there first."""
        with self._lock:
            hosted, self._systems = list(self._systems.values()), {}
        deadline = time.monotonic() + CLOSE_WAIT
        for h in hosted:
            h.close(max(0.0, deadline - time.monotonic()), forget=False)
        if self.state_dir is not None:
            self.state_dir.close()

    def hosted_systems(self) -> list[HostedSystem]:
        """The hosted systems, oldest first (for the live view, which only reads them)."""
        with self._lock:
            return list(self._systems.values())

    def _get(self, system_id: str) -> HostedSystem:
        require_id(system_id, "system_id")
        with self._lock:
            hosted = self._systems.get(system_id)
        if hosted is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"system_id: no system {system_id!r}")
        return hosted

    # -- creating -----------------------------------------------------------------

    def CreateSystem(self, request, context):
        with call_status(context), self._slot():        # a slot is held while the file loads
            return self._create(request)

    @contextlib.contextmanager
    def _slot(self):
        """Hold one of the ``max_systems`` slots while a client's file is read."""
        with self._lock:
            if len(self._systems) + self._creating >= self.max_systems:
                raise exceeded(self.quotas, "max_systems",
                               f"{len(self._systems) + self._creating} systems exist or are being "
                               "read; terminate one first")
            self._creating += 1
        try:
            yield
        finally:
            with self._lock:
                self._creating -= 1

    def _create(self, request, system_id: str | None = None) -> pb.SystemInfo:
        system, workdir, budget = self._loader.load(request)
        if request.name:
            system.name = request.name
        hosted = HostedSystem(system_id or uuid.uuid4().hex, system, workdir, budget,
                              self.quotas, durable=self.state_dir)
        info = self._info(hosted)
        if self.state_dir is not None and system_id is None:
            self.state_dir.created(hosted.id, request)
            unsaveable = [c.name for c in info.components if not c.can_serialize_state]
            if unsaveable:
                warning = (f"components {', '.join(unsaveable)} cannot serialize their state: "
                           "the system cannot be checkpointed, and a restarted server brings "
                           "it back failed")
                log.warning("system %s: %s", hosted.id, warning)
                info.warnings.append(warning)
        with self._lock:
            self._systems[hosted.id] = hosted
        log.info("system %r created as %s", system.name, hosted.id)
        return info

    # -- coming back after a restart ----------------------------------------------------

    def _bring_back(self, saved: Saved) -> None:
        """Rebuild a system kept in the state directory (see :mod:`cosim.rpc.revival`)."""
        def create(request) -> HostedSystem:
            self._create(request, saved.system_id)
            return self._systems[saved.system_id]

        bring_back(saved, create, lambda h, request: self._initialize(h, request, keep=False))

    def _tick(self) -> None:
        """Have every system that changed write its checkpoint when it is due,
        also when no command comes to it."""
        assert self.state_dir is not None
        every = self.state_dir.checkpoint_every
        while True:
            time.sleep(min(every, 1.0))
            with self._lock:
                hosted = list(self._systems.values())
            for h in hosted:
                if h.changed:
                    h.post(lambda h: None)      # the command's end checkpoints when due

    def CheckSystem(self, request, context):
        with call_status(context):
            with self._slot():          # reading takes a slot, as creating does
                problems = self._loader.check(request)
            return pb.SystemCheck(problems=[pb.Problem(severity=severity, location=location,
                                                       message=message)
                                            for severity, location, message in problems])

    def _info(self, hosted: HostedSystem) -> pb.SystemInfo:
        from cosim.analysis import flatten
        flat = flatten(hosted.system)
        components = []
        for name, model in flat.components.items():
            components.append(pb.ComponentInfo(
                name=name, inputs=[v.name for v in model.inputs],
                outputs=[v.name for v in model.outputs],
                parameters=[v.name for v in model.parameters],
                can_serialize_state=bool(getattr(model, "can_serialize_state", False))))
        experiment = hosted.system.default_experiment
        return pb.SystemInfo(system_id=hosted.id, name=hosted.name, components=components,
                             default_step_size=experiment.get("step_size") or 0.0,
                             default_stop_time=experiment.get("stop_time") or 0.0)

    def ListSystems(self, request, context):
        with self._lock:
            hosted = list(self._systems.values())
        return pb.ListSystemsReply(systems=[h.status() for h in hosted])

    # -- running ------------------------------------------------------------------

    def Initialize(self, request, context):
        with call_status(context):
            if request.step_size:
                finite(request.step_size, "step_size", positive=True)
            check_times(request)
            if request.algorithm and request.algorithm not in ALGORITHMS:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                                   f"got {request.algorithm!r}")
            check_names(request.record, "record")
            named(request.parameters, "parameters")
            check_live_inputs(request.live_inputs)
            hosted = self._get(request.system_id)
            return hosted.do(lambda h: self._initialize(h, request), context)

    def _initialize(self, h: HostedSystem, request, *, keep: bool = True) -> pb.SystemStatus:
        """Initialize ``h`` as ``request`` says; ``keep``: note the request in
        the state directory and write the first checkpoint."""
        if h.state != S.SYSTEM_STATE_CREATED:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {h.id} is already initialized")
        experiment = h.system.default_experiment
        step_size = request.step_size or experiment.get("step_size")
        if not step_size or not 0 < step_size < math.inf:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               "step_size: the system has no default step size; give one")
        algorithm = request.algorithm or experiment.get("algorithm") or "jacobi"
        system = h.system
        if request.parameters:          # on a copy: a refused request changes nothing
            system = copy.deepcopy(h.system)
        for item in request.parameters:
            try:
                system.set_parameter(item.name, _plain(item.value, item.name))
            except CosimError as exc:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        stop = request.stop_time if request.HasField("stop_time") else None
        h.sim = Simulation(system, step_size=step_size, start_time=request.start_time,
                           stop_time=stop, algorithm=algorithm, record=list(request.record) or None,
                           isolate=self.isolate, call_timeout=self.call_timeout,
                           memory_limit=self.memory_limit)
        h.sim.result.keep_rows = self.quotas.max_rows
        try:
            h.twin = _live_twin(h.sim, request)
        except CosimError as exc:
            h.sim.stop()
            h.sim = None
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        h.state = S.SYSTEM_STATE_RUNNING
        if keep and self.state_dir is not None:
            self.state_dir.initialized(h.id, request)
            h.changed = True
            h.checkpoint()
        h.broadcast()
        return h.status()

    def Step(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            if not 0 < request.steps <= MAX_STEPS:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"steps must be 1 to {MAX_STEPS} per call, got {request.steps}")

            def step(h: HostedSystem):
                h.require_running()
                h.check_steps(request.steps)      # refused whole, before any step
                left = [request.steps]

                def some(k: int) -> bool:
                    n = min(k, left[0])
                    h.step(n)
                    left[0] -= n
                    return left[0] == 0

                h.advance(some, context)
                return h.status()

            return hosted.do(step, context)

    def RunUntil(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            target = finite(request.time, "time", minimum=0.0)

            def check(h: HostedSystem):
                sim = h.require_running()
                if target < sim.time:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"time {target:g} s is before the current time {sim.time:g} s")
                if sim.stop_time is not None and target > sim.stop_time:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"time {target:g} s is after the stop time {sim.stop_time:g} s")
                return sim.time

            start = hosted.do(check, context)
            if hosted.twin is not None:
                yield from self._run_live(hosted, start, target, context)
                return
            slice_ = max((target - start) / PROGRESS_POINTS, hosted.sim.step_size)
            now = start
            while now < target:
                if not context.is_active():
                    return                    # the client cancelled: stop where we are
                goal = min(target, now + slice_)
                now = hosted.do(lambda h, g=goal: _run_until(h, g, context), context)
                yield pb.Progress(time=now, target_time=target, done=now >= target)
            if now >= target and start >= target:
                yield pb.Progress(time=now, target_time=target, done=True)

    @staticmethod
    def _run_live(hosted: HostedSystem, start: float, target: float, context):
        """Step a live system one communication point per command, so that
        other requests are served between points; the real-time wait happens
        here, off the system's thread."""
        twin = hosted.twin
        assert twin is not None         # only live systems come here
        pacer = twin.pacer
        if pacer is not None:
            # The wall clock restarts here; the statistics go on.
            hosted.do(lambda h: h.twin.start_pacing(keep_stats=True), context)
        step = hosted.require_running().step_size
        half = 0.5 * step
        every = max(1, round((target - start) / step / PROGRESS_POINTS))
        now, points = start, 0
        while now + half <= target:
            if not context.is_active():
                return
            batch = 1
            if pacer is not None and pacer.overrun == "skip":   # behind: overdue points in one go
                batch += min(pacer.overdue(), int((target - now + half) // step) - 1)
            now = hosted.now(lambda h, n=batch: (h.advance(lambda k: (h.step(n), True)[1]),
                                                 h.sim.time)[1])
            if pacer is not None:
                twin.pace()                 # outside the lock: requests are served meanwhile
            points += batch
            if points % every < batch or now + half > target:
                yield pb.Progress(time=now, target_time=target, done=now + half > target)
        if points == 0:
            yield pb.Progress(time=now, target_time=target, done=True)

    def SetValues(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            named(request.values, "values")
            return hosted.do(lambda h: (self._set(h, request.values), h.status())[1], context)

    def _set(self, h: HostedSystem, items) -> int:
        sim = h.require_running()
        for item in items:
            try:
                var = sim.variable(item.name)
                value = from_value(item.value, var.type, item.name)
            except ValueError as exc:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
            sim.set(item.name, value)
        return len(items)

    def GetValues(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            check_names(request.names, "names")

            def get(h: HostedSystem):
                sim = h.require_running()
                values = [NamedValue(name=name, value=to_value(sim.get(name), sim.variable(name).type))
                          for name in request.names]
                return pb.GetValuesReply(time=sim.time, values=values)

            # A live system answers at once between two points; others in turn.
            return hosted.now(get) if hosted.twin is not None else hosted.do(get, context)

    def StreamOutputs(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            check_names(request.names, "names")

            def subscribe(h: HostedSystem):
                sim = h.require_running()
                names = list(request.names) or sim.result.names
                missing = [n for n in names if n not in sim.result]
                if missing:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"names: not recorded: {', '.join(missing)} "
                                       "(record them at Initialize)")
                columns = [sim.result.names.index(sim.result.column(n)) for n in names]
                return h.subscribe(columns, context), names

            subscriber, names = hosted.do(subscribe, context)
            try:
                yield from _stream(subscriber, names, context)
            finally:
                hosted.unsubscribe(subscriber)

    def StreamInputs(self, request_iterator, context):
        with call_status(context):
            samples = values = 0
            for sample in request_iterator:
                hosted = self._get(sample.system_id)
                if sample.HasField("time") or sample.batches:
                    # the live store counts bad samples (NaN, unknown names) and goes on
                    values += self._push_live(hosted, sample)
                else:
                    named(sample.values, "values")
                    values += hosted.do(lambda h, items=sample.values: self._set(h, items), context)
                samples += 1
            return pb.StreamInputsReply(samples=samples, values=values)

    @staticmethod
    def _push_live(hosted: HostedSystem, sample) -> int:
        """Queue timestamped values for the live inputs (no wait for the system's
        thread; bad values are counted by the twin's store, not raised)."""
        twin = hosted.twin
        if twin is None:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {hosted.id} has no live inputs; name them in "
                               "Initialize live_inputs to send timestamped samples")
        count = 0
        if sample.HasField("time"):
            for item in sample.values:
                kind = item.value.WhichOneof("kind")
                value = getattr(item.value, kind) if kind else None
                twin.store.push(item.name, sample.time, value)
            count = len(sample.values)
        elif sample.values:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               "an input sample with batches and untimed values mixes live and "
                               "immediate inputs; send them in separate samples")
        for batch in sample.batches:
            # A batch whose lengths differ is counted as malformed by the store.
            twin.store.push_many(batch.name, list(batch.times), list(batch.values))
            count += len(batch.values)
        return count

    def GetLiveReport(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            return hosted.do(_live_report, context)

    # -- state ----------------------------------------------------------------------

    def Snapshot(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)

            def snapshot(h: HostedSystem):
                snap = h.require_running().snapshot()
                snapshot_id = uuid.uuid4().hex
                h.snapshots[snapshot_id] = snap
                return pb.SnapshotReply(snapshot_id=snapshot_id, time=snap.time)

            return hosted.do(snapshot, context)

    def Restore(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            require_id(request.snapshot_id, "snapshot_id")

            def restore(h: HostedSystem):
                sim = h.require_running()
                snap = h.snapshots.get(request.snapshot_id)
                if snap is None:
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"snapshot_id: system {h.id} "
                                       f"has no snapshot {request.snapshot_id!r}")
                sim.restore(snap)
                h.rows_sent = sim.result.total
                return h.status()

            return hosted.do(restore, context)

    def Terminate(self, request, context):
        """Stop and forget a system; a busy one is answered within about
        TERMINATE_WAIT seconds (its step in progress ends at the next slice)."""
        with call_status(context):
            require_id(request.system_id, "system_id")
            with self._lock:
                hosted = self._systems.pop(request.system_id, None)
            if hosted is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND,
                                   f"system_id: no system {request.system_id!r}")
            if self.state_dir is not None:      # gone for good, even if the server dies now
                hosted.forgotten = True
                self.state_dir.forget(hosted.id)
            hosted.close(TERMINATE_WAIT)
            log.info("system %s terminated", hosted.id)
            status = hosted.status()
            status.state = S.SYSTEM_STATE_TERMINATED
            return status


def _run_until(h: HostedSystem, goal: float, context) -> float:
    """Step ``h`` toward the communication point at or after ``goal``, in slices,
    for at most PROGRESS_SECONDS (the client hears of progress, and the other
    clients' calls run, at least that often)."""
    sim = h.require_running()
    step = sim.step_size
    until = time.monotonic() + PROGRESS_SECONDS

    def some(k: int) -> bool:
        if sim.time + k * step >= goal:
            sim.run_until(goal)
            return True
        sim.run_until(sim.time + k * step)
        return time.monotonic() > until

    h.advance(some, context)
    return sim.time


def _stream(subscriber, names: list[str], context):
    """The rows offered to ``subscriber``, one OutputRow each, until the system
    ends its streams or the client goes."""
    context.add_callback(lambda: subscriber.queue.put(None))      # the client went away
    first = True
    while context.is_active():
        try:
            item = subscriber.queue.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        if isinstance(item, Exception):
            raise item
        times, rows = item
        with subscriber.lock:
            subscriber.backlog -= len(times)
            subscriber.sending = True
        for t, row in zip(times.tolist(), rows[:, subscriber.columns].tolist()):
            yield pb.OutputRow(names=names if first else (), time=t, values=row)
            first = False
        with subscriber.lock:
            subscriber.sending = False


def _live_twin(sim: Simulation, request):
    """A LiveTwin for a system initialized with live inputs or a real-time factor."""
    factor = request.realtime_factor
    if not request.live_inputs and not factor:
        return None
    if factor < 0:
        raise ConfigurationError(f"realtime_factor must be >= 0, got {factor}")
    from cosim.live.twin import Binding, LiveTwin
    bindings = [Binding(item.name, item.name, policy=item.policy or "hold",
                        max_age=item.max_age or None) for item in request.live_inputs]
    return LiveTwin(sim, bindings=bindings, realtime=factor or False,
                    overrun=request.overrun or "skip", max_lead=None)


def _live_report(h: HostedSystem) -> pb.LiveReport:
    h.require_running()
    twin = h.twin
    if twin is None:
        raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"system {h.id} is neither live nor real time")
    kept = sum(s.received for s in twin.store.stats().values())
    report = pb.LiveReport(time=twin.time, points=twin.points, samples=kept,
                           rejected=dict(twin.store.rejected),
                           problems=list(twin.store.problems),
                           stale_inputs=[s.target for s in twin.status if s.stale],
                           text=twin.report())
    if twin.pacer is not None:
        stats = twin.pacer.stats()
        for field in ("lateness_p50", "lateness_p99", "lateness_max",
                      "jitter_p50", "jitter_p99", "jitter_max", "overruns"):
            setattr(report, field, getattr(stats, field))
    return report


def _plain(message, what: str):
    """A Value as the Python value of its own kind (for parameters, whose type
    the system checks when they are set)."""
    kind = message.WhichOneof("kind")
    if kind is None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"{what}: no value given")
    return getattr(message, kind)
