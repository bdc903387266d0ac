"""The Orchestrator service: systems created, stepped and observed over gRPC.

Every hosted system has its own thread: commands from any client are queued
to it and run one at a time, so systems run side by side without sharing
state, and a system is only ever touched by one thread.  Outputs are
broadcast to every open StreamOutputs call after each command that steps.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import queue
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from cosim.errors import ConfigurationError, CosimError, FmiCallError
from cosim.execution import ALGORITHMS, Simulation
from cosim.rpc.common import RequestError, call_status, from_value, to_value
from cosim.rpc.loading import Loader
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1 import orchestrator_pb2_grpc
from cosim.v1.values_pb2 import NamedValue

__all__ = ["OrchestratorService"]

log = logging.getLogger("cosim.rpc")

S = pb.SystemState
# Rows a StreamOutputs client may fall behind by before its stream is ended.
MAX_QUEUED_ROWS = 100_000
# RunUntil reports progress (and can be cancelled) at about this many points.
PROGRESS_POINTS = 100
# What the SSP archive and FMUs of one system may unpack to, by default.
MAX_UNPACKED_BYTES = 1024**3


class _Hosted:
    """A system on the server: its System, its Simulation once initialized,
    its command thread, its output subscribers and its snapshots."""

    def __init__(self, system_id: str, system, workdir: str | None):
        self.id = system_id
        self.system = system
        self.name = system.name
        self.sim: Simulation | None = None
        self.twin = None                  # a LiveTwin when live or real time
        self.state = S.SYSTEM_STATE_CREATED
        self.error = ""
        self.workdir = workdir
        self.snapshots: dict = {}
        self.subscribers: list = []       # [(queue, column indices)]
        self.rows_sent = 0
        self.lock = threading.Lock()      # guards subscribers
        self.step_lock = threading.RLock()  # one command or live point at a time
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"cosim-{system_id[:8]}")

    def do(self, command):
        """Run ``command(self)`` on the system's thread and return its result."""
        return self._thread.submit(self.now, command).result()

    def now(self, command):
        """Run ``command(self)`` in the calling thread, one command at a time.

        A live system's points and reads run this way, off the system's
        thread, to spare a thread hand-over per communication point; the
        lock keeps them and the queued commands from overlapping.
        """
        with self.step_lock:
            return command(self)

    def status(self) -> pb.SystemStatus:
        sim = self.sim
        return pb.SystemStatus(system_id=self.id, name=self.name, state=self.state,
                               time=sim.time if sim is not None else 0.0,
                               steps=sim.step_index if sim is not None else 0, error=self.error)

    # -- on the system's thread ---------------------------------------------------

    def require_running(self) -> Simulation:
        if self.state == S.SYSTEM_STATE_CREATED:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {self.id} is not initialized (call Initialize)")
        if self.state == S.SYSTEM_STATE_FAILED:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"system {self.id} has failed: {self.error}")
        if self.state == S.SYSTEM_STATE_TERMINATED:
            raise RequestError(grpc.StatusCode.ABORTED, f"system {self.id} was terminated")
        return self.sim

    def advance(self, step) -> None:
        """Run ``step()`` on the simulation; record a failure; broadcast new rows."""
        self.require_running()
        try:
            step()
        except FmiCallError as exc:
            self.state, self.error = S.SYSTEM_STATE_FAILED, str(exc)
            self.broadcast(final=True)
            raise
        self.broadcast()

    def broadcast(self, *, final: bool = False) -> None:
        result = self.sim.result if self.sim is not None else None
        if result is not None and result.total > self.rows_sent:
            with self.lock:
                if self.subscribers:
                    times, rows = result.since(self.rows_sent)
                    for subscriber in list(self.subscribers):
                        self._offer(subscriber, (times, rows))
            self.rows_sent = result.total
        if final:
            self.close_streams()

    def _offer(self, subscriber, item) -> None:
        q, _ = subscriber
        try:
            q.put_nowait(item)
        except queue.Full:
            self.subscribers.remove(subscriber)
            q.queue.clear()
            q.put_nowait(RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                      "outputs were produced faster than this stream read them"))

    def close_streams(self) -> None:
        with self.lock:
            for q, _ in self.subscribers:
                q.put(None)
            self.subscribers.clear()

    def step(self, n: int) -> None:
        """``n`` communication steps, through the live twin when there is one."""
        sim = self.sim
        if self.twin is None:
            sim.step(n)
            return
        if sim.stop_time is not None and sim.time + (n - 0.5) * sim.step_size > sim.stop_time:
            raise ConfigurationError(f"{n} steps from t={sim.time:g} s would pass the stop time "
                                     f"{sim.stop_time:g} s")
        for _ in range(n):
            self.twin.step(wait=False)

    def shutdown(self) -> None:
        if self.twin is not None:
            self.twin.close()
        if self.sim is not None:
            self.sim.stop()
        self.close_streams()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


class OrchestratorService(orchestrator_pb2_grpc.OrchestratorServicer):
    """Hosts systems for clients.

    Server-side paths must lie under ``root``, and so must every file a
    system read from such a path refers to; a system sent as an ``.ssp``
    archive may refer only to files inside it.  Its archive and FMUs may
    unpack to at most ``max_unpacked_bytes`` together.  At most
    ``max_systems`` systems exist at once.  Components behind gRPC endpoints
    (which the server would call with its own token) are refused unless
    ``allow_remote_components``.
    """

    def __init__(self, *, root=".", max_systems: int = 16,
                 max_unpacked_bytes: int = MAX_UNPACKED_BYTES, allow_remote_components: bool = False):
        if max_unpacked_bytes <= 0:
            raise ConfigurationError(f"max_unpacked_bytes must be > 0, got {max_unpacked_bytes}")
        self.root = Path(root).resolve()
        self.max_systems = max_systems
        self.max_unpacked_bytes = max_unpacked_bytes
        self._loader = Loader(self.root, max_unpacked_bytes=max_unpacked_bytes,
                              allow_remote=allow_remote_components)
        self._systems: dict[str, _Hosted] = {}
        self._creating = 0
        self._lock = threading.Lock()

    def end_streams(self) -> None:
        """End every StreamOutputs call (the server is stopping)."""
        with self._lock:
            hosted = list(self._systems.values())
        for h in hosted:
            h.close_streams()

    def close(self) -> None:
        with self._lock:
            hosted, self._systems = list(self._systems.values()), {}
        for h in hosted:
            h.do(_Hosted.shutdown)

    def _get(self, system_id: str) -> _Hosted:
        with self._lock:
            hosted = self._systems.get(system_id)
        if hosted is None:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"no system {system_id!r}")
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
                raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   f"{self.max_systems} systems exist; terminate one first")
            self._creating += 1
        try:
            yield
        finally:
            with self._lock:
                self._creating -= 1

    def _create(self, request) -> pb.SystemInfo:
        system, workdir = self._loader.load(request)
        if request.name:
            system.name = request.name
        hosted = _Hosted(uuid.uuid4().hex, system, workdir)
        with self._lock:
            self._systems[hosted.id] = hosted
        log.info("system %r created as %s", system.name, hosted.id)
        return self._info(hosted)

    def CheckSystem(self, request, context):
        with call_status(context):
            with self._slot():          # reading takes a slot, as creating does
                problems = self._loader.check(request)
            return pb.SystemCheck(problems=[pb.Problem(severity=severity, location=location,
                                                       message=message)
                                            for severity, location, message in problems])

    def _info(self, hosted: _Hosted) -> pb.SystemInfo:
        from cosim.analysis import flatten
        flat = flatten(hosted.system)
        components = []
        for name, model in flat.components.items():
            components.append(pb.ComponentInfo(
                name=name, inputs=[v.name for v in model.inputs],
                outputs=[v.name for v in model.outputs],
                parameters=[v.name for v in model.parameters]))
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
            hosted = self._get(request.system_id)

            def initialize(h: _Hosted):
                if h.state != S.SYSTEM_STATE_CREATED:
                    raise RequestError(grpc.StatusCode.FAILED_PRECONDITION,
                                       f"system {h.id} is already initialized")
                experiment = h.system.default_experiment
                step_size = request.step_size or experiment.get("step_size")
                if not step_size or not 0 < step_size < math.inf:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"step_size must be a finite number > 0, got {request.step_size}")
                _check_times(request)
                algorithm = request.algorithm or experiment.get("algorithm") or "jacobi"
                if algorithm not in ALGORITHMS:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"algorithm must be one of {', '.join(ALGORITHMS)}, "
                                       f"got {algorithm!r}")
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
                                   stop_time=stop, algorithm=algorithm,
                                   record=list(request.record) or None)
                try:
                    h.twin = _live_twin(h.sim, request)
                except CosimError as exc:
                    h.sim.stop()
                    h.sim = None
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
                h.state = S.SYSTEM_STATE_RUNNING
                h.broadcast()
                return h.status()

            return hosted.do(initialize)

    def Step(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            if request.steps <= 0:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"steps must be > 0, got {request.steps}")

            def step(h: _Hosted):
                h.advance(lambda: h.step(request.steps))
                return h.status()

            return hosted.do(step)

    def RunUntil(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)
            target = request.time
            if not math.isfinite(target):
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"time must be a finite number of seconds, got {target}")

            def check(h: _Hosted):
                sim = h.require_running()
                if target < sim.time:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"time {target:g} s is before the current time {sim.time:g} s")
                if sim.stop_time is not None and target > sim.stop_time:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"time {target:g} s is after the stop time {sim.stop_time:g} s")
                return sim.time

            start = hosted.do(check)
            if hosted.twin is not None:
                yield from self._run_live(hosted, start, target, context)
                return
            slice_ = max((target - start) / PROGRESS_POINTS, hosted.sim.step_size)
            now = start
            while now < target:
                if not context.is_active():
                    return                    # the client cancelled: stop where we are
                goal = min(target, now + slice_)
                now = hosted.do(lambda h: (h.advance(lambda: h.sim.run_until(goal)), h.sim.time)[1])
                yield pb.Progress(time=now, target_time=target, done=now >= target)
            if now >= target and start >= target:
                yield pb.Progress(time=now, target_time=target, done=True)

    @staticmethod
    def _run_live(hosted: _Hosted, start: float, target: float, context):
        """Step a live system one communication point per command, so that
        other requests are served between points; the real-time wait happens
        here, off the system's thread."""
        twin = hosted.twin
        pacer = twin.pacer
        if pacer is not None:
            # The wall clock restarts here; the statistics go on.
            hosted.do(lambda h: h.twin.start_pacing(keep_stats=True))
        step = hosted.sim.step_size
        half = 0.5 * step
        every = max(1, round((target - start) / step / PROGRESS_POINTS))
        now, points = start, 0
        while now + half <= target:
            if not context.is_active():
                return
            batch = 1
            if pacer is not None and pacer.overrun == "skip":   # behind: overdue points in one go
                batch += min(pacer.overdue(), int((target - now + half) // step) - 1)
            now = hosted.now(lambda h, n=batch: (h.advance(lambda: h.step(n)), h.sim.time)[1])
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
            return hosted.do(lambda h: (self._set(h, request.values), h.status())[1])

    def _set(self, h: _Hosted, items) -> int:
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

            def get(h: _Hosted):
                sim = h.require_running()
                values = [NamedValue(name=name, value=to_value(sim.get(name), sim.variable(name).type))
                          for name in request.names]
                return pb.GetValuesReply(time=sim.time, values=values)

            # A live system answers at once between two points; others in turn.
            return hosted.now(get) if hosted.twin is not None else hosted.do(get)

    def StreamOutputs(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)

            def subscribe(h: _Hosted):
                sim = h.require_running()
                names = list(request.names) or sim.result.names
                missing = [n for n in names if n not in sim.result]
                if missing:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"not recorded: {', '.join(missing)} (record them at Initialize)")
                columns = [sim.result.names.index(sim.result.column(n)) for n in names]
                q = queue.Queue(maxsize=MAX_QUEUED_ROWS)
                with h.lock:
                    h.subscribers.append((q, columns))
                return q, columns, names

            q, columns, names = hosted.do(subscribe)
            context.add_callback(lambda: q.put(None))      # the client went away
            first = True
            while True:
                item = q.get()
                if item is None or not context.is_active():
                    break
                if isinstance(item, RequestError):
                    raise item
                times, rows = item
                for t, row in zip(times.tolist(), rows[:, columns].tolist()):
                    yield pb.OutputRow(names=names if first else (), time=t, values=row)
                    first = False
            with hosted.lock:
                hosted.subscribers[:] = [s for s in hosted.subscribers if s[0] is not q]

    def StreamInputs(self, request_iterator, context):
        with call_status(context):
            samples = values = 0
            for sample in request_iterator:
                hosted = self._get(sample.system_id)
                if sample.HasField("time") or sample.batches:
                    values += self._push_live(hosted, sample)
                else:
                    values += hosted.do(lambda h, items=sample.values: self._set(h, items))
                samples += 1
            return pb.StreamInputsReply(samples=samples, values=values)

    @staticmethod
    def _push_live(hosted: _Hosted, sample) -> int:
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
            return hosted.do(_live_report)

    # -- state ----------------------------------------------------------------------

    def Snapshot(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)

            def snapshot(h: _Hosted):
                snap = h.require_running().snapshot()
                snapshot_id = uuid.uuid4().hex
                h.snapshots[snapshot_id] = snap
                return pb.SnapshotReply(snapshot_id=snapshot_id, time=snap.time)

            return hosted.do(snapshot)

    def Restore(self, request, context):
        with call_status(context):
            hosted = self._get(request.system_id)

            def restore(h: _Hosted):
                sim = h.require_running()
                snap = h.snapshots.get(request.snapshot_id)
                if snap is None:
                    raise RequestError(grpc.StatusCode.NOT_FOUND,
                                       f"system {h.id} has no snapshot {request.snapshot_id!r}")
                sim.restore(snap)
                h.rows_sent = sim.result.total
                return h.status()

            return hosted.do(restore)

    def Terminate(self, request, context):
        with call_status(context):
            with self._lock:
                hosted = self._systems.pop(request.system_id, None)
            if hosted is None:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"no system {request.system_id!r}")

            def terminate(h: _Hosted):
                h.shutdown()
                h.state = S.SYSTEM_STATE_TERMINATED
                return h.status()

            log.info("system %s terminated", hosted.id)
            return hosted.do(terminate)


def _check_times(request) -> None:
    """Refuse start, stop and real-time factor values no run can have (NaN, inf)."""
    start = request.start_time
    if not math.isfinite(start):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"start_time must be a finite number of seconds, got {start}")
    if request.HasField("stop_time") and not start < request.stop_time < math.inf:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"stop_time must be a finite number of seconds after start_time "
                           f"({start:g}), got {request.stop_time}")
    if not math.isfinite(request.realtime_factor):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"realtime_factor must be a finite number >= 0, got {request.realtime_factor}")


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


def _live_report(h: _Hosted) -> pb.LiveReport:
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
