"""Running a system: options, plan, assembly, initialization, stepping, state, observers.

Where each job lives:

- :mod:`~cosim.execution.options`: every option of a run as data, checked in one place;
- :mod:`~cosim.execution.plan`: where each exchanged and recorded value lives in the loop;
- :mod:`~cosim.execution.assembly`: instances, ports, loops and clocks given to the core;
- :mod:`~cosim.execution.initialize`: start values and tolerances;
- :mod:`~cosim.execution.simulation`: :class:`Simulation` (lifecycle and stepping) and
  :func:`simulate`;
- :mod:`~cosim.execution.values`: get, set, readers and writers by name;
- :mod:`~cosim.execution.snapshots` and :mod:`~cosim.execution.state`: snapshots and
  saved states (a versioned format with no pickle);
- :mod:`~cosim.execution.failures`: from failed calls to one error;
- :mod:`~cosim.execution.threads`: serial or parallel Jacobi;
- :mod:`~cosim.execution.pacing`: pacing to the wall clock;
- :mod:`~cosim.execution.observers`: the result, output files and other watchers of a run.
"""

from cosim.execution.observers import Observer
from cosim.execution.options import ALGORITHMS, EXTRAPOLATIONS, Options
from cosim.execution.plan import LOOP_TYPES, LOOP_TYPES_TEXT, element_names
from cosim.execution.simulation import Simulation, simulate
from cosim.execution.state import Snapshot
from cosim.execution.stats import ComponentStats

__all__ = ["ALGORITHMS", "EXTRAPOLATIONS", "LOOP_TYPES", "LOOP_TYPES_TEXT", "ComponentStats",
           "Observer", "Options", "Simulation", "Snapshot", "element_names", "simulate"]
