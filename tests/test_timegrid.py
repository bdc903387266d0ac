"""Communication points for any positive finite step size: t0 + n*h as fmpy
forms it, never accumulated, and the relative tolerance handed to FMUs."""

import math
import re
import zipfile

import fmpy
import numpy as np
import pytest

from cosim import ConfigurationError, System, load, twins
from cosim.cli import main
from cosim.timegrid import time_grid

ODD_STEP = 0.025132741228718402      # 2*pi/250, as an exporter wrote it


def probe(test_fmus, version="2.0"):
    system = System("probe")
    system.add("p", test_fmus("step_probe", version))
    return system


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@pytest.mark.parametrize("start, step, stop", [
    (0.0, ODD_STEP, 1.0),
    (0.0, 0.1, 3.0),
    (0.3, 0.1, 1.0),
    (1e6, 1e-3, 1e6 + 0.05),
    (0.0, 1 / 3, 2.0),
    (0.0, 1e-11, 1e-9),          # below a nanosecond
])
def test_do_step_gets_fmpys_communication_points_bit_for_bit(test_fmus, version, start, step, stop):
    path = test_fmus("step_probe", version)
    ours = probe(test_fmus, version).simulate(start_time=start, stop_time=stop, step_size=step)
    theirs = fmpy.simulate_fmu(str(path), start_time=start, stop_time=stop, step_size=step,
                               output_interval=step, output=["t_start", "h_last"])
    np.testing.assert_array_equal(ours.time, theirs["time"])
    np.testing.assert_array_equal(ours["p.t_start"], theirs["t_start"])
    np.testing.assert_array_equal(ours["p.h_last"], theirs["h_last"])
    n = np.arange(len(ours.time) - 1)
    np.testing.assert_array_equal(ours.time[:-1], start + n * step)      # never accumulated
    assert ours.time[-1] == stop or math.isclose(ours.time[-1], stop, rel_tol=1e-9)


def test_no_drift_over_a_million_steps():
    grid = time_grid(start_time=0.0, step_size=0.1, stop_time=1e5)
    assert grid.n_steps == 1_000_000
    assert grid.at(1_000_000) == 1e5
    assert grid.at(999_999) == 999_999 * 0.1
    accumulated = 0.0
    for _ in range(999_999):
        accumulated += 0.1
    assert abs(grid.at(999_999) - 99999.9) < 1e-10 < abs(accumulated - 99999.9)


def test_a_stop_time_off_the_grid_ends_with_a_shorter_step(test_fmus):
    result = probe(test_fmus).simulate(stop_time=0.25, step_size=0.1)
    np.testing.assert_array_equal(result.time, [0.0, 0.1, 0.2, 0.25])
    assert result["p.h_last"][-1] == 0.25 - 0.2
    assert result["p.t_start"][-1] == 0.2


def test_step_wise_runs_use_the_same_points(test_fmus):
    with probe(test_fmus).start(stop_time=1.0, step_size=ODD_STEP) as sim:
        sim.step(3)
        assert sim.time == 3 * ODD_STEP
        assert sim.get("p.t_start") == 2 * ODD_STEP
        assert sim.run_until(0.5) == 20 * ODD_STEP          # the first point at or after 0.5
        assert sim.run_until(20 * ODD_STEP) == 20 * ODD_STEP   # already there: no step
        sim.run()
        assert sim.time == 1.0                              # the shorter last step ends at stop
        assert sim.get("p.t_start") == 39 * ODD_STEP


def test_output_interval_off_the_nanosecond_grid(test_fmus):
    result = probe(test_fmus).simulate(stop_time=1.0, step_size=ODD_STEP,
                                       output_interval=4 * ODD_STEP)
    np.testing.assert_array_equal(result.time[:-1], np.arange(10) * 4 * ODD_STEP)
    assert result.time[-1] == 1.0


def test_variable_steps_reach_odd_output_points_and_run_until_times_exactly(test_fmus):
    system = System("chain")
    system.add("src", twins.path("source"), parameters={"waveform": 1})
    system.add("g", twins.path("gain"), parameters={"k": 2.0})
    system.connect("src.y", "g.u")
    result = system.simulate(stop_time=1.0, step_size=ODD_STEP, output_interval=ODD_STEP * 3,
                             variable_step=True)
    np.testing.assert_array_equal(result.time[:-1], np.arange(len(result.time) - 1) * (3 * ODD_STEP))
    assert result.time[-1] == 1.0
    with system.start(stop_time=1.0, step_size=ODD_STEP, variable_step=True) as sim:
        assert sim.run_until(0.123456789) == 0.123456789
        assert sim.run_until(7 * ODD_STEP) == 7 * ODD_STEP
        assert sim.run_until(5.0) == 1.0


def test_cosim_run_takes_the_fmus_odd_default_step(test_fmus, tmp_path):
    path = test_fmus("step_probe")
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "-o", str(out), "--quiet"]) == 0
    ours = np.genfromtxt(out, delimiter=",", names=True)
    theirs = fmpy.simulate_fmu(str(path))       # its default experiment, as cosim's
    np.testing.assert_array_equal(ours["time"], theirs["time"])
    np.testing.assert_array_equal(ours["t_start"], theirs["t_start"])


@pytest.mark.parametrize("options, message", [
    (dict(step_size=1e-300), "below the resolution of time at 1.0 s"),
    (dict(step_size=1.0, start_time=1e17, stop_time=1e17 + 64), "below the resolution"),
    (dict(step_size=float("nan")), "step_size must be a finite number"),
    (dict(step_size=True), "step_size must be a finite number"),
    (dict(output_interval=1.5 * ODD_STEP), "output_interval"),
])
def test_bad_time_options_name_the_option(test_fmus, options, message):
    with pytest.raises(ConfigurationError, match=message):
        probe(test_fmus).simulate(**{"stop_time": 1.0, "step_size": ODD_STEP, **options})


def test_run_until_refuses_a_time_that_is_not_a_number(test_fmus):
    with probe(test_fmus).start(stop_time=1.0, step_size=0.1) as sim:
        with pytest.raises(ConfigurationError, match="time must be a finite number"):
            sim.run_until(float("nan"))
        assert sim.time == 0.0                      # still usable
        assert sim.run_until(0.5) == 0.5


# -- tolerance ------------------------------------------------------------------------------------

def tolerance_seen(system, **options) -> float:
    """The relative tolerance the probe FMU received at setup (-1: none)."""
    return system.simulate(stop_time=0.1, step_size=0.05, **options)["p.tolerance_seen"][-1]


def without_default_tolerance(path, tmp_path):
    """A copy of the FMU whose default experiment declares no tolerance."""
    copy = tmp_path / "no_tolerance.fmu"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "modelDescription.xml":
                data = re.sub(rb' tolerance="[^"]*"', b"", data)
            target.writestr(item, data)
    return copy


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_the_default_experiments_tolerance_reaches_the_fmu(test_fmus, version):
    assert tolerance_seen(probe(test_fmus, version)) == 1e-7


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_a_given_tolerance_overrides_the_default(test_fmus, version):
    assert tolerance_seen(probe(test_fmus, version), tolerance=1e-4) == 1e-4


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_no_tolerance_when_the_fmu_declares_none(test_fmus, version, tmp_path):
    system = System("probe")
    system.add("p", without_default_tolerance(test_fmus("step_probe", version), tmp_path))
    assert tolerance_seen(system) == -1.0
    assert tolerance_seen(system, tolerance=2e-6) == 2e-6


def test_fmpy_hands_over_the_same_tolerance(test_fmus):
    path = test_fmus("step_probe")
    theirs = fmpy.simulate_fmu(str(path), stop_time=0.1, output=["tolerance_seen"])
    assert theirs["tolerance_seen"][-1] == tolerance_seen(probe(test_fmus))


def test_cosim_run_tolerance_option_and_ssp_master_settings(test_fmus, tmp_path):
    system = probe(test_fmus)
    system.default_experiment.update(stop_time=0.2, step_size=0.1, tolerance=3e-5)
    ssp = tmp_path / "probe.ssp"
    system.save(ssp)
    assert load(ssp).default_experiment["tolerance"] == 3e-5
    out = tmp_path / "out.csv"
    assert main(["run", str(ssp), "--quiet", "-o", str(out)]) == 0
    assert np.genfromtxt(out, delimiter=",", names=True)["ptolerance_seen"][-1] == 3e-5
    assert main(["run", str(ssp), "--quiet", "-o", str(out), "--tolerance", "1e-3"]) == 0
    assert np.genfromtxt(out, delimiter=",", names=True)["ptolerance_seen"][-1] == 1e-3


@pytest.mark.parametrize("tolerance", [0.0, -1e-3, float("nan"), True, "1e-3"])
def test_bad_tolerance_is_refused(tolerance):
    system = System("g")
    system.add("g", twins.path("gain"))
    with pytest.raises(ConfigurationError, match="tolerance must be a positive number"):
        system.simulate(stop_time=0.1, step_size=0.05, tolerance=tolerance)


@pytest.mark.parametrize("n", [2.5, float("nan"), "3", True])
def test_step_takes_a_whole_number_of_steps(test_fmus, n):
    with probe(test_fmus).start(stop_time=1.0, step_size=0.1) as sim:
        with pytest.raises(ConfigurationError, match="whole number of steps"):
            sim.step(n)
        assert sim.step(np.int64(2)) == 2 * 0.1         # still usable


@pytest.mark.parametrize("declared", ["-5", "nan", "0"])
def test_a_bad_default_tolerance_is_ignored_with_a_warning(test_fmus, tmp_path, caplog, declared):
    source = test_fmus("step_probe")
    copy = tmp_path / "bad_tolerance.fmu"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(copy, "w") as target:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "modelDescription.xml":
                data = re.sub(rb' tolerance="[^"]*"', f' tolerance="{declared}"'.encode(), data)
            target.writestr(item, data)
    system = System("probe")
    system.add("p", copy)
    assert tolerance_seen(system) == -1.0
    assert "the FMU gets none" in caplog.text and "bad_tolerance.fmu" in caplog.text
    out = tmp_path / "out.csv"
    assert main(["run", str(copy), "--quiet", "-o", str(out)]) == 0
    assert np.genfromtxt(out, delimiter=",", names=True)["tolerance_seen"][-1] == -1.0


def test_cosim_info_shows_the_default_tolerance(test_fmus, capsys):
    assert main(["info", str(test_fmus("step_probe"))]) == 0
    assert "default experiment start=0.0 stop=1.0 step=0.025132741228718402 tolerance=1e-07" \
        in capsys.readouterr().out
