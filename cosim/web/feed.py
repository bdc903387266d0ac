"""The live view's data feed: one thread that looks at every hosted system a
few times a second and keeps what the pages show.

Pages never touch a system: they read the snapshots and taps kept here.  A
snapshot is taken between slices (the figures of the live report are read
on the system's thread, as GetLiveReport reads them), and rows reach the
view through a :class:`~cosim.web.tap.Tap` attached to the run, so the
stepping loop does no per-step work for the view.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field

from cosim.web.actions import ActionError, Controls
from cosim.web.tap import Tap

__all__ = ["Feed", "SystemSnapshot", "Topology"]

log = logging.getLogger("cosim.web")

POLL_SECONDS = 0.25
# Rows kept of those recorded between two looks, at most, and rows read to pick them from.
ROWS_PER_LOOK = 250
ROWS_READ = 20_000
# A look waits this long for the system's current slice to end, then tries at the next look.
LOCK_WAIT = 0.2
# Looks between two reads of a live system's pacing figures: computing them
# (percentiles over every point) holds the system for a moment.
PACING_EVERY = 4
# A system with new overruns is shown late for this long (seconds).
LATE_SHOWN = 3.0
STATES = {0: "unspecified", 1: "created", 2: "initialized", 3: "failed", 4: "terminated"}


@dataclass
class Topology:
    """The components of a system (flattened) and its connections between them."""

    components: list[str]
    connections: list[tuple[str, str, str]]      # (source component, target component, label)


@dataclass
class SystemSnapshot:
    """What the view shows of one system, as of one look."""

    id: str
    name: str
    state: str
    time: float = 0.0
    steps: int = 0
    error: str = ""
    running: bool = False
    live: bool = False
    realtime_factor: float = math.nan     # measured: simulated seconds per wall second
    lateness_p50: float = math.nan
    lateness_p99: float = math.nan
    jitter_p50: float = math.nan
    jitter_p99: float = math.nan
    overruns: int = 0
    rejected: int = 0
    stale_inputs: list[str] = field(default_factory=list)
    health: dict[str, str] = field(default_factory=dict)    # component -> ok/stale/late/failed


def topology(system) -> Topology:
    """The flattened components of ``system`` and its component-to-component connections."""
    from cosim.analysis import flatten
    flat = flatten(system)
    components = list(flat.components)
    edges = []
    for source, target in flat.connections:
        a, _, out = source.partition(".")
        b, _, inp = target.partition(".")
        if a in flat.components and b in flat.components:
            edges.append((a, b, f"{out} -> {inp}"))
    return Topology(components, edges)


def component_of(name: str, components) -> str | None:
    """The component a ``component.variable`` reference belongs to (dotted names included)."""
    best = None
    for c in components:
        if name.startswith(c + ".") and (best is None or len(c) > len(best)):
            best = c
    return best


class _Watched:
    """What the feed keeps of one hosted system between looks."""

    def __init__(self, hosted):
        self.hosted = hosted
        self.topology = topology(hosted.system)
        self.tap = Tap(keep=8000, per_chunk=ROWS_PER_LOOK)
        self.tapped = None                  # the Simulation the tap follows
        self.cursor = 0                     # rows of its result the tap was given
        self.snapshot = SystemSnapshot(hosted.id, hosted.name, STATES.get(hosted.state, "?"))
        self.last = (math.nan, math.nan)    # (wall, simulation time) of the last look
        self.looks = 0
        self.overruns = 0
        self.late_until = -math.inf


class Feed:
    """Looks at the systems of an Orchestrator service every POLL_SECONDS."""

    def __init__(self, service, controls: Controls):
        self.service = service
        self.controls = controls
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cosim-web-feed", daemon=True)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    # -- read by the pages ------------------------------------------------------------

    def systems(self) -> list[SystemSnapshot]:
        with self._lock:
            return [w.snapshot for w in self._watched.values()]

    def watched(self, system_id: str) -> _Watched | None:
        with self._lock:
            return self._watched.get(system_id)

    def discover(self) -> None:
        """Start watching the systems created since the last look, without
        looking at them (a page opened right after a system was created
        finds it; its figures follow at the next look)."""
        self._adopt({h.id: h for h in self.service.hosted_systems()})

    # -- the thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._look_all()
            except Exception:          # noqa: BLE001 - the view must outlive one bad look
                log.exception("the live view could not read the systems")
            self._stop.wait(POLL_SECONDS)

    def _adopt(self, hosted: dict) -> None:
        with self._lock:
            new = [h for k, h in hosted.items() if k not in self._watched]
        for h in new:
            watched = _Watched(h)
            with self._lock:
                self._watched.setdefault(h.id, watched)

    def _look_all(self) -> None:
        """Look at every system (on the feed's thread only: a look moves the
        system's cursor)."""
        hosted = {h.id: h for h in self.service.hosted_systems()}
        with self._lock:
            for gone in set(self._watched) - set(hosted):
                del self._watched[gone]
        self._adopt(hosted)
        with self._lock:
            watched_now = list(self._watched.values())
        for w in watched_now:
            self._look(w)

    def _look(self, w: _Watched) -> None:
        h = w.hosted
        sim = h.sim
        if sim is not None:
            try:
                self._rows(w, sim)
            except Exception as exc:   # noqa: BLE001 - a terminated system: shown as such
                log.debug("system %s: no rows (%s)", h.id, exc)
        snap = SystemSnapshot(h.id, h.name, STATES.get(h.state, "?"), error=h.error,
                              running=self.controls.running(h.id), live=h.twin is not None)
        if sim is not None:
            snap.time, snap.steps = sim.time, sim.step_index
        wall = time.monotonic()
        then, t_then = w.last
        if snap.time > t_then and wall > then:
            snap.realtime_factor = (snap.time - t_then) / (wall - then)
        elif snap.running or math.isnan(then):
            snap.realtime_factor = math.nan
        else:
            snap.realtime_factor = 0.0
        w.last = (wall, snap.time)
        if h.twin is not None and h.state == 2:
            if w.looks % PACING_EVERY == 0:
                self._pacing(w, snap)
            else:
                self._keep_pacing(w.snapshot, snap)
        w.looks += 1
        snap.health = self._health(w, snap)
        w.snapshot = snap

    def _rows(self, w: _Watched, sim) -> None:
        """Give the tap the rows recorded since the last look: read between two
        slices (the system's lock held for a copy), or, for a twin its program
        steps, from the tap attached to its run."""
        h = w.hosted
        if w.hosted.id in self.controls.external:
            if w.tapped is not sim:
                sim.observe(w.tap)
                w.tapped = sim
            return
        if w.tapped is not sim:
            w.tap.started(sim.result)
            w.tapped, w.cursor = sim, 0

        if not h.step_lock.acquire(timeout=LOCK_WAIT):
            return                  # a long call holds the system: its rows wait for the next look
        try:
            if h.closing.is_set():
                return
            result = sim.result
            if result.total < w.cursor:             # restored to an earlier state
                w.tap.rewound(sim.time)
                w.cursor = 0
            times, rows = result.since(max(w.cursor, result.total - ROWS_READ))
            w.cursor = result.total
        finally:
            h.step_lock.release()
        if len(times):
            w.tap.take(times, rows)

    def _pacing(self, w: _Watched, snap: SystemSnapshot) -> None:
        try:
            report = self.controls.live_report(w.hosted.id, timeout=LOCK_WAIT)
        except ActionError as exc:
            log.debug("system %s: no live report (%s)", w.hosted.id, exc)
            return
        for name in ("lateness_p50", "lateness_p99", "jitter_p50", "jitter_p99"):
            setattr(snap, name, getattr(report, name))
        snap.overruns = report.overruns
        snap.rejected = sum(report.rejected.values())
        snap.stale_inputs = list(report.stale_inputs)

    @staticmethod
    def _keep_pacing(old: SystemSnapshot, new: SystemSnapshot) -> None:
        for name in ("lateness_p50", "lateness_p99", "jitter_p50", "jitter_p99", "overruns",
                     "rejected", "stale_inputs"):
            setattr(new, name, getattr(old, name))

    def _health(self, w: _Watched, snap: SystemSnapshot) -> dict[str, str]:
        components = w.topology.components
        health = dict.fromkeys(components, "ok")
        now = time.monotonic()
        if snap.overruns > w.overruns:          # late within the last LATE_SHOWN seconds
            w.late_until = now + LATE_SHOWN
        w.overruns = snap.overruns
        late = now < w.late_until
        for c in components:
            if late:
                health[c] = "late"
        for name in snap.stale_inputs:
            c = component_of(name, components)
            if c is not None:
                health[c] = "stale"
        if snap.state == "failed":
            named = [c for c in components if c in snap.error]
            for c in named or components:
                health[c] = "failed"
        return health
