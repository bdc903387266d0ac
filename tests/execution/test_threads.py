"""Fast paths give the same numbers: parallel Jacobi, automatic choice, recording."""

import logging
import runpy
from pathlib import Path

import numpy as np
import pytest

from cosim import ConfigurationError, FmiCallError, PythonComponent, System, twins

LINE = Path(__file__).resolve().parents[2] / "examples" / "line_twin" / "line_twin.py"


@pytest.fixture(scope="module")
def line():
    return runpy.run_path(str(LINE), run_name="line_twin")["system"]


def assert_same(a, b, names=None):
    np.testing.assert_array_equal(a.time, b.time)
    for name in names or a.names:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("threads", [2, 3, None])
def test_parallel_jacobi_equals_serial(line, threads):
    serial = line.simulate(stop_time=600.0, step_size=1.0, threads=1)
    other = line.simulate(stop_time=600.0, step_size=1.0, threads=threads)
    assert_same(serial, other)
    assert np.ptp(serial["spindle.motor_power"]) > 0


class Doubler(PythonComponent):
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = 2.0 * self["u"]

    def do_step(self, t, h):
        self.update_outputs()


def test_python_components_take_part_in_parallel_jacobi():
    system = System("mixed")
    system.add("src", twins.path("source"), parameters={"waveform": 3, "start_time": 0.0})
    system.add("py", Doubler)
    system.add("g", twins.path("gain"), parameters={"k": 3.0})
    system.connect("src.y", "py.u")
    system.connect("py.y", "g.u")
    serial = system.simulate(stop_time=2.0, step_size=0.01, threads=1)
    parallel = system.simulate(stop_time=2.0, step_size=0.01, threads=2)
    assert_same(serial, parallel)
    np.testing.assert_allclose(serial["g.y"][2:], 6.0 * serial["src.y"][:-2])


def python_heavy_chain():
    """Trivial FMUs between Python components: stepping is mostly Python."""
    system = System("python_heavy")
    system.add("src", twins.path("source"), parameters={"waveform": 3})
    previous = "src.y"
    for i in range(3):
        system.add(f"g{i}", twins.path("gain"), parameters={"k": 0.5})
        system.add(f"py{i}", Doubler)
        system.connect(previous, f"g{i}.u")
        system.connect(f"g{i}.y", f"py{i}.u")
        previous = f"py{i}.y"
    return system


@pytest.mark.parametrize("profile", [False, True])
def test_the_automatic_choice_skips_parallel_trials_when_python_units_dominate(caplog, profile):
    system = python_heavy_chain()
    with caplog.at_level(logging.DEBUG, logger="cosim"):
        automatic = system.start(stop_time=4.0, step_size=0.001, profile=profile)
        automatic.run()
        assert automatic.threads == 1
        result = automatic.stop()
    assert not [r for r in caplog.records if r.getMessage().startswith("Jacobi on")]
    assert_same(system.simulate(stop_time=4.0, step_size=0.001, threads=1), result)
    # the calibration's own timing does not show up as profiling
    fmu_time = sum(result.stats[f"g{i}"].step_time for i in range(3))
    assert (fmu_time > 0) if profile else (fmu_time == 0)


def test_the_automatic_choice_keeps_results_and_reports_threads(line):
    sim = line.start(stop_time=3600.0, step_size=1.0)
    sim.run()
    assert sim.threads in (1, len(__import__("os").sched_getaffinity(0)))
    automatic = sim.stop()
    assert_same(line.simulate(stop_time=3600.0, step_size=1.0, threads=1), automatic)


def test_recording_does_not_change_results(line):
    everything = line.simulate(stop_time=900.0, step_size=1.0)
    few = line.simulate(stop_time=900.0, step_size=1.0, record=["furnace.energy", "spindle.wear"])
    sparse = line.simulate(stop_time=900.0, step_size=1.0, output_interval=30.0,
                           record=["furnace.energy"])
    assert_same(everything, few, few.names)
    np.testing.assert_array_equal(everything["furnace.energy"][::30], sparse["furnace.energy"])


@pytest.mark.parametrize("threads, message", [
    (0, "positive integer"), (-2, "positive integer"), (1.5, "positive integer")])
def test_bad_thread_counts(line, threads, message):
    with pytest.raises(ConfigurationError, match=message):
        line.start(stop_time=10.0, step_size=1.0, threads=threads)


def test_parallel_stepping_needs_jacobi(line):
    with pytest.raises(ConfigurationError, match="needs algorithm='jacobi'"):
        line.start(stop_time=10.0, step_size=1.0, threads=2, algorithm="gauss-seidel")


def test_failures_on_worker_threads_are_all_reported(test_fmus):
    system = System("failing")
    system.add("src", twins.path("source"), parameters={"waveform": 0})
    for name in ("a", "b", "c"):
        system.add(name, test_fmus("failing_gain"), parameters={"fail_time": 0.35})
        system.connect("src.y", f"{name}.u")
    with pytest.raises(FmiCallError) as caught:
        system.simulate(stop_time=1.0, step_size=0.1, threads=2)
    assert sorted(f.instance for f in caught.value.failures) == ["a", "b", "c"]
    assert caught.value.time == pytest.approx(0.3)
    assert caught.value.partial_result.time[-1] == pytest.approx(0.3)
