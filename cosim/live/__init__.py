"""Live data: plant samples bound to a running twin, real-time pacing, and
correction of the twin toward the plant.

- :mod:`cosim.live.signals`: :class:`SignalStore`, the thread-safe store that
  every source fills and the twin reads at its communication points.
- :mod:`cosim.live.sources`: the :class:`Source` interface and :class:`Replay`
  of CSV/Parquet recordings; :mod:`cosim.live.mqtt` and :mod:`cosim.live.opcua`
  hold the network sources.
- :mod:`cosim.execution.pacing`: :class:`Pacer`, which paces a run to the wall
  clock, and its :class:`RealtimeStats`.
- :mod:`cosim.live.twin`: :class:`LiveTwin` with its :class:`Binding`,
  :class:`Comparison` and :class:`Alert` definitions, and what-if forks.
- :mod:`cosim.live.estimation`: :class:`Estimator`, sliding-window parameter
  estimation.
"""
from cosim.live.estimation import Estimator
from cosim.execution.pacing import OVERRUN_POLICIES, Pacer, RealtimeStats
from cosim.live.signals import REJECTIONS, SignalStats, SignalStore
from cosim.live.sources import Replay, Source
from cosim.live.twin import Alert, AlertEvent, Binding, BindingStatus, Comparison, LiveTwin, WhatIf

__all__ = ["Alert", "AlertEvent", "Binding", "BindingStatus", "Comparison", "Estimator",
           "LiveTwin", "OVERRUN_POLICIES", "Pacer", "REJECTIONS", "RealtimeStats", "Replay",
           "SignalStats", "SignalStore", "Source", "WhatIf"]
