"""The runnable examples do what the README says."""

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = ROOT / "examples" / "line_twin" / "line_twin.py"


@pytest.fixture(scope="module")
def line():
    return runpy.run_path(str(LINE), run_name="line_twin")


def test_line_twin_script_prints_its_summary_and_plot(tmp_path):
    plot = tmp_path / "line.png"
    done = subprocess.run([sys.executable, str(LINE), "--hours", "1.5", "--plot", str(plot)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for label in ("throughput (last hour)", "energy per part", "spindle bearing wear",
                  "soak zone max deviation"):
        assert label in done.stdout
    assert plot.stat().st_size > 10_000


def test_line_twin_physics_hold_together(line):
    result = line["system"].simulate(stop_time=2 * 3600.0, step_size=1.0, algorithm="gauss-seidel")
    s = line["summarize"](result)
    # After the arrival rate steps to 0.5 parts/s, the line delivers that rate.
    assert s["throughput_per_hour"] == pytest.approx(0.5 * 3600, rel=0.01)
    assert not s["jammed"]
    assert s["max_soak_deviation_k"] < 0.5
    assert s["spindle_wear"] > 0.2                          # started at 0.2 and grew
    # The cutting load follows the part flow reaching the spindle.
    np.testing.assert_allclose(result["spindle.motor_torque"][-1],
                               18.0 * 0.5 + 0.0002 * (1 + 2 * s["spindle_wear"]) * 9000 * np.pi / 30,
                               rtol=1e-3)
    # The furnace burns more once more parts arrive.
    power = result["furnace.burner_power"]
    assert power[-1] > power[3000] + 1000.0


def test_line_twin_runs_from_the_cli(tmp_path):
    out = tmp_path / "line.csv"
    done = subprocess.run([sys.executable, "-m", "cosim", "run", str(LINE), "--stop-time", "600",
                           "-o", str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    header = out.read_text().splitlines()[0].split(",")
    assert "furnace.soak_deviation" in header and "spindle.wear" in header
    assert len(out.read_text().splitlines()) == 602


def test_line_configurations_differ_as_configured(line):
    worn = line["build_line"]("worn", spindle_wear=0.6)
    result = worn.simulate(stop_time=600.0, step_size=1.0)
    assert result["spindle.wear"][0] == pytest.approx(0.6)
    assert result["spindle.vibration"][-1] > 2 * line["system"].simulate(
        stop_time=600.0, step_size=1.0, record=["spindle.vibration"])["spindle.vibration"][-1]


FACTORY = ROOT / "examples" / "factory_twin" / "build_factory.py"


def test_factory_twin_is_written_as_ssp_and_runs_from_the_cli(tmp_path):
    ssp = tmp_path / "factory.ssp"
    built = subprocess.run([sys.executable, str(FACTORY), "--output", str(ssp)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "3 lines, 25 FMU instances" in built.stdout
    checked = subprocess.run([sys.executable, "-m", "cosim", "validate", str(ssp)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "no problems found" in checked.stdout
    out = tmp_path / "factory.csv"
    ran = subprocess.run([sys.executable, "-m", "cosim", "run", str(ssp), "--stop-time", "1800",
                          "-o", str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    data = np.genfromtxt(out, delimiter=",", names=True, deletechars="")
    # The default experiment's output interval (60 s) applies; the stop time is overridden.
    np.testing.assert_array_equal(data["time"], np.arange(0.0, 1801.0, 60.0))
    lines_kw = data["line1.power"] + data["line2.power"] + data["line3.power"]
    np.testing.assert_allclose(data["total_power"], lines_kw, rtol=1e-12)
    # Line power in kW is its meter's sum of spindle, belt drives and burners in W.
    parts = ["spindle.motor_power", "infeed.motor_power", "transfer.motor_power", "furnace.burner_power"]
    np.testing.assert_allclose(data["line2.power"] * 1e3, sum(data[f"line2.{p}"] for p in parts),
                               rtol=1e-12)


def test_factory_lines_follow_their_configurations():
    factory = runpy.run_path(str(FACTORY), run_name="factory")["build_factory"]()
    result = factory.simulate(stop_time=600.0, step_size=1.0, record=[
        "line1.spindle.wear", "line2.spindle.wear", "line3.spindle.wear",
        "line2.furnace.soak_zone_temperature", "line3.furnace.soak_zone_temperature"])
    assert [result[f"line{i}.spindle.wear"][0] for i in (1, 2, 3)] == pytest.approx([0.2, 0.45, 0.05])
    assert result["line2.furnace.soak_zone_temperature"][-1] == pytest.approx(860.0, abs=0.5)
    assert result["line3.furnace.soak_zone_temperature"][-1] == pytest.approx(840.0, abs=0.5)


def test_federation_example_runs_vendor_processes_and_matches_the_local_line():
    script = ROOT / "examples" / "federation" / "federation.py"
    for algorithm in ("jacobi", "gauss-seidel"):
        done = subprocess.run([sys.executable, str(script), "--minutes", "5",
                               "--algorithm", algorithm],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("vendor twin") == 2
        assert "7 components (2 remote), 300 steps" in done.stdout
        assert "largest difference from the all-local line: 0" in done.stdout


def test_what_if_example_runs_the_ensemble_and_writes_table_and_plot(tmp_path):
    import pyarrow.parquet as pq
    script = ROOT / "examples" / "what_if" / "what_if.py"
    done = subprocess.run([sys.executable, str(script), "--hours", "0.25", "--workers", "2",
                           "--output", str(tmp_path / "w.parquet"), "--plot", str(tmp_path / "w.png")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "27 members, 0.25 h each" in done.stdout and "(0 failed)" in done.stdout
    table = pq.read_table(tmp_path / "w.parquet").to_pydict()
    assert len(table["member"]) == 27 and all(e is None for e in table["error"])
    assert all(0.05 < e < 1.0 for e in table["energy_per_part_kwh"])
    hotter = [e for e, s in zip(table["energy_per_part_kwh"], table["furnace.soak_zone_setpoint"])
              if s == 880.0]
    cooler = [e for e, s in zip(table["energy_per_part_kwh"], table["furnace.soak_zone_setpoint"])
              if s == 820.0]
    assert min(hotter) > max(cooler)          # a hotter soak zone costs energy per part
    assert (tmp_path / "w.csv").stat().st_size > 0 and (tmp_path / "w.png").stat().st_size > 10_000
