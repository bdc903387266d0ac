"""cosim run -o FILE in every format, cosim plot, --plot, --version, and a fast start."""

import json
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pyarrow.parquet as pq
import pytest

from cosim import twins
from cosim.cli import main
from cosim.results import read_result


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".mat"])
def test_run_writes_the_format_of_the_extension(tmp_path, suffix):
    out = tmp_path / f"spindle{suffix}"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "--quiet"]) == 0
    result = read_result(out)
    assert result.names[0] == "speed"           # one FMU: bare names, as fmpy writes them
    assert len(result) == 1001
    if suffix != ".csv":
        assert result.unit("speed") == "rpm"
    if suffix == ".parquet":
        pq.read_schema(out)                    # a real Parquet file, not CSV under its name


def test_run_refuses_an_unknown_extension_before_running(tmp_path, capsys):
    out = tmp_path / "result.xlsx"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "'.xlsx' is not a result format" in err and ".csv, .parquet, .mat" in err
    assert not out.exists()


def test_run_refuses_a_folder_that_does_not_exist(tmp_path, capsys):
    out = tmp_path / "nowhere" / "r.parquet"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "the directory" in err and "nowhere does not exist" in err


def test_run_plot_shortcut_draws_the_run(tmp_path):
    image = tmp_path / "run.png"
    argv = ["run", str(twins.path("spindle")), "--stop-time", "1", "--plot", str(image), "-q"]
    assert main(argv) == 0
    assert matplotlib.image.imread(image).shape[0] > 200


def test_run_plot_with_a_bad_image_name_fails_before_the_run(tmp_path, capsys):
    out = tmp_path / "r.csv"
    argv = ["run", str(twins.path("spindle")), "-o", str(out), "--plot", str(tmp_path / "p.txt")]
    assert main(argv) == 1
    assert "'txt' is not an image format" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".mat"])
def test_plot_command_draws_a_result_file(tmp_path, capsys, suffix):
    out = tmp_path / f"spindle{suffix}"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "--quiet",
                 "--stop-time", "1"]) == 0
    image = tmp_path / "chosen.png"
    assert main(["plot", str(out), "speed", "motor_power", "-o", str(image)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"plotted 2 variables in {'1 panel' if suffix == '.csv' else '2 panels'} to {image}")
    assert matplotlib.image.imread(image).ndim == 3
    assert main(["plot", str(out)]) == 0            # every variable, next to the file
    assert out.with_suffix(".png").stat().st_size > 0


def test_plot_command_names_missing_variables_and_close_matches(tmp_path, capsys):
    out = tmp_path / "r.parquet"
    assert main(["run", str(twins.path("spindle")), "-o", str(out), "-q", "--stop-time", "1"]) == 0
    assert main(["plot", str(out), "sped"]) == 1
    err = capsys.readouterr().err
    assert f"{out}: 'sped' was not recorded (did you mean 'speed'?)" in err


@pytest.mark.parametrize("content", [b"", b"PAR1 truncated", b"time,y\n0,1\n"])
@pytest.mark.parametrize("suffix", [".parquet", ".mat"])
def test_plot_command_refuses_corrupt_files(tmp_path, capsys, suffix, content):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    assert main(["plot", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cosim: error: result file {bad} cannot be read as")
    assert not bad.with_suffix(".png").exists()


def test_plot_command_refuses_missing_and_unknown_files(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "none.csv")]) == 1
    assert "none.csv does not exist" in capsys.readouterr().err
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert main(["plot", str(other)]) == 1
    assert "'.txt' is not a result format" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == "cosim 0.1.0"


HEAVY = ("scipy", "networkx", "dask", "distributed", "grpc", "numpy", "pyarrow", "matplotlib",
         "fmpy", "lxml")


@pytest.mark.parametrize("code", ["import cosim", "import cosim.cli",
                                  "import cosim.cli; cosim.cli.build_parser().format_help()"])
def test_the_command_line_imports_no_heavy_library(code):
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & "
             f"set({list(HEAVY)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_help_runs_without_importing_the_engine():
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cosim", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "plot" in done.stdout and "run" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert not imported & {"cosim.execution", "scipy", "networkx", "grpc", "dask"}
    assert time.perf_counter() - started < 30


def test_the_choices_written_in_the_cli_are_the_library_s():
    from cosim import cli
    from cosim.execution import ALGORITHMS, EXTRAPOLATIONS
    from cosim.execution.options import ON_CRASH
    from cosim.execution.pacing import OVERRUN_POLICIES
    assert cli.ALGORITHMS == ALGORITHMS
    assert cli.EXTRAPOLATIONS == EXTRAPOLATIONS
    assert cli.OVERRUN_POLICIES == OVERRUN_POLICIES
    assert cli.ON_CRASH == ON_CRASH


def test_the_lazy_public_api_gives_every_name():
    done = subprocess.run([sys.executable, "-c",
                           "import cosim\nfor n in cosim.__all__: getattr(cosim, n)\n"
                           "import cosim.execution as e\nassert cosim.Simulation is e.Simulation\n"
                           "print(cosim.twins.path('spindle').name)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "spindle.fmu"


def test_every_name_type_checkers_see_is_served_lazily():
    import ast

    import cosim
    tree = ast.parse(Path(cosim.__file__).read_text())
    checked = next(node for node in tree.body if isinstance(node, ast.If)
                   and getattr(node.test, "id", None) == "TYPE_CHECKING")
    declared = {alias.asname or alias.name for node in checked.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert declared - {"twins"} <= set(cosim.__all__), declared - set(cosim.__all__)
    for name in declared:
        assert getattr(cosim, name) is not None
