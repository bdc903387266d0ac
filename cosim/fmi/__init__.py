"""Reading FMUs and calling them.

- :mod:`cosim.fmi.archive`: open and check FMU archives (untrusted input).
- :mod:`cosim.fmi.model`: :class:`~cosim.fmi.model.ModelInfo`, what a model
  description tells about variables, dependencies and capabilities.
- :mod:`cosim.fmi._binding`: the native binding (``Library``, ``Instance``)
  that loads an FMU binary and calls its FMI 1.0 (co-simulation) / 2.0 / 3.0
  functions.
"""
