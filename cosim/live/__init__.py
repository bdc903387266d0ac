"""Live data: plant samples bound to a running twin, real-time pacing, and
correction of the twin toward the plant.

- :mod:`cosim.live.signals`: :class:`SignalStore`, the thread-safe store that
  every source fills and the twin reads at its communication points.
- :mod:`cosim.live.sources`: the :class:`Source` interface and :class:`Replay`
  of CSV/Parquet recordings.
"""
from cosim.live.signals import REJECTIONS, SignalStats, SignalStore
from cosim.live.sources import Replay, Source

__all__ = ["REJECTIONS", "Replay", "SignalStats", "SignalStore", "Source"]
