"""The cosim command line: info and run, including its errors."""

import csv
import re
import subprocess
import sys
import textwrap
import time

import fmpy
import numpy as np
import pytest

from cosim import twins
from cosim.cli import main


def test_info_lists_variables_capabilities_and_experiment(capsys, fmi_version):
    assert main(["info", str(twins.path("spindle", fmi_version))]) == 0
    out = capsys.readouterr().out
    assert f"FMI {fmi_version} co-simulation" in out
    assert "get/set state, serialize state" in out
    assert "default experiment start=0.0 stop=10.0 step=0.01" in out
    assert "speed_setpoint       input" in out and "rpm" in out
    assert "motor_torque feeds through from speed_setpoint" in out


@pytest.mark.parametrize("name", ["spindle", "conveyor", "furnace"])
def test_run_fmu_matches_fmpy_simulate(tmp_path, fmi_version, name):
    path = twins.path(name, fmi_version)
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--output", str(out), "--quiet"]) == 0
    ours = np.genfromtxt(out, delimiter=",", names=True)
    theirs = fmpy.simulate_fmu(str(path))
    assert ours.dtype.names == theirs.dtype.names        # bare variable names, same order
    np.testing.assert_array_equal(ours["time"], theirs["time"])   # t0 + n*h, bit for bit
    for column in theirs.dtype.names:
        np.testing.assert_allclose(ours[column], theirs[column].astype(float), rtol=1e-12,
                                   atol=1e-12, err_msg=column)


@pytest.mark.parametrize("version", ["1.0", "2.0", "3.0"])
@pytest.mark.parametrize("name", ["decay", "silent"])
def test_run_fmu_without_outputs_records_what_fmpy_records(test_fmus, tmp_path, name, version):
    # decay: no outputs, so its continuous state; silent: neither, so its
    # first five variables, less the string and (FMI 3) the time among them.
    path = test_fmus(name, version)
    out = tmp_path / "out.csv"
    # FMI 1.0 has no default step size
    assert main(["run", str(path), "--output", str(out), "--quiet", "--step-size", "0.1"]) == 0
    ours = np.genfromtxt(out, delimiter=",", names=True)
    theirs = fmpy.simulate_fmu(str(path), output_interval=0.1)
    assert ours.dtype.names == theirs.dtype.names and len(ours.dtype.names) > 1
    for column in theirs.dtype.names:
        np.testing.assert_allclose(ours[column], theirs[column].astype(float), rtol=1e-9,
                                   atol=1e-9, err_msg=column)


def test_run_fmu_with_every_fmi3_type_records_what_fmpy_records(test_fmus, tmp_path):
    # Float32 ... UInt64 outputs are recorded, in fmpy's column order and its
    # values; fmpy records no String or Binary outputs, and neither does run.
    path = test_fmus("all_types", "3.0")
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--output", str(out), "--quiet"]) == 0
    header, *rows = list(csv.reader(out.open()))
    theirs = fmpy.simulate_fmu(str(path))
    assert tuple(header) == theirs.dtype.names
    assert "y_f32" in header and "y_str" not in header
    for i, column in enumerate(header):
        dtype = theirs[column].dtype
        # integers are written exactly, uint64 extremes too
        ours = np.array([float(r[i]) if dtype.kind == "f" else int(r[i]) for r in rows], dtype=dtype)
        np.testing.assert_array_equal(ours, theirs[column], err_msg=column)


@pytest.mark.parametrize("version", ["1.0", "2.0", "3.0"])
def test_record_all_records_every_variable_of_the_fmu(test_fmus, tmp_path, caplog, version):
    path = test_fmus("silent", version)
    out = tmp_path / "out.csv"
    assert main(["run", str(path), "--output", str(out), "--quiet", "--step-size", "0.1",
                 "--record", "all"]) == 0
    ours = np.genfromtxt(out, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert ours.dtype.names == ("time", "label", "gain", "level", "count", "on", "spare")
    np.testing.assert_allclose(ours["level"], 2.0 * ours["time"], atol=1e-12)
    np.testing.assert_array_equal(ours["count"], np.arange(11))
    np.testing.assert_allclose(ours["spare"], ours["time"], atol=1e-12)
    # the String parameter is recorded too, as text
    label = read_model_description_start(path, "label")
    assert list(ours["label"]) == [label] * 11
    assert not [r for r in caplog.records if "--record all" in r.getMessage()]
    # fmpy records every variable it asked for too, types it can hold (not strings)
    names = [v.name for v in fmpy.read_model_description(str(path)).modelVariables
             if v.type != "String" and v.name != "time"]
    theirs = fmpy.simulate_fmu(str(path), output=names, output_interval=0.1)
    assert set(theirs.dtype.names) == set(ours.dtype.names) - {"label"}


def read_model_description_start(path, name):
    [var] = [v for v in fmpy.read_model_description(str(path)).modelVariables if v.name == name]
    return var.start


def test_record_all_stands_alone(test_fmus, capsys):
    code = main(["run", str(test_fmus("silent", "2.0")), "--record", "all", "level"])
    assert code != 0
    assert "--record all records every variable; give it alone" in capsys.readouterr().err


def test_run_python_file_defining_a_system(tmp_path, capsys):
    script = tmp_path / "chain.py"
    script.write_text(textwrap.dedent(f"""
        from cosim import System
        system = System("chain")
        system.add("src", {str(twins.path("source"))!r}, parameters={{"waveform": 2}})
        system.add("g", {str(twins.path("gain"))!r}, parameters={{"k": 3.0}})
        system.connect("src.y", "g.u")
        stop_time = 2.0
        step_size = 0.5
    """))
    out = tmp_path / "out.csv"
    assert main(["run", str(script), "-o", str(out), "--algorithm", "gauss-seidel",
                 "-p", "g.b=1.0"]) == 0
    data = np.genfromtxt(out, delimiter=",", names=True)
    np.testing.assert_array_equal(data["time"], [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(data["gy"], 3.0 * data["srcy"] + 1.0)
    assert "ran 2 component(s) to t=2 s in 4 steps" in capsys.readouterr().err


def test_run_records_selected_variables_at_an_interval(tmp_path):
    out = tmp_path / "out.csv"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "-q", "--stop-time", "1",
                 "--step-size", "0.01", "--output-interval", "0.1", "--record", "speed", "wear"]) == 0
    header = out.read_text().splitlines()[0]
    assert header == "time,speed,wear"
    assert len(out.read_text().splitlines()) == 1 + 11


@pytest.mark.parametrize("argv, message", [
    (["run", "/no/such.fmu"], "FMU file not found: /no/such.fmu"),
    (["run", "x.txt"], "expected an .fmu, .ssp or .ssd file, an OSP"),
    (["run", "SPINDLE", "--stop-time", "-1"], "stop_time (-1.0) must be after start_time"),
    (["run", "SPINDLE", "-p", "inertia=-3"], "inertia must be > 0, got -3"),
    (["run", "SPINDLE", "-p", "inertiaa=1"], "did you mean 'inertia'"),
    (["run", "SPINDLE", "-p", "inertia"], "write NAME=VALUE"),
    (["run", "SPINDLE", "--step-size", "0.003", "--output-interval", "0.01"], "must be a positive multiple"),
    (["info", "/no/such.fmu"], "FMU file not found"),
    (["run", "SPINDLE", "--realtime", "fast"], "--realtime FACTOR must be a number > 0"),
    (["run", "SPINDLE", "--realtime", "0"], "real-time factor must be a finite number > 0"),
    (["run", "SPINDLE", "--overrun", "slow"], "apply to real-time runs; add --realtime"),
    (["run", "SPINDLE", "--realtime", "--variable-step"], "cannot be combined with variable_step"),
])
def test_errors_end_with_one_line_and_exit_status_1(capsys, argv, message):
    argv = [str(twins.path("spindle")) if a == "SPINDLE" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cosim: error: ")
    assert message in err[-1]


def test_python_file_without_system_is_refused(tmp_path, capsys):
    script = tmp_path / "empty.py"
    script.write_text("x = 1\n")
    assert main(["run", str(script), "--stop-time", "1", "--step-size", "0.1"]) == 1
    assert "must define a variable 'system'" in capsys.readouterr().err


def test_failed_run_keeps_partial_results_on_disk(tmp_path, capsys, test_fmus):
    out = tmp_path / "out.csv"
    argv = ["run", str(test_fmus("failing_gain")), "-o", str(out), "-p", "fail_time=0.55",
            "--stop-time", "2", "--step-size", "0.1"]
    assert main(argv) == 1
    assert "fmi2DoStep returned error at t=0.5 s" in capsys.readouterr().err
    rows = out.read_text().splitlines()
    assert rows[0] == "time,y" and rows[-1].startswith("0.5,")


def test_console_entry_point_runs_in_its_own_process(tmp_path):
    out = tmp_path / "o.csv"
    done = subprocess.run([sys.executable, "-m", "cosim", "run", str(twins.path("gain")), "-q",
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("time,y\n")


def test_run_realtime_prints_lateness_and_jitter(capsys):
    started = time.perf_counter()
    argv = ["run", str(twins.path("spindle")), "--stop-time", "1", "--step-size", "0.01",
            "--realtime", "5", "--quiet"]
    assert main(argv) == 0
    assert time.perf_counter() - started >= 0.2           # 1 s of simulation at x5
    out = capsys.readouterr().out
    # A busy machine may wake late and batch a few points: they add up to 100.
    waited = int(re.search(r"real time x5: (\d+) communication points of 0.01 s", out)[1])
    skipped = int(re.search(r"skipped (\d+)", out)[1])
    assert waited + skipped == 100
    assert "lateness us  p50" in out and "jitter us    p50" in out
    assert "overrun policy 'skip'" in out


SLOW_SYSTEM = """
import time
from cosim import PythonComponent, System, twins

class Stall(PythonComponent):
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}
    def update_outputs(self):
        self["y"] = self["u"]
    def do_step(self, t, h):
        if abs(t - 0.5) < 1e-9:
            time.sleep(1.0)
        self.update_outputs()

system = System("stalling")
system.add("spindle", twins.path("spindle"))
system.add("stall", Stall)
system.connect("spindle.speed", "stall.u")
"""


def test_run_realtime_overrun_stop_fails_with_the_summary(tmp_path, capsys):
    script = tmp_path / "stalling.py"
    script.write_text(SLOW_SYSTEM)
    out = tmp_path / "out.csv"
    # Points of 0.1 s and a limit of 0.3 s, far above the stalls of a busy machine;
    # the component stalls for 1 s in its step from t=0.5.
    argv = ["run", str(script), "--stop-time", "2", "--step-size", "0.1", "-o", str(out),
            "--realtime", "--overrun", "stop", "--max-lateness", "0.3"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "real-time overrun: the communication point at t=0.6 s" in captured.err
    assert "overruns 1" in captured.out
    rows = out.read_text().splitlines()
    assert float(rows[-1].split(",")[0]) == 6 * 0.1      # the result up to the overrun is kept


def test_info_on_a_system_file_lists_components_parameters_and_connections(tmp_path, capsys):
    from cosim import System
    line = System("line")
    line.add("belt", twins.path("conveyor"), parameters={"length": 12.0})
    line.add("load", twins.path("gain"))
    line.connect("belt.part_flow_out", "load.u")
    for name in ("line.ssp", "line.ssd"):
        line.save(tmp_path / name)
        assert main(["info", str(tmp_path / name)]) == 0
        shown = capsys.readouterr().out.splitlines()
        assert shown[0] == f"system line ({name}): 2 components, 0 nested systems, 1 connection"
        assert "  component belt: conveyor, FMI 2.0" in shown and "    length = 12.0" in shown
        assert shown[-1] == "  belt.part_flow_out -> load.u"
    assert main(["info", str(tmp_path / "missing.ssp")]) == 1
    assert "missing.ssp" in capsys.readouterr().err
