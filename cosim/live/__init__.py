"""Live data: plant samples bound to a running twin, real-time pacing, and
correction of the twin toward the plant.

- :mod:`cosim.live.signals`: :class:`SignalStore`, the thread-safe store that
  every source fills and the twin reads at its communication points.
- :mod:`cosim.live.sources`: the :class:`Source` interface and :class:`Replay`
  of CSV/Parquet recordings.
- :mod:`cosim.live.pacing`: :class:`Pacer`, which paces a run to the wall
  clock, and its :class:`RealtimeStats`.
"""
from cosim.live.pacing import OVERRUN_POLICIES, Pacer, RealtimeStats
from cosim.live.signals import REJECTIONS, SignalStats, SignalStore
from cosim.live.sources import Replay, Source

__all__ = ["OVERRUN_POLICIES", "Pacer", "REJECTIONS", "RealtimeStats", "Replay", "SignalStats", "SignalStore", "Source"]
