"""The first-order lag of first_order_fmi2.py written for pythonfmu3, exported as
an FMI 3.0 co-simulation FMU (Float64, Int32 and Boolean variables).
"""

from pythonfmu3 import Boolean, Fmi3Causality, Fmi3Slave, Fmi3Variability, Float64, Int32


class FirstOrder3(Fmi3Slave):
    """First-order lag with an integer step counter and a boolean flag."""

    author = "cosim tests"
    description = "First-order lag (explicit Euler per step)"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.time = 0.0
        self.tau = 0.5
        self.gain = 2.0
        self.u = 1.0
        self.y = 0.0
        self.steps = 0
        self.settled = False
        self.register_variable(Float64("time", causality=Fmi3Causality.independent,
                                       variability=Fmi3Variability.continuous))
        self.register_variable(Float64("tau", causality=Fmi3Causality.parameter,
                                       variability=Fmi3Variability.tunable))
        self.register_variable(Float64("gain", causality=Fmi3Causality.parameter,
                                       variability=Fmi3Variability.tunable))
        self.register_variable(Float64("u", causality=Fmi3Causality.input))
        self.register_variable(Float64("y", causality=Fmi3Causality.output))
        self.register_variable(Int32("steps", causality=Fmi3Causality.output,
                                     variability=Fmi3Variability.discrete))
        self.register_variable(Boolean("settled", causality=Fmi3Causality.output,
                                       variability=Fmi3Variability.discrete))

    def do_step(self, current_time, step_size):
        self.y += step_size * (self.gain * self.u - self.y) / self.tau
        self.steps += 1
        self.settled = abs(self.gain * self.u - self.y) < 0.05
        self.time = current_time + step_size
        return True
