"""Reading FMUs and calling them.

- :mod:`cosim.fmi.archive`: open and check FMU archives (untrusted input).
- :mod:`cosim.fmi.model`: :class:`~cosim.fmi.model.ModelInfo`, what a model
  description tells about variables, dependencies and capabilities.
- :mod:`cosim.fmi._binding`: the native binding (``Library``, ``Instance``,
  ``MEInstance``) that loads an FMU binary and calls its FMI 1.0
  (co-simulation) / 2.0 / 3.0 functions, and FMI 2.0 model exchange ones.
  One module per role beneath it: ``_types.pxd`` (shared declarations),
  ``_calls.pxd``, ``_fmi2.pxd`` and ``_fmi3.pxd`` (the calls of the step
  loop, one to one, nogil), :mod:`~cosim.fmi._library` (dlopen and the
  function tables), :mod:`~cosim.fmi._log` (the FMU log sinks),
  :mod:`~cosim.fmi._handle` (status checks and errors),
  :mod:`~cosim.fmi._values` (value access) and :mod:`~cosim.fmi._state`
  (saved states).
- :mod:`cosim.fmi.loader`: :func:`~cosim.fmi.loader.load_fmu`, an archive and
  its binary, with the capabilities held to what the binary exports.
- :mod:`cosim.fmi.model_exchange`: model exchange FMUs integrated by a solver
  behind the interface of a co-simulation instance.
"""
