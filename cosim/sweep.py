"""Ensembles: what-if studies and parameter sweeps of one system, run on Dask.

Describe the members as dicts of values (full factorial :func:`grid`, a list
of scenarios, :func:`latin_hypercube` or :func:`random_sample` over ranges),
optionally with scenario :class:`Event` s (a value changed at a given time),
and run them with :func:`run_ensemble`.  Each member returns summary
metrics, not time series, unless ``output_dir`` asks for Parquet files.

Examples
--------
>>> members = grid({"spindle.speed_setpoint": [6000.0, 9000.0],
...                 "infeed.length": [8.0, 12.0]})
>>> len(members)
4
>>> ensemble = run_ensemble(line, members, stop_time=3600, step_size=1.0,   # doctest: +SKIP
...                         metrics={"wear": final("spindle.wear")})
>>> ensemble.best("wear", maximize=False)                                     # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import ConfigurationError, CosimError, did_you_mean

log = logging.getLogger("cosim")

__all__ = ["Ensemble", "Event", "Member", "Metric", "check_names", "default_metrics", "final",
           "grid", "latin_hypercube", "random_sample", "run_ensemble", "scenarios"]


# -- members ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """At ``time`` (s), set ``name`` (an input or tunable parameter) to ``value``."""

    time: float
    name: str
    value: object


@dataclass(frozen=True)
class Member:
    """One run of the ensemble: values set before the start, and events during it."""

    values: dict = field(default_factory=dict)
    events: tuple = ()

    @property
    def label(self) -> str:
        """The member's identity: its values and events, as text."""
        parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.values.items()]
        parts += [f"{e.name}={e.value}@{e.time:g}s" for e in self.events]
        return ", ".join(parts) or "base"


def _members(variations) -> list[Member]:
    out = []
    for item in variations:
        if isinstance(item, Member):
            out.append(item)
        elif isinstance(item, dict):
            out.append(Member(dict(item)))
        else:
            raise ConfigurationError(f"a member must be a dict of values or a Member, "
                                     f"not {type(item).__name__}")
    return out


def grid(axes: dict) -> list[Member]:
    """Full factorial: every combination of the values listed per name."""
    names = list(axes)
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not len(values):
            raise ConfigurationError(f"grid: {name} needs a non-empty list of values")
    return [Member(dict(zip(names, combo))) for combo in itertools.product(*axes.values())]


def scenarios(*members, events=()) -> list[Member]:
    """Named cases as dicts of values; ``events`` apply to every one of them."""
    return [Member(dict(m), tuple(events)) for m in members]


def _check_ranges(ranges: dict):
    for name, bounds in ranges.items():
        if len(bounds) != 2 or not bounds[0] < bounds[1]:
            raise ConfigurationError(f"{name}: a range is (low, high) with low < high, got {bounds!r}")
    return np.array([b[0] for b in ranges.values()], float), np.array([b[1] for b in ranges.values()], float)


def latin_hypercube(n: int, ranges: dict, *, seed=None) -> list[Member]:
    """``n`` members spread over ``ranges`` ({name: (low, high)}) by Latin hypercube sampling."""
    from scipy.stats import qmc
    low, high = _check_ranges(ranges)
    points = qmc.scale(qmc.LatinHypercube(d=len(ranges), seed=seed).random(n), low, high)
    return [Member(dict(zip(ranges, map(float, p)))) for p in points]


def random_sample(n: int, ranges: dict, *, seed=None) -> list[Member]:
    """``n`` members drawn uniformly over ``ranges`` ({name: (low, high)})."""
    low, high = _check_ranges(ranges)
    points = np.random.default_rng(seed).uniform(low, high, size=(n, len(ranges)))
    return [Member(dict(zip(ranges, map(float, p)))) for p in points]


# -- metrics ----------------------------------------------------------------------------

_REDUCERS = {
    "final": lambda t, y: y[-1],
    "initial": lambda t, y: y[0],
    "max": lambda t, y: np.max(y),
    "min": lambda t, y: np.min(y),
    "mean": lambda t, y: np.trapezoid(y, t) / (t[-1] - t[0]) if t[-1] > t[0] else y[-1],
    "integral": lambda t, y: np.trapezoid(y, t),
    "maxabs": lambda t, y: np.max(np.abs(y)),
}


@dataclass(frozen=True)
class Metric:
    """A summary of one recorded variable: ``Metric("max", "furnace.soak_deviation")``.

    ``kind`` is final, initial, max, min, mean (time-weighted), integral
    (over time) or maxabs.  ``Metric.parse("max(furnace.soak_deviation)")``
    reads the same from text.
    """

    kind: str
    variable: str

    def __post_init__(self):
        if self.kind not in _REDUCERS:
            raise ConfigurationError(f"metric kind {self.kind!r} is not one of "
                                     f"{', '.join(_REDUCERS)}")

    @classmethod
    def parse(cls, text: str) -> Metric:
        kind, _, rest = text.partition("(")
        if not rest.endswith(")") or not rest[:-1].strip():
            raise ConfigurationError(f"metric {text!r}: write KIND(component.variable), "
                                     f"KIND one of {', '.join(_REDUCERS)}")
        return cls(kind.strip(), rest[:-1].strip())

    def __call__(self, result) -> float:
        return float(_REDUCERS[self.kind](result.time, result[self.variable]))

    def __str__(self) -> str:
        return f"{self.kind}({self.variable})"


def final(variable: str) -> Metric:
    """The last recorded value of ``variable``."""
    return Metric("final", variable)


# -- names, checked before any member runs ----------------------------------------------

def _scalar_outputs(flat) -> list[str]:
    """The outputs a result records by default that a metric can reduce to a number."""
    return [flat.reference(c, v.name) for c, m in flat.components.items()
            for v in m.outputs if v.type in ("float64", "int32", "bool") and not v.shape]


def default_metrics(system, *, record=None) -> dict:
    """``{name: final(name)}`` for every variable of ``record``, or by default
    for every output of ``system`` that holds one number."""
    names = [record] if isinstance(record, str) else record
    if not names:
        from cosim.analysis import flatten
        names = _scalar_outputs(flatten(system))
    return {name: final(name) for name in names}


def check_names(system, variations, metrics=None, *, record=None) -> None:
    """Refuse names that no member could use, before any member runs.

    Every name that a member sets (its values and events) must be a parameter
    or an input of ``system`` (or one of its input ports); every
    :class:`Metric` must read a recorded variable: one of ``record``, or by
    default an output.  Metrics that are plain callables are not checked.

    Raises
    ------
    ConfigurationError
        Naming the first bad name and the close matches of it.
    """
    from cosim.analysis import flatten
    flat = flatten(system)
    for name in dict.fromkeys(name for member in _members(variations)
                              for name in [*member.values, *(e.name for e in member.events)]):
        _check_settable(flat, name)
    if record is None:
        recorded = [flat.reference(c, v.name) for c, m in flat.components.items() for v in m.outputs]
        recorded += [p for p, e in flat.port_map.items() if e["kind"] == "output"]
    else:
        recorded = [record] if isinstance(record, str) else list(record)
    for label, metric in (metrics or {}).items():
        # An array's element ("c.arr[2]") is recorded with its array.
        if isinstance(metric, Metric) and metric.variable.split("[")[0] not in recorded:
            which = "those of record=" if record is not None else "every output of the system"
            raise ConfigurationError(
                f"metric {label!r}: {metric.variable!r} is not recorded; members record {which}"
                f"{did_you_mean(metric.variable, recorded)}")


def _check_settable(flat, name: str) -> None:
    if flat.port_map.get(name, {}).get("kind") == "input":
        return
    try:
        _, variable = flat.resolve(name)
    except CosimError as exc:
        raise ConfigurationError(f"cannot vary {name!r}: {exc}") from None
    if not variable.is_settable or variable.variability == "constant":
        raise ConfigurationError(f"cannot vary {name!r}: it is a {variable.variability} "
                                 f"{variable.causality}; only parameters and inputs take values")


# -- running one member -----------------------------------------------------------------

class _Shipped:
    """The system as it travels to workers: SSP bytes (the FMUs inside) when it
    can be written as SSP, else the System itself.  Workers load it once."""

    def __init__(self, system):
        self.name = system.name
        self.ssp = None
        self.system = None
        try:
            with tempfile.TemporaryDirectory(prefix="cosim-ship-") as tmp:
                path = Path(tmp) / "system.ssp"
                system.save(path)
                self.ssp = path.read_bytes()
        except CosimError:             # Python or remote components: pickle it
            self.system = system
        self.key = hashlib.sha256(self.ssp).hexdigest() if self.ssp else None

    def load(self):
        if self.system is not None:
            return self.system
        cached = _LOADED.get(self.key)
        if cached is None:
            from cosim.ssp import load
            # A private folder of its own, gone once the system is read (the
            # loaded system keeps the unpacked archive it needs), failure or not.
            with tempfile.TemporaryDirectory(prefix="cosim-ensemble-") as folder:
                path = Path(folder) / "system.ssp"
                path.write_bytes(self.ssp)
                cached = _LOADED[self.key] = load(path)
        return cached


_LOADED: dict = {}


def run_member(shipped: _Shipped, index: int, member: Member, settings: dict) -> dict:
    """Run one member; returns its row (values, metrics, error, seconds).  Never raises
    for a failing member: the error is in the row."""
    import copy

    from cosim.execution import Simulation

    started = time.perf_counter()
    metrics: dict[str, float] = {}
    row: dict[str, Any] = {"member": index, "label": member.label, "values": dict(member.values),
                           "metrics": metrics, "error": None}
    try:
        system = copy.deepcopy(shipped.load())
        state = settings.get("start_state")
        if state is None:
            for name, value in member.values.items():
                system.set_parameter(name, value)
        sim = Simulation(system, step_size=settings["step_size"], stop_time=settings["stop_time"],
                         start_time=settings["start_time"], algorithm=settings["algorithm"],
                         record=settings["record"], threads=1,   # members are the parallelism
                         isolate=settings.get("isolate", False))
        with sim:
            if state is not None:            # a fork: values go in after the state is loaded
                sim.load_state(state)
                for name, value in member.values.items():
                    sim.set(name, value)
            for event in sorted(member.events, key=lambda e: e.time):
                sim.run_until(event.time)
                sim.set(event.name, event.value)
            result = sim.run()
        for name, metric in settings["metrics"].items():
            metrics[name] = float(metric(result))
        if settings.get("output_dir"):
            output = Path(settings["output_dir"]) / f"member-{index:05d}.parquet"
            row["output"] = _write_parquet(result, output)
    except (CosimError, KeyError, ValueError, ArithmeticError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - started
    return row


def _write_parquet(result, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(path)
    return str(path)


# -- the ensemble -----------------------------------------------------------------------

class Ensemble:
    """Rows of an ensemble run: one per member, in member order."""

    def __init__(self, rows: list[dict], metric_names: list[str], seconds: float):
        self.rows = rows
        self.metric_names = metric_names
        self.seconds = seconds

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.rows if r["error"] is not None]

    def best(self, metric: str, *, n: int = 5, maximize: bool = True) -> list[dict]:
        """The ``n`` successful members with the highest (or lowest) ``metric``."""
        if metric not in self.metric_names:
            raise ConfigurationError(f"no metric {metric!r}; metrics: {', '.join(self.metric_names)}")
        done = [r for r in self.rows if r["error"] is None and not math.isnan(r["metrics"][metric])]
        return sorted(done, key=lambda r: r["metrics"][metric], reverse=maximize)[:n]

    def table(self):
        """The rows as a pyarrow Table: member, label, one column per value and metric, error."""
        import pyarrow as pa
        names = sorted({k for r in self.rows for k in r["values"]})
        columns = {"member": [r["member"] for r in self.rows],
                   "label": [r["label"] for r in self.rows]}
        for name in names:
            columns[name] = [r["values"].get(name) for r in self.rows]
        for name in self.metric_names:
            columns[name] = [r["metrics"].get(name) for r in self.rows]
        columns["error"] = [r["error"] for r in self.rows]
        columns["seconds"] = [r["seconds"] for r in self.rows]
        return pa.table(columns)

    def to_parquet(self, path) -> None:
        import pyarrow.parquet as pq
        pq.write_table(self.table(), path)


def run_ensemble(system, variations, *, stop_time: float, step_size: float,
                 metrics: dict | None = None, start_time: float = 0.0, algorithm: str = "jacobi",
                 record=None, start_state: bytes | None = None, output_dir=None, client=None,
                 workers: int | None = None, serial: bool = False, isolate: bool = True,
                 progress=None) -> Ensemble:
    """Run every member of ``variations`` and return their metrics.

    Parameters
    ----------
    system : cosim.System
    variations : list of dict or Member
        From :func:`grid`, :func:`scenarios`, :func:`latin_hypercube`, ...
    metrics : {name: callable(Result) -> float}
        Default: the final value of every recorded variable.  Names that
        members set and variables that :class:`Metric` s read are checked
        before any member runs (:func:`check_names`).
    start_state : bytes or None
        Start every member from this state (:meth:`Simulation.save_state`)
        instead of from ``start_time``; member values are then set as
        inputs or tunable parameters after the state is loaded.
    output_dir : path or None
        Also write each member's full result to ``member-NNNNN.parquet`` there.
    client : dask.distributed.Client or str or None
        A Dask client or a scheduler address (``tcp://host:port``).  None
        starts a LocalCluster on this machine (``workers`` processes,
        default: one per CPU) for the call.
    serial : bool
        Run the members one after the other in this process (no Dask).
    isolate : bool
        Run each member's FMUs in worker processes of their own (default):
        a member whose FMU crashes fails alone, with the signal in its error,
        and takes neither the Dask worker nor other members with it.
    progress : callable(done, total, failed) or None

    A member that fails is kept with its error; the others go on.
    """
    members = _members(variations)
    if not members:
        raise ConfigurationError("the ensemble has no members")
    if metrics is None:
        metrics = default_metrics(system, record=record)
    check_names(system, members, metrics, record=record)
    settings = {"stop_time": stop_time, "step_size": step_size, "start_time": start_time,
                "algorithm": algorithm, "record": record, "metrics": metrics,
                "start_state": start_state, "output_dir": str(output_dir) if output_dir else None,
                "isolate": isolate}
    shipped = _Shipped(system)
    started = time.perf_counter()
    rows: list[dict | None] = [None] * len(members)      # filled by done() as members finish
    failed = 0

    def done(row):
        nonlocal failed
        rows[row["member"]] = row
        failed += row["error"] is not None
        if progress is not None:
            progress(sum(r is not None for r in rows), len(rows), failed)

    if serial:
        for index, member in enumerate(members):
            try:
                row = run_member(shipped, index, member, settings)
            except Exception as exc:     # noqa: BLE001 - one member's fault, not the ensemble's
                row = _failed(index, member, exc)
            done(row)
    else:
        _run_on_dask(shipped, members, settings, client, workers, done)
    finished = [row for row in rows if row is not None]
    assert len(finished) == len(rows)     # every member is done (a result or a failure row)
    return Ensemble(finished, list(metrics), time.perf_counter() - started)


def _failed(index: int, member: Member, exc: BaseException) -> dict:
    return {"member": index, "label": member.label, "values": dict(member.values), "metrics": {},
            "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}


def _run_on_dask(shipped, members, settings, client, workers, done) -> None:
    if "distributed" not in sys.modules and log.getEffectiveLevel() > logging.INFO:
        # Dask's INFO lines (here and in the workers it starts) only when cosim's are shown
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    from distributed import Client, LocalCluster, as_completed

    cluster = own = None
    if client is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = own = Client(cluster)
    elif isinstance(client, str):
        client = own = Client(client)
    try:
        # Once per worker.  Unique keys: a key derived from the data would be
        # shared with an earlier call's futures, whose release may still be on
        # its way to the scheduler and would drop the new copy.
        # A dict would be scattered value by value under its own keys ("stop_time",
        # ...), the same in every call: a list of one scatters it whole.
        shipped_future = client.scatter(shipped, broadcast=True, hash=False)
        [settings_future] = client.scatter([settings], broadcast=True, hash=False)
        futures = {client.submit(run_member, shipped_future, index, member, settings_future,
                                 pure=False): (index, member)
                   for index, member in enumerate(members)}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:     # noqa: BLE001 - e.g. a worker lost too often
                row = _failed(*futures[future], exc)
            done(row)
    finally:
        if own is not None:
            own.close()
        if cluster is not None:
            cluster.close()
