"""A first-order lag written for pythonfmu, exported as an FMI 2.0 co-simulation FMU.

dy/dt = (gain*u - y)/tau, integrated by the FMU itself with explicit Euler over
each communication step; ``steps`` counts the steps and ``settled`` turns true
once |gain*u - y| < 0.05.  Explicit Euler inside the FMU keeps the result a
fixed sequence of floating-point operations, so any importer that sets the
same inputs at the same communication points reads the same values.
"""

from pythonfmu import Boolean, Fmi2Causality, Fmi2Slave, Fmi2Variability, Integer, Real


class FirstOrder(Fmi2Slave):
    """First-order lag with an integer step counter and a boolean flag."""

    author = "cosim tests"
    description = "First-order lag (explicit Euler per step)"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tau = 0.5
        self.gain = 2.0
        self.u = 1.0
        self.y = 0.0
        self.steps = 0
        self.settled = False
        self.register_variable(Real("tau", causality=Fmi2Causality.parameter,
                                    variability=Fmi2Variability.tunable))
        self.register_variable(Real("gain", causality=Fmi2Causality.parameter,
                                    variability=Fmi2Variability.tunable))
        self.register_variable(Real("u", causality=Fmi2Causality.input))
        self.register_variable(Real("y", causality=Fmi2Causality.output))
        self.register_variable(Integer("steps", causality=Fmi2Causality.output,
                                       variability=Fmi2Variability.discrete))
        self.register_variable(Boolean("settled", causality=Fmi2Causality.output,
                                       variability=Fmi2Variability.discrete))

    def do_step(self, current_time, step_size):
        self.y += step_size * (self.gain * self.u - self.y) / self.tau
        self.steps += 1
        self.settled = abs(self.gain * self.u - self.y) < 0.05
        return True
