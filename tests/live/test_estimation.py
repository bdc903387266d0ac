"""Estimator: sliding-window estimation of a furnace's heat transfer from plant data.

The "plant" is the furnace twin itself, closed loop, with a heat-up zone
transfer conductance that the twin does not know (nominal 2000 W/K), fed
with a part flow that steps every 5 minutes.  Its recording (zone powers,
part flow, zone temperatures with 0.5 K Gaussian noise) is replayed from a
Parquet file into a twin that runs open loop: the plant's burner powers
drive its burner commands.
"""

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cosim import ConfigurationError, PythonComponent, System, twins
from cosim.live import Replay
from cosim.live.estimation import Estimator
from cosim.live.twin import Alert, Binding, Comparison, LiveTwin

STEP = 10.0
MAX_POWER = {"heat": 250e3, "soak": 100e3, "cool": 100e3}       # furnace model.toml
ZONES = ("heat", "soak", "cool")
TRANSFER = "furnace.heat_zone_transfer"


def record_plant(path, *, stop_time, transfer_at, seed=1, noise=0.5):
    """Run the plant and write what its sensors would have recorded."""
    flows = np.random.default_rng(seed).uniform(0.02, 0.45, size=int(stop_time // 300) + 2)
    system = System("plant")
    system.add("furnace", twins.path("furnace"),
               parameters={"heat_zone_transfer": transfer_at(0.0), "part_mass_flow": flows[0]})
    columns = {"time": [], "flow": []}
    outputs = [f"furnace.{z}_zone_{q}" for q in ("power", "temperature") for z in ZONES]
    with system.start(step_size=STEP, stop_time=stop_time) as plant:
        read = plant.reader(outputs)
        rows = []
        while True:
            t = plant.time
            flow = flows[int(t // 300)]
            plant.set("furnace.part_mass_flow", flow)
            plant.set(TRANSFER, transfer_at(t))
            columns["time"].append(t)
            columns["flow"].append(flow)
            rows.append(read())
            if t >= stop_time - 1e-9:
                break
            plant.step()
    rows = np.array(rows)
    rows[:, 3:] += np.random.default_rng(100 + seed).normal(0.0, noise, size=(len(rows), 3))
    for k, name in enumerate([f"{z}_power" for z in ZONES] + [f"{z}_temp" for z in ZONES]):
        columns[name] = rows[:, k]
    pq.write_table(pa.table(columns), path)
    return path, flows[0]


def furnace_twin(plant, estimator, **options):
    """The twin, started at the plant's initial part flow, following ``plant``
    (the recording and that flow)."""
    recording, flow = plant
    system = System("twin")
    system.add("furnace", twins.path("furnace"),
               parameters={"closed_loop": False, "part_mass_flow": flow})
    sim = system.start(step_size=STEP)
    bindings = [Binding(f"{z}_power", f"furnace.{z}_zone_command", scale=1 / MAX_POWER[z])
                for z in ZONES] + [Binding("flow", "furnace.part_mass_flow")]
    comparisons = [Comparison(f"{z}_temp", f"furnace.{z}_zone_temperature") for z in ZONES]
    return LiveTwin(sim, sources=[Replay(recording)], bindings=bindings,
                    comparisons=comparisons, estimators=[estimator] if estimator else [],
                    **options)


def test_the_estimate_converges_to_the_plants_value(tmp_path):
    true = 1400.0
    recording = record_plant(tmp_path / "plant.parquet", stop_time=7200.0,
                             transfer_at=lambda t: true)
    estimator = Estimator({TRANSFER: (200.0, 5000.0)}, window=1800.0, every=600.0,
                          signals=["heat_temp"])
    events = []
    twin = furnace_twin(recording, estimator, on_alert=events.append,
                        alerts=[Alert("fouled", f"estimate:{TRANSFER}", below=1600.0)])
    with twin:
        assert estimator.estimate == {TRANSFER: 2000.0}     # starts at the twin's value
        twin.run_until(7200.0)
    fits = {t: estimate[TRANSFER] for t, estimate, _ in estimator.history}
    assert list(fits) == [1800.0 + 600.0 * k for k in range(9)]
    assert estimator.fits == 9 and estimator.failures == 0
    # Within 5 % from 5400 s on (three windows; seen with several seeds), and
    # the last one within 2 %.
    late = [v for t, v in fits.items() if t >= 5400.0]
    assert all(abs(v / true - 1) < 0.05 for v in late), fits
    assert abs(fits[6600.0] / true - 1) < 0.02, fits
    # Each estimate was set on the running twin.
    assert twin.simulation.get(TRANSFER) == pytest.approx(fits[6600.0])
    # The fit's residual is the sensor noise once converged.
    assert 0.3 < estimator.history[-1][2] < 0.8
    assert [e.name for e in events] == ["fouled"]
    report = twin.report()
    assert f"estimate {TRANSFER} = " in report and "after 9 fits" in report
    assert "ALERT fouled: estimate:furnace.heat_zone_transfer = " in report
    twin.simulation.stop()


def test_a_drifting_value_is_tracked(tmp_path):
    def true(t):
        return 1400.0 + 800.0 * t / 14_400.0       # fouling: +800 W/K over 4 h

    recording = record_plant(tmp_path / "plant.parquet", stop_time=14_400.0, transfer_at=true)
    estimator = Estimator({TRANSFER: (200.0, 5000.0)}, window=1800.0, every=600.0,
                          signals=["heat_temp"])
    twin = furnace_twin(recording, estimator)
    with twin:
        twin.run_until(14_400.0)
    times = np.array([t for t, _, _ in estimator.history])
    values = np.array([e[TRANSFER] for _, e, _ in estimator.history])
    tracked = times >= 3600.0
    error = values[tracked] / true(times[tracked]) - 1
    assert np.all(np.abs(error) < 0.08), dict(zip(times[tracked], error.round(3)))
    # The estimates rise with the true value: the slope of a line through them
    # is the true slope within 30 %, so the lag stays bounded.
    slope = np.polyfit(times[tracked], values[tracked], 1)[0]
    assert slope == pytest.approx(800.0 / 14_400.0, rel=0.3)
    twin.simulation.stop()


def test_apply_false_leaves_the_twin_alone(tmp_path):
    recording = record_plant(tmp_path / "plant.parquet", stop_time=1800.0,
                             transfer_at=lambda t: 1400.0)
    estimator = Estimator({TRANSFER: (200.0, 5000.0)}, window=1200.0, every=600.0, apply=False)
    twin = furnace_twin(recording, estimator)
    with twin:
        twin.run_until(1800.0)
    assert estimator.fits == 1
    assert estimator.estimate[TRANSFER] != 2000.0
    assert twin.simulation.get(TRANSFER) == 2000.0
    twin.simulation.stop()


def test_too_few_measured_points_skip_the_fit(tmp_path):
    recording = record_plant(tmp_path / "plant.parquet", stop_time=600.0,
                             transfer_at=lambda t: 1400.0)
    estimator = Estimator({TRANSFER: (200.0, 5000.0)}, window=300.0, min_points=1000)
    twin = furnace_twin(recording, estimator)
    with twin:
        twin.run_until(600.0)
    assert (estimator.fits, estimator.failures, estimator.evaluations) == (0, 0, 0)
    twin.simulation.stop()


# The replayed temperatures grow to ~1e200 before they turn non-finite; scipy's
# cost then overflows on its way to rejecting them.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_candidates_the_model_cannot_run_are_counted_and_the_twin_goes_on(tmp_path):
    # Conductances this high make the furnace's RK4 substeps unstable.
    recording = record_plant(tmp_path / "plant.parquet", stop_time=1200.0,
                             transfer_at=lambda t: 1400.0)
    estimator = Estimator({TRANSFER: (1e6, 1e7)}, window=300.0)
    twin = furnace_twin(recording, estimator)
    with twin:
        twin.run_until(1200.0)
    assert twin.time == 1200.0
    assert estimator.fits == 0 and estimator.failures == 3
    assert estimator.last_error.startswith("fit at t=900 s failed: ")   # at 300, 600, 900
    assert "3 failed (fit at t=900 s failed" in twin.report()
    assert twin.simulation.get(TRANSFER) == 2000.0
    twin.simulation.stop()


class Valve(PythonComponent):
    """y = k*u, rated for k*u <= 25: a step beyond the rating fails."""

    parameters = {"k": 1.0}
    inputs = {"u": 0.0}
    outputs = {"y": ("u",)}

    def update_outputs(self):
        self["y"] = self["k"] * self["u"]

    def do_step(self, t, h):
        if self["k"] * self["u"] > 25.0:
            raise ValueError(f"k*u = {self['k'] * self['u']:g} exceeds the rating 25")
        self.update_outputs()


def test_fits_go_on_after_a_failed_replay():
    """The first window's measurements (y = 40 at u = 1) lead the fit beyond the
    valve's rating; later windows (y = 2) are fitted exactly."""
    system = System("valves")
    system.add("valve", Valve)
    with system.start(step_size=1.0) as sim:
        estimator = Estimator({"valve.k": (0.1, 100.0)}, window=10.0)
        twin = LiveTwin(sim, bindings=[Binding("u", "valve.u")],
                        comparisons=[Comparison("y", "valve.y", interpolate=False)],
                        estimators=[estimator])
        for t in range(60):
            twin.store.push("u", float(t), 1.0)
            twin.store.push("y", float(t), 40.0 if t < 10 else 2.0)
            twin.step()
        assert estimator.failures == 1
        assert "fit at t=10 s failed" in estimator.last_error
        assert "exceeds the rating 25" in estimator.last_error
        # Each later window (10 s back to the latest checkpoint) holds only y = 2.
        assert [t for t, _, _ in estimator.history] == [20.0, 30.0, 40.0, 50.0]
        for _, estimate, rms in estimator.history:
            assert estimate["valve.k"] == pytest.approx(2.0, rel=1e-6)
            assert rms < 1e-6
        assert sim.get("valve.k") == pytest.approx(2.0, rel=1e-6)
        twin.close()


def test_outputs_that_follow_their_inputs_are_replayed_as_the_twin_saw_them():
    """Exact data y = 2*u with u changing at every point: the fit is exact."""
    system = System("valves")
    system.add("valve", Valve)
    with system.start(step_size=1.0) as sim:
        estimator = Estimator({"valve.k": (0.1, 100.0)}, window=10.0)
        twin = LiveTwin(sim, bindings=[Binding("u", "valve.u")],
                        comparisons=[Comparison("y", "valve.y", interpolate=False)],
                        estimators=[estimator])
        for t in range(40):
            u = 1.0 + t % 3
            twin.store.push("u", float(t), u)
            twin.store.push("y", float(t), 2.0 * u)
            twin.step()
        assert len(estimator.history) == 3
        for _, estimate, rms in estimator.history:
            assert estimate["valve.k"] == pytest.approx(2.0, rel=1e-6)
            assert rms < 1e-6
        twin.close()


# -- bad set-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize("parameters, options, message", [
    ({}, {"window": 10.0}, "at least one parameter"),
    ({TRANSFER: (5000.0, 200.0)}, {"window": 10.0}, "lower < upper"),
    ({TRANSFER: (200.0, 200.0)}, {"window": 10.0}, "lower < upper"),
    ({TRANSFER: (200.0, math.inf)}, {"window": 10.0}, "must be finite"),
    ({TRANSFER: (200.0, math.nan)}, {"window": 10.0}, "must be finite"),
    ({TRANSFER: 200.0}, {"window": 10.0}, r"bounds of furnace.heat_zone_transfer must be \(lower, upper\)"),
    ({TRANSFER: (1.0, 2.0, 3.0)}, {"window": 10.0}, r"must be \(lower, upper\)"),
    ({TRANSFER: ("low", "high")}, {"window": 10.0}, r"must be \(lower, upper\)"),
    ({TRANSFER: (200.0, 5000.0)}, {"window": 0.0}, "window must be > 0"),
    ({TRANSFER: (200.0, 5000.0)}, {"window": 10.0, "every": 20.0}, r"every must be in \(0, window\]"),
    ({TRANSFER: (200.0, 5000.0)}, {"window": 10.0, "every": 0.0}, r"every must be in \(0, window\]"),
])
def test_bad_estimator_options(parameters, options, message):
    with pytest.raises(ConfigurationError, match=message):
        Estimator(parameters, **options)


@pytest.fixture
def open_furnace():
    system = System("twin")
    system.add("furnace", twins.path("furnace"), parameters={"closed_loop": False})
    sim = system.start(step_size=STEP)
    yield sim
    sim.stop()


@pytest.mark.parametrize("parameter, signals, comparisons, message", [
    ("furnace.no_such_parameter", None, True, "no variable 'no_such_parameter'"),
    ("furnace.heat_zone_capacity", None, True, "heat_zone_capacity is a fixed parameter"),
    ("furnace.heat_zone_temperature", None, True, "heat_zone_temperature is an output"),
    (TRANSFER, None, False, "estimator of furnace.heat_zone_transfer: no comparison of any signal"),
    (TRANSFER, ["pressure"], True, "no comparison of 'pressure'"),
    (TRANSFER, [], True, "no comparison of any signal"),
])
def test_bad_estimator_targets(open_furnace, parameter, signals, comparisons, message):
    estimator = Estimator({parameter: (0.0, 1.0)}, window=100.0, signals=signals)
    compared = [Comparison("heat_temp", "furnace.heat_zone_temperature")] if comparisons else []
    with pytest.raises(ConfigurationError, match=message):
        LiveTwin(open_furnace, comparisons=compared, estimators=[estimator])


def test_spindle_bearing_wear_is_estimated_from_vibration_and_reset_in_the_twin():
    """State reset through a parameter: the estimator fits the spindle's damage
    at the window's start (wear_reset) to the measured vibration, and the twin's
    damage then follows the plant's, which wears 2000 times faster than rated."""
    def spindle(**parameters):
        system = System("s")
        system.add("spindle", twins.path("spindle"), parameters=parameters)
        return system.start(step_size=0.5, record=[] if parameters else None)

    plant = spindle(initial_wear=0.3, wear_rate=2000.0)
    sim = spindle()
    estimator = Estimator({"spindle.wear_reset": (0.0, 1.0)}, window=20.0, every=10.0,
                          signals=["vibration"], sigma={"vibration": 0.01})
    twin = LiveTwin(sim, estimators=[estimator],
                    bindings=[Binding("rpm", "spindle.speed_setpoint"),
                              Binding("load", "spindle.load_torque")],
                    comparisons=[Comparison("vibration", "spindle.vibration")],
                    alerts=[Alert("bearing", "spindle.remaining_life", below=5000.0)])
    rng = np.random.default_rng(0)
    for _ in range(600):
        t = plant.time
        rpm, load = 8000 + 2000 * np.sin(t / 30), 10 + 5 * np.sin(t / 17)
        plant.set("spindle.speed_setpoint", rpm)
        plant.set("spindle.load_torque", load)
        twin.store.push("rpm", t, rpm)
        twin.store.push("load", t, load)
        twin.store.push("vibration", t, plant.get("spindle.vibration") + rng.normal(0, 0.01))
        twin.step()
        plant.step(1)
        if t >= 100.0:
            # The reset lags the plant by at most a window of its fast wear.
            lag = plant.get("spindle.wear") - sim.get("spindle.wear")
            assert -0.002 < lag < 0.005, (t, lag)
    assert estimator.fits >= 25 and estimator.failures == 0
    assert [e.name for e in twin.alerts_fired] == ["bearing"]
    twin.close()
    sim.stop()
    plant.stop()
