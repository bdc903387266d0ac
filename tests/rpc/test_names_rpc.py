"""The Orchestrator addresses components named as other tools name them: set,
get, record and stream by quoted and plain references over gRPC."""

from __future__ import annotations

import threading
import time

import pytest

from cosim import System, twins
from cosim.rpc import Client
from named_fmus import DOTTED_NAMES, rewrite_gain


@pytest.fixture
def plant_ssp(tmp_path):
    plant = System("DP plant")
    plant.add("DP Controller", rewrite_gain(tmp_path / "dotted.fmu", names=DOTTED_NAMES),
              parameters={"k": 2.0})
    plant.add("stage.1", twins.path("gain"), parameters={"k": 3.0})
    plant.add("stage", twins.path("gain"))
    plant.connect("DP Controller.der(out.y)", '"stage.1".u')
    path = tmp_path / "plant.ssp"
    plant.save(path)
    return path


def test_set_get_and_stream_by_such_names(start_server, tmp_path, plant_ssp, monkeypatch):
    monkeypatch.delenv("COSIM_TOKEN", raising=False)
    server = start_server("serve", "--root", tmp_path)
    with Client(server.url, timeout=30) as client:
        plant = client.create_system(plant_ssp)
        assert set(plant.components) == {"DP Controller", "stage.1", "stage"}
        assert plant.components["DP Controller"]["inputs"] == ["in.u[1]"]
        plant.initialize(step_size=0.1, stop_time=1.0, algorithm="gauss-seidel",
                         record=["DP Controller.der(out.y)", "'stage.1'.y"],
                         parameters={'"stage.1".b': 0.5})
        plant.set("DP Controller.in.u[1]", 2.0)
        plant.set('"stage".u', 1.0)
        rows = []

        def watch():
            for row in plant.stream_outputs(['"DP Controller".der(out.y)', "stage.1.y"]):
                rows.append(row)
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(1.0)                        # let the server register the stream
        plant.step(1)
        watcher.join(10)
        assert rows == [(0.1, {'"DP Controller".der(out.y)': 4.0, "stage.1.y": 12.5})]
        assert plant.get("'DP Controller'.der(out.y)") == 4.0
        assert plant.get(['"stage.1".y', "stage.y"]) == {'"stage.1".y': 12.5, "stage.y": 1.0}
