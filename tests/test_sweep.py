"""Ensembles: member designs, runs on Dask against a serial loop, forks from a state."""

import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cosim import ConfigurationError, Simulation, System, twins
from cosim.sweep import (Event, Member, Metric, final, grid, latin_hypercube, random_sample,
                         run_ensemble, scenarios)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "line_twin"))
from line_twin import build_line  # noqa: E402

STOP, STEP = 900.0, 1.0
METRICS = {"wear": final("spindle.wear"), "speed": final("spindle.speed"),
           "energy": final("furnace.energy"), "soak": Metric.parse("maxabs(furnace.soak_deviation)"),
           "delivered": final("transfer.parts_delivered")}
GRID = {"spindle.speed_setpoint": [6000.0, 8000.0, 10000.0],
        "furnace.soak_zone_setpoint": [820.0, 850.0, 880.0]}


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_a_grid_on_dask_gives_the_metrics_of_a_serial_loop(dask_client):
    members = grid(GRID)
    assert len(members) == 9
    on_dask = run_ensemble(build_line(), members, stop_time=STOP, step_size=STEP,
                           metrics=METRICS, client=dask_client)
    serial = run_ensemble(build_line(), members, stop_time=STOP, step_size=STEP,
                          metrics=METRICS, serial=True)
    assert [r["label"] for r in on_dask.rows] == [r["label"] for r in serial.rows]
    for a, b in zip(on_dask.rows, serial.rows):
        assert a["error"] is None and b["error"] is None
        assert a["metrics"] == b["metrics"]
    # and each member is the plain run with those values
    line = build_line()
    line.set_parameter("spindle.speed_setpoint", 8000.0)
    line.set_parameter("furnace.soak_zone_setpoint", 880.0)
    plain = line.simulate(stop_time=STOP, step_size=STEP)
    row = next(r for r in serial.rows if r["values"] == {"spindle.speed_setpoint": 8000.0,
                                                         "furnace.soak_zone_setpoint": 880.0})
    assert row["metrics"]["wear"] == plain["spindle.wear"][-1]
    assert len({r["metrics"]["speed"] for r in serial.rows}) == 3       # the values took effect


def test_the_embedded_local_cluster_runs_members_and_reports_progress():
    seen = []
    ensemble = run_ensemble(build_line(), grid({"spindle.speed_setpoint": [7000.0, 9000.0]}),
                            stop_time=60.0, step_size=STEP, metrics={"speed": final("spindle.speed")},
                            workers=1, progress=lambda done, total, failed: seen.append((done, total)))
    assert [r["error"] for r in ensemble.rows] == [None, None]
    assert seen[-1] == (2, 2) and len(seen) == 2
    assert ensemble.rows[0]["metrics"]["speed"] < ensemble.rows[1]["metrics"]["speed"]


def test_latin_hypercube_and_random_samples_have_the_asked_size_and_bounds():
    ranges = {"spindle.speed_setpoint": (5000.0, 10000.0), "spindle.initial_wear": (0.1, 0.6)}
    design = latin_hypercube(20, ranges, seed=3)
    assert len(design) == 20
    for name, (low, high) in ranges.items():
        values = np.array([m.values[name] for m in design])
        assert np.all((values >= low) & (values <= high))
        # one point in each of the 20 equal strata: the Latin hypercube property
        strata = np.floor((values - low) / (high - low) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert latin_hypercube(20, ranges, seed=3) == design
    sample = random_sample(50, ranges, seed=1)
    assert len(sample) == 50 and sample == random_sample(50, ranges, seed=1)
    speeds = [m.values["spindle.speed_setpoint"] for m in sample]
    assert 5000.0 <= min(speeds) and max(speeds) <= 10000.0


def test_scenario_events_change_the_run_at_their_time():
    stop = Event(300.0, "spindle.speed_setpoint", 3000.0)
    members = scenarios({}, {"spindle.initial_wear": 0.5}) + [Member({}, (stop,))]
    ensemble = run_ensemble(build_line(), members, stop_time=600.0, step_size=STEP, serial=True,
                            record=["spindle.speed", "spindle.wear"],
                            metrics={"speed": final("spindle.speed"),
                                     "speed_at_299": lambda r: float(r["spindle.speed"][299]),
                                     "wear": final("spindle.wear")})
    base, worn, slowed = (r["metrics"] for r in ensemble.rows)
    assert worn["wear"] > base["wear"] + 0.29
    assert slowed["speed_at_299"] == base["speed_at_299"]            # same until the event
    assert slowed["speed"] == pytest.approx(3000.0, rel=1e-3)
    assert base["speed"] == pytest.approx(base["speed_at_299"], rel=1e-6)
    assert ensemble.rows[2]["label"] == "spindle.speed_setpoint=3000.0@300s"


def test_a_member_with_invalid_values_fails_alone_with_its_error(dask_client):
    members = [{"infeed.length": 12.0}, {"infeed.length": -5.0}, {"infeed.length": 8.0}]
    ensemble = run_ensemble(build_line(), members, stop_time=60.0, step_size=STEP,
                            metrics={"wear": final("spindle.wear")}, client=dask_client)
    errors = [r["error"] for r in ensemble.rows]
    assert errors[0] is None and errors[2] is None
    assert "infeed" in errors[1] and "length must be > 0" in errors[1]
    assert len(ensemble.failures) == 1
    assert sorted(r["member"] for r in ensemble.best("wear")) == [0, 2]


def test_a_member_whose_fmu_crashes_fails_alone_with_the_signal(dask_client, test_fmus):
    system = System("crashing")
    system.add("src", twins.path("source"))
    system.add("bad", test_fmus("crashing_gain"), parameters={"crash_time": 0.35})
    system.connect("src.y", "bad.u")
    members = [{"bad.crash_time": 9.0}, {"bad.crash_how": 1}, {"bad.crash_how": 2},
               {"bad.crash_time": 9.0}]
    ensemble = run_ensemble(system, members, stop_time=1.0, step_size=0.1,
                            metrics={"y": final("bad.y")}, client=dask_client)
    errors = [r["error"] for r in ensemble.rows]
    assert errors[0] is None and errors[3] is None, errors
    assert "ComponentCrashedError" in errors[1] and "killed by SIGSEGV" in errors[1]
    assert "killed by SIGABRT" in errors[2] and "at t=0.3 s" in errors[2]
    assert ensemble.rows[0]["metrics"] == ensemble.rows[3]["metrics"]


@pytest.mark.parametrize("members, metrics, record, message", [
    ([{"infeed.length": 8.0}, {"spindle.speed_setpont": 1.0}], None, None,
     "cannot vary 'spindle.speed_setpont': component 'spindle' .* has no variable "
     "'speed_setpont' \\(did you mean 'speed_setpoint'\\?\\)"),
    ([{"spindel.initial_wear": 0.1}], None, None,
     "cannot vary 'spindel.initial_wear': system 'line' has no element 'spindel' "
     "\\(did you mean 'spindle'\\?\\)"),
    ([Member({}, (Event(5.0, "spindle.speed_setpoint", 3000.0), Event(6.0, "spindle.nope", 1)))],
     None, None, "cannot vary 'spindle.nope'"),
    ([{"spindle.speed": 1.0}], None, None,
     "cannot vary 'spindle.speed': it is a continuous output; only parameters and inputs"),
    ([{}], {"x": final("spindle.wera")}, None,
     "metric 'x': 'spindle.wera' is not recorded; members record every output of the system "
     "\\(did you mean 'spindle.wear'"),
    ([{}], {"setpoint": final("spindle.speed_setpoint")}, None,
     "metric 'setpoint': 'spindle.speed_setpoint' is not recorded"),
    ([{}], {"wear": final("spindle.wear")}, ["spindle.speed"],
     "metric 'wear': 'spindle.wear' is not recorded; members record those of record="),
])
def test_names_no_member_could_use_are_refused_before_any_member_runs(members, metrics, record,
                                                                       message):
    started = []
    with pytest.raises(ConfigurationError, match=message):
        run_ensemble(build_line(), members, stop_time=10.0, step_size=STEP, serial=True,
                     metrics=metrics, record=record,
                     progress=lambda *done: started.append(done))
    assert started == []


def test_metrics_that_are_callables_are_not_checked_and_a_failing_one_is_that_members_error():
    ensemble = run_ensemble(build_line(), [{}], stop_time=10.0, step_size=STEP, serial=True,
                            metrics={"x": lambda result: result["spindle.nothing"][-1]})
    assert "spindle.nothing" in ensemble.rows[0]["error"] and "not recorded" in ensemble.rows[0]["error"]


def test_forked_members_match_a_run_continued_from_the_same_state():
    sim = Simulation(build_line(), step_size=STEP, stop_time=STOP)
    sim.run_until(300.0)
    state = sim.save_state()
    sim.set("spindle.speed_setpoint", 7000.0)
    continued = sim.run()
    sim.stop()
    ensemble = run_ensemble(build_line(), [{"spindle.speed_setpoint": 7000.0}], stop_time=STOP,
                            step_size=STEP, start_state=state, serial=True,
                            metrics={"wear": final("spindle.wear"), "speed": final("spindle.speed"),
                                     "start": lambda r: float(r.time[0])})
    row = ensemble.rows[0]
    assert row["error"] is None
    assert row["metrics"]["start"] == 300.0
    assert row["metrics"]["wear"] == continued["spindle.wear"][-1]
    assert row["metrics"]["speed"] == continued["spindle.speed"][-1]


def test_full_results_and_the_table_go_to_parquet(tmp_path):
    ensemble = run_ensemble(build_line(), grid({"spindle.speed_setpoint": [6000.0, 9000.0]}),
                            stop_time=30.0, step_size=STEP, serial=True, output_dir=tmp_path / "runs",
                            record=["spindle.speed"], metrics={"speed": final("spindle.speed")})
    files = sorted((tmp_path / "runs").glob("*.parquet"))
    assert [f.name for f in files] == ["member-00000.parquet", "member-00001.parquet"]
    table = pq.read_table(files[1])
    assert table.column_names == ["time", "spindle.speed"] and table.num_rows == 31
    assert table.column("spindle.speed")[-1].as_py() == ensemble.rows[1]["metrics"]["speed"]
    ensemble.to_parquet(tmp_path / "sweep.parquet")
    summary = pq.read_table(tmp_path / "sweep.parquet").to_pydict()
    assert summary["spindle.speed_setpoint"] == [6000.0, 9000.0]
    assert summary["speed"] == [r["metrics"]["speed"] for r in ensemble.rows]
    assert summary["error"] == [None, None]


def test_bad_designs_are_refused_with_the_name_at_fault():
    with pytest.raises(ConfigurationError, match="spindle.speed_setpoint needs a non-empty list"):
        grid({"spindle.speed_setpoint": []})
    with pytest.raises(ConfigurationError, match="wear: a range is"):
        latin_hypercube(5, {"wear": (1.0, 0.0)})
    with pytest.raises(ConfigurationError, match="KIND"):
        Metric.parse("spindle.wear")
    with pytest.raises(ConfigurationError, match="'median' is not one of"):
        Metric.parse("median(spindle.wear)")
    with pytest.raises(ConfigurationError, match="no members"):
        run_ensemble(build_line(), [], stop_time=1.0, step_size=1.0, serial=True)
    with pytest.raises(ConfigurationError, match="a member must be a dict"):
        run_ensemble(build_line(), [3], stop_time=1.0, step_size=1.0, serial=True)
    ensemble = run_ensemble(build_line(), [{}], stop_time=2.0, step_size=1.0, serial=True,
                            metrics={"wear": final("spindle.wear")})
    with pytest.raises(ConfigurationError, match="no metric 'speed'"):
        ensemble.best("speed")


def test_a_saved_state_only_loads_into_the_same_system_and_steps():
    sim = Simulation(build_line(), step_size=STEP, stop_time=100.0)
    sim.run_until(10.0)
    state = sim.save_state()
    sim.stop()
    with Simulation(build_line(), step_size=0.5, stop_time=100.0) as finer:
        with pytest.raises(ConfigurationError, match="step_size=1.0"):
            finer.load_state(state)
    with Simulation(build_line(), step_size=STEP, stop_time=100.0) as same:
        with pytest.raises(ConfigurationError, match="not a state saved"):
            same.load_state(b"garbage")
        same.load_state(state)
        assert same.time == 10.0
    with Simulation(_solo(), step_size=STEP, stop_time=100.0) as solo:
        with pytest.raises(ConfigurationError, match="components"):
            solo.load_state(state)


def _solo():
    from cosim import System, twins
    system = System("solo")
    system.add("spindle", twins.path("spindle"))
    return system


LINE_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "line_twin" / "line_twin.py"


def _cosim(*args, cwd=None):
    import subprocess
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_the_sweep_command_writes_the_table_and_ranks_members(tmp_path):
    out = tmp_path / "sweep.parquet"
    done = _cosim("sweep", LINE_SCRIPT, "--vary", "spindle.speed_setpoint=6000:10000:3",
                  "--vary", "spindle.initial_wear=0.1,0.5", "--metric", "wear=final(spindle.wear)",
                  "--metric", "max(spindle.vibration)", "--stop-time", 600, "--output", out,
                  "--best", "wear", "--minimize", "--top", 2, "--workers", 2, "--progress")
    assert done.returncode == 0, done.stderr
    assert "6 members in" in done.stdout and "0 failed" in done.stdout
    assert "6/6 members, 0 failed" in done.stderr
    table = pq.read_table(out).to_pydict()
    assert table["spindle.speed_setpoint"] == [6000.0, 6000.0, 8000.0, 8000.0, 10000.0, 10000.0]
    assert table["spindle.initial_wear"] == [0.1, 0.5] * 3
    lowest = min(range(6), key=lambda i: table["wear"][i])
    assert table["label"][lowest] in done.stdout.split("lowest first):")[1].splitlines()[2]
    assert "max(spindle.vibration)" in table


def test_the_sweep_command_exits_1_when_a_member_failed_unless_failures_are_allowed(tmp_path):
    args = ("sweep", LINE_SCRIPT, "--vary", "infeed.length=12,-1", "--metric",
            "final(spindle.wear)", "--stop-time", 30, "--serial", "-q")
    done = _cosim(*args)
    assert done.returncode == 1, done.stderr
    assert "2 members" in done.stdout and "1 failed" in done.stdout
    assert "failed: infeed.length=-1" in done.stdout and "length must be > 0" in done.stdout
    assert "1 of 2 members failed (--allow-failures" in done.stderr
    allowed = _cosim(*args, "--allow-failures")
    assert allowed.returncode == 0, allowed.stderr
    assert "1 failed" in allowed.stdout and "failed: infeed.length=-1" in allowed.stdout


def test_a_failed_member_kept_in_a_cycle_is_freed_cleanly_at_exit():
    # The failed member's core is collected with its error at exit.  glibc
    # fills freed memory with 0xa5 here (MALLOC_PERTURB_), so a core that read
    # memory the collector had already freed would crash instead of exiting 1.
    import os
    import subprocess
    done = subprocess.run(
        [sys.executable, "-m", "cosim", "sweep", str(LINE_SCRIPT), "--param", "infeed.length=12,-1",
         "--metric", "final(spindle.wear)", "--stop-time", "30", "--serial", "-q"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "MALLOC_PERTURB_": "165"})
    assert done.returncode == 1, done.stderr


def test_without_metrics_the_sweep_command_takes_the_final_value_of_every_output(tmp_path):
    out = tmp_path / "sweep.parquet"
    done = _cosim("sweep", LINE_SCRIPT, "--vary", "spindle.speed_setpoint=6000,9000",
                  "--stop-time", 20, "--serial", "-q", "--output", out, "--best", "spindle.speed")
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out).to_pydict()
    line = build_line()
    outputs = [f"{c}.{v.name}" for c, m in line.components.items() for v in m.outputs]
    assert [n for n in table if n in outputs] == outputs
    for row, setpoint in enumerate((6000.0, 9000.0)):
        line.set_parameter("spindle.speed_setpoint", setpoint)
        plain = line.simulate(stop_time=20.0, step_size=STEP)
        assert {n: table[n][row] for n in outputs} == {n: plain[n][-1] for n in outputs}
    # The summary ranks by --best and shows a few metrics; the table has them all.
    assert "best by spindle.speed (highest first):" in done.stdout
    assert f"({len(outputs) - 5} more metrics in the table of --output)" in done.stdout


@pytest.mark.parametrize("args, words", [
    (("--vary", "a=1:2"), "LOW:HIGH:N"),
    (("--vary", "spindle.speed_setpoint=1,2", "--metric", "avg(x)"), "'avg'"),
    (("--metric", "final(spindle.wear)"), "at least one --vary NAME=SPEC"),
    (("--vary", "spindle.speed_setpont=1,2"),
     "cannot vary 'spindle.speed_setpont': component 'spindle' (spindle) has no variable "
     "'speed_setpont' (did you mean 'speed_setpoint'?)"),
    (("--vary", "spindle.speed_setpoint=1,2", "--vary", "spindel.initial_wear=0.1"),
     "system 'line' has no element 'spindel' (did you mean 'spindle'?)"),
    (("--vary", "spindle.speed_setpoint=1,2", "--metric", "w=max(spindle.vibraton)"),
     "metric 'w': 'spindle.vibraton' is not recorded; members record every output of the system "
     "(did you mean 'spindle.vibration'"),
    (("--vary", "spindle.speed_setpoint=1,2", "--metric", "wear=final(spindle.wear)",
      "--best", "waer"), "--best 'waer' is not a metric (did you mean 'wear'?); metrics: wear"),
])
def test_bad_sweep_arguments_exit_2_before_any_member_starts(args, words):
    bad = _cosim("sweep", LINE_SCRIPT, *args, "--serial", "--stop-time", 10, "--progress")
    assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)
    assert " failed" not in bad.stderr + bad.stdout      # no progress, no summary: none started
    assert "Traceback" not in bad.stderr


def test_back_to_back_ensembles_on_one_client_do_not_lose_their_shipped_system(dask_client):
    members = grid({"spindle.speed_setpoint": [7000.0, 9000.0]})
    for _ in range(4):      # the same system and settings each time, as in a benchmark loop
        ensemble = run_ensemble(build_line(), members, stop_time=30.0, step_size=STEP,
                                metrics={"speed": final("spindle.speed")}, client=dask_client)
        assert [r["error"] for r in ensemble.rows] == [None, None]


def test_killing_a_worker_mid_run_loses_no_member():
    import os
    import signal
    import threading

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    members = grid({"spindle.speed_setpoint": list(np.linspace(5000.0, 10000.0, 16))})
    killed = threading.Event()

    def kill_one_worker(done, total, failed):
        if done == 3 and not killed.is_set():
            killed.set()
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)        # the nanny starts a new worker

    try:
        ensemble = run_ensemble(build_line(), members, stop_time=1200.0, step_size=STEP,
                                metrics={"wear": final("spindle.wear")}, client=client,
                                progress=kill_one_worker)
    finally:
        client.close()
        cluster.close()
    assert killed.is_set()
    assert [r["error"] for r in ensemble.rows] == [None] * 16
    serial = run_ensemble(build_line(), members, stop_time=1200.0, step_size=STEP,
                          metrics={"wear": final("spindle.wear")}, serial=True)
    assert [r["metrics"] for r in ensemble.rows] == [r["metrics"] for r in serial.rows]


def test_a_scheduler_address_is_used_as_an_existing_cluster(dask_client):
    address = dask_client.scheduler.address
    assert address.startswith("tcp://")
    ensemble = run_ensemble(build_line(), grid({"spindle.speed_setpoint": [7000.0]}),
                            stop_time=30.0, step_size=STEP, metrics={"speed": final("spindle.speed")},
                            client=address)
    assert ensemble.rows[0]["error"] is None
    assert dask_client.scheduler_info()["workers"]          # the cluster is still up for others


def test_names_in_nested_systems_are_checked_through_their_ports_and_paths():
    from test_nesting import make_factory, make_line
    factory = make_factory(make_line())
    members = grid({"speed": [2000.0, 4000.0], "line2.furnace.cool_zone_setpoint": [500.0]})
    ensemble = run_ensemble(factory, members, stop_time=5.0, step_size=0.5, serial=True,
                            metrics={"exit": final("exit2"),
                                     "spindle": final("line1.spindle.speed")})
    assert [r["error"] for r in ensemble.rows] == [None, None]
    assert ensemble.rows[0]["metrics"]["spindle"] < ensemble.rows[1]["metrics"]["spindle"]
    with pytest.raises(ConfigurationError, match="cannot vary 'line2.furnace.cool_zone_setpont'"
                                                 ".*did you mean 'cool_zone_setpoint'"):
        run_ensemble(factory, [{"line2.furnace.cool_zone_setpont": 500.0}], stop_time=5.0,
                     step_size=0.5, serial=True)
    with pytest.raises(ConfigurationError, match="metric 'x': 'exit3' is not recorded.*"
                                                 "did you mean 'exit2'"):
        run_ensemble(factory, members, stop_time=5.0, step_size=0.5, serial=True,
                     metrics={"x": final("exit3")})


def test_a_worker_reads_the_system_from_a_private_folder_it_removes(tmp_path, monkeypatch):
    import os
    import tempfile

    from cosim import CosimError, sweep
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(sweep, "_LOADED", {})
    shipped = sweep._Shipped(build_line())
    # A link planted at a name the folder could be given is not followed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (scratch / f"cosim-ensemble-{os.getpid()}-{shipped.key[:16]}").symlink_to(elsewhere)
    system = shipped.load()
    assert "spindle" in system.components
    assert list(elsewhere.iterdir()) == []

    def ensemble_folders():
        return [p for p in scratch.iterdir() if p.name.startswith("cosim-ensemble-") and not p.is_symlink()]

    assert ensemble_folders() == []
    broken = sweep._Shipped(build_line())
    broken.ssp, broken.key = b"PK\x03\x04 not an archive", "broken"
    with pytest.raises(CosimError):
        broken.load()
    assert ensemble_folders() == []
