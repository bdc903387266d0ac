"""Three first-order lags written for component-model, exported as an FMI 2.0 FMU.

component-model builds on PythonFMU and adds vector variables (exported as
``y[0]``, ``y[1]``, ...) and units: the time constants carry seconds, given
here in minutes for the third element so that the exporter converts them.
dy[i]/dt = (gain*u[i] - y[i])/tau[i], explicit Euler over each communication
step, so any importer that sets the same inputs at the same points reads the
same values.
"""

from component_model.model import Model
from component_model.variable import Variable


class VectorLag(Model):
    """Three independent first-order lags sharing one gain."""

    def __init__(self, **kwargs):
        super().__init__(name="VectorLag", description="Three first-order lags (explicit Euler)",
                         author="cosim tests", version="0.1",
                         default_experiment={"startTime": 0.0, "stopTime": 2.0, "stepSize": 0.05},
                         **kwargs)
        self._tau = Variable(self, "tau", "Time constants", causality="parameter",
                             variability="fixed", start=("0.5 s", "1.0 s", "0.05 min"))
        self._gain = Variable(self, "gain", "Common gain", causality="parameter",
                              variability="fixed", start=2.0)
        self._u = Variable(self, "u", "Targets", causality="input", variability="continuous",
                           start=(1.0, 0.5, -1.0))
        self._y = Variable(self, "y", "Lagged values", causality="output",
                           variability="continuous", initial="exact", start=(0.0, 0.0, 0.0))

    def do_step(self, current_time, step_size):
        super().do_step(current_time, step_size)
        for i in range(3):
            self.y[i] += step_size * (self.gain * self.u[i] - self.y[i]) / self.tau[i]
        return True
