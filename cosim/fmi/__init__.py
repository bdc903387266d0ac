"""Reading FMUs and calling them.

- :mod:`cosim.fmi.archive`: open and check FMU archives (untrusted input).
- :mod:`cosim.fmi.model`: :class:`~cosim.fmi.model.ModelInfo`, what a model
  description tells about variables, dependencies and capabilities.
- :mod:`cosim.fmi._binding`: the native binding (``Library``, ``Instance``,
  ``MEInstance``) that loads an FMU binary and calls its FMI 1.0
  (co-simulation) / 2.0 / 3.0 functions, and FMI 2.0 model exchange ones.
- :mod:`cosim.fmi.loader`: :func:`~cosim.fmi.loader.load_fmu`, an archive and
  its binary, with the capabilities held to what the binary exports.
- :mod:`cosim.fmi.model_exchange`: model exchange FMUs integrated by a solver
  behind the interface of a co-simulation instance.
"""
