"""A first-order lag for UniFMU's Python backend (FMI 2.0 co-simulation).

UniFMU's binary starts this model in a separate Python process and forwards
every FMI call to it.  dy/dt = (gain*u - y)/tau with explicit Euler over each
communication step, ``steps`` counting steps and ``settled`` true once
|gain*u - y| < 0.05: a fixed sequence of floating-point operations, so any
importer that sets the same inputs at the same points reads the same values.
"""

from fmi2 import Fmi2FMU, Fmi2Status


class Model(Fmi2FMU):
    """First-order lag with an integer step counter and a boolean flag."""

    def __init__(self, reference_to_attr=None) -> None:
        super().__init__(reference_to_attr)
        self.tau = 0.5
        self.gain = 2.0
        self.u = 1.0
        self.y = 0.0
        self.steps = 0
        self.settled = False

    def do_step(self, current_time, step_size, no_step_prior):
        self.y += step_size * (self.gain * self.u - self.y) / self.tau
        self.steps += 1
        self.settled = abs(self.gain * self.u - self.y) < 0.05
        return Fmi2Status.ok
