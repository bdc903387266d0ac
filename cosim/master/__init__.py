"""Master algorithms.

:mod:`cosim.master._core` holds the native step loop (fixed-step Jacobi and
Gauss-Seidel); :mod:`cosim.execution` builds and drives it.
"""
