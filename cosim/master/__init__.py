"""Master algorithms: the native core, split by role.

:mod:`cosim.master._core` holds :class:`~cosim.master._core.Core`, which
:mod:`cosim.execution` builds and drives; its base ``_build.Builder`` lays
the flat arrays out.  The loop itself runs without the GIL on one struct
(``_types.pxd``): value exchange inline in ``_exchange.pxd``, one macro step
and the fixed-step run in ``_stepping``, variable steps in ``_stepcontrol``,
algebraic loops in ``_loops`` (Newton's method in :mod:`cosim.master.newton`)
and FMI 3 clocks in ``_clocks``.
"""
