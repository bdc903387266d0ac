"""A live furnace twin that follows its plant over MQTT and finds its fouling.

The plant (``plant.py``, another process) publishes its burner powers, part
flow and zone temperatures to an MQTT broker at 1 kHz, 600 times faster than
real time.  The twin, the furnace FMU running open loop, takes the measured
burner powers and part flow as inputs, compares its zone temperatures with the
measured ones, and re-estimates the heat-up zone's heat-transfer conductance
every 10 plant minutes from the last 30 (scipy least squares over replays of
the window).  When the estimate falls below 1600 W/K an alert asks for a
cleaning; the twin then forks its live state into two what-if runs of the
next shift (cleaned now, or cleaning deferred) that run far faster than real
time while the twin keeps following the plant.  The twin keeps to the wall
clock but never steps past the plant's data: on a busy machine it waits for
late messages, so that what it estimates does not depend on the machine's load.

    python examples/live_furnace/live_furnace.py [--seconds 30] [--plot live.png] [--http-port 8050]

It starts a private ``mosquitto`` broker on a free port unless ``--broker
HOST:PORT`` names one.  With ``--http-port`` the twin is shown live in the
browser (the address printed carries the token; needs the ``web`` extra).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import cosim
from cosim import twins
from cosim.live import Alert, Binding, Comparison, Estimator, LiveTwin, SignalStore
from cosim.live.mqtt import MqttSource

HERE = Path(__file__).resolve().parent
FACTOR = 600.0                      # plant seconds per wall second
STEP = 10.0                         # twin communication step (plant seconds)
ZONES = ("heat", "soak", "cool")
ESTIMATED = "furnace.heat_zone_transfer"
CLEANING_LIMIT = 1600.0             # W/K
SHIFT = 8 * 3600.0                  # s


def start_broker() -> tuple[subprocess.Popen, int, Path]:
    """A private mosquitto on a free loopback port."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                          if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        raise SystemExit("mosquitto is not installed (Debian: apt-get install mosquitto), "
                         "or give --broker HOST:PORT")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="cosim-broker-"))
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                      "max_queued_messages 100000\n")
    broker = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker, port, folder
        except OSError:
            time.sleep(0.05)
    broker.kill()
    raise SystemExit(f"mosquitto did not accept connections on port {port}")


def wait_for_plant(store: SignalStore, t: float, plant: subprocess.Popen) -> None:
    """Wait until the plant's samples reach time ``t``, or the plant has ended.

    The twin keeps to the wall clock, but a busy machine delays the plant's
    messages; a twin that stepped on without them would hold old burner powers,
    compare with old temperatures, and estimate something that depends on the
    load of the machine rather than on the plant.
    """
    while plant.poll() is None:
        store.drain(t)
        newest = store.stats().get("heat_temperature")
        if newest is not None and newest.last_time >= t:
            return
        time.sleep(0.0005)


def build_twin() -> cosim.System:
    system = cosim.System("furnace_twin")
    system.add("furnace", twins.path("furnace"), parameters={"closed_loop": False})
    return system


def what_if(twin: LiveTwin, estimate: float) -> None:
    """The next shift from the live state: cleaned now, or cleaning deferred."""
    runs = {"clean now": twin.what_if(stop_time=twin.time + SHIFT,
                                      changes={ESTIMATED: 2000.0}),
            "defer a shift": twin.what_if(stop_time=twin.time + SHIFT,
                                          changes={ESTIMATED: estimate})}
    print(f"what-if from the live state at t={twin.time / 3600:.2f} h, next {SHIFT / 3600:g} h:")
    for label, run in runs.items():
        result = run.result(timeout=120)
        exit_t = result["furnace.part_exit_temperature"]
        print(f"  {label:<14} mean part exit {np.mean(exit_t):7.2f} degC, heat-zone mean "
              f"{np.mean(result['furnace.heat_zone_temperature']):7.2f} degC "
              f"({run.speedup:,.0f}x real time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="wall seconds to follow")
    parser.add_argument("--broker", help="HOST:PORT of an MQTT broker (default: start one)")
    parser.add_argument("--plot", help="write the estimate and residuals to this image")
    parser.add_argument("--http-port", type=int, help="show the twin live in the browser on "
                        "this port (0: any free one)")
    parser.add_argument("--linger", type=float, default=0.0,
                        help="seconds to keep the live view open after the run")
    args = parser.parse_args()

    broker = folder = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        port = int(port)
    else:
        broker, port, folder = start_broker()
        host = "127.0.0.1"
    plant = view = None
    try:
        sim = build_twin().start(step_size=STEP)
        # Measured burner powers drive the open-loop twin's commands (0..1).
        bindings = [Binding(f"{z}_power", f"furnace.{z}_zone_command",
                            scale=1 / sim.get(f"furnace.{z}_zone_max_power")) for z in ZONES]
        bindings.append(Binding("part_flow", "furnace.part_mass_flow"))
        comparisons = [Comparison(f"{z}_temperature", f"furnace.{z}_zone_temperature",
                                  max_age=5 * STEP) for z in ZONES]
        estimator = Estimator({ESTIMATED: (300.0, 4000.0)}, window=1800.0, every=600.0,
                              signals=["heat_temperature"], sigma={"heat_temperature": 0.5})
        alerts = [Alert("heat-up zone fouled: schedule a cleaning", f"estimate:{ESTIMATED}",
                        below=CLEANING_LIMIT)]
        signals = [b.signal for b in bindings] + [c.signal for c in comparisons]
        store = SignalStore(signals + ["true_heat_transfer"], max_lead=FACTOR, history=3600.0)
        source = MqttSource(host=host, port=port, topics=["plant/furnace"], qos=0)
        twin = LiveTwin(sim, sources=[source], bindings=bindings, comparisons=comparisons,
                        estimators=[estimator], alerts=alerts, realtime=FACTOR, store=store)
        twin.open()                                # subscribe before the plant publishes
        if args.http_port is not None:
            from cosim.web import show
            view = show(twin, name="live furnace twin", port=args.http_port)
            print(f"live view on {view.url}", flush=True)
        plant = subprocess.Popen(
            [sys.executable, str(HERE / "plant.py"), "--host", host, "--port", str(port),
             "--factor", str(FACTOR), "--seconds", str(args.seconds)],
            stdout=subprocess.PIPE, text=True)
        if "ready" not in plant.stdout.readline():
            raise SystemExit("the plant process did not start")
        while store.pending == 0:                  # the plant's clock starts with its first message
            time.sleep(0.001)
        twin.start_pacing()
        print(f"following the plant for {args.seconds:g} s ({args.seconds * FACTOR / 3600:.1f} "
              f"plant hours) through the MQTT broker at {host}:{port}")
        forked = False
        truth_log = []
        while plant.poll() is None or store.pending:
            wait_for_plant(store, twin.time, plant)
            twin.step()
            if twin.points % 60 == 0:
                true = store.value_at("true_heat_transfer", twin.time)
                truth_log.append((twin.time, estimator.estimate[ESTIMATED],
                                  true[0] if true else np.nan))
            if twin.alerts_fired and not forked:
                forked = True
                what_if(twin, estimator.estimate[ESTIMATED])
        print(plant.stdout.read().strip())
        print(twin.report())
        print(f"MQTT: {source.messages} messages, {source.samples} samples received")
        print("estimate of the heat-up zone's hA against the plant's true value:")
        for t, estimate, true in truth_log[::max(1, len(truth_log) // 8)] + truth_log[-1:]:
            print(f"  t={t / 3600:5.2f} h  estimate {estimate:7.1f} W/K  true {true:7.1f} W/K  "
                  f"error {100 * (estimate - true) / true:+5.1f}%")
        if args.plot:
            plot(twin, truth_log, args.plot)
        if view is not None and args.linger > 0:
            print(f"the live view stays open for {args.linger:g} s", flush=True)
            time.sleep(args.linger)
        twin.close()
        sim.stop()
    finally:
        if view is not None:
            view.stop()
        if plant is not None and plant.poll() is None:
            plant.kill()
        if broker is not None:
            broker.terminate()
            broker.wait(5)
            shutil.rmtree(folder, ignore_errors=True)


def plot(twin: LiveTwin, truth_log, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = np.array(truth_log)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(log[:, 0] / 3600, log[:, 2], label="plant (true)")
    top.plot(log[:, 0] / 3600, log[:, 1], label="twin estimate")
    top.axhline(CLEANING_LIMIT, color="gray", ls=":", label="cleaning limit")
    top.set_ylabel("heat-up zone hA (W/K)")
    top.legend()
    times, residuals = twin.residuals.window(-np.inf)
    for i, c in enumerate(twin.comparisons):
        bottom.plot(times / 3600, residuals[:, i], lw=0.6, label=c.signal)
    bottom.set_ylabel("measured - twin (K)")
    bottom.set_xlabel("plant time (h)")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
