"""OpcUaSource against a real asyncua server in another process (opcua_server.py)."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from live.conftest import free_port, wait_until

from cosim.errors import ConfigurationError, SourceUnavailableError
from cosim.live.opcua import OpcUaSource
from cosim.live.signals import SignalStore

TEMPERATURE = "ns=2;s=Furnace.HeatZone.Temperature"


def source(server, nodes, **options) -> OpcUaSource:
    return OpcUaSource(endpoint=server.endpoint, nodes=nodes, publishing_interval=0.05,
                       timeout=5, **options)


def opcua_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("opcua ")]


def test_a_ramp_arrives_with_the_server_timestamps(opcua_server):
    start = time.time()
    store = SignalStore(time_origin=start, max_lead=None)
    nodes = {TEMPERATURE: "furnace.T", "2:Furnace/2:Counter": "furnace.count"}
    with source(opcua_server, nodes) as src:
        src.start(store)
        assert src.connected
        began = time.perf_counter()
        assert wait_until(lambda: src.samples >= 200, timeout=15), src.samples
        rate = src.samples / (time.perf_counter() - began)
    elapsed = time.time() - start
    print(f"\nOPC UA: {rate:,.0f} samples/s from 2 variables changing at 100 Hz")
    store.drain(0.0)
    assert not store.rejected and not src.connected

    t, temperature = store.series("furnace.T")
    tc, count = store.series("furnace.count")
    assert len(t) >= 90 and len(tc) >= 90
    # Server SourceTimestamps: rising, 10 ms apart on average, within this test's time.
    assert np.all(np.diff(t) > 0) and np.all(np.diff(tc) > 0)
    assert -1.0 < t[0] and t[-1] < elapsed + 1.0
    assert 0.005 < np.median(np.diff(t)) < 0.05
    # The ramp 20 + 0.5 k, with no tick skipped, and the counter k at the same stamps.
    assert np.all(np.diff(temperature) == 0.5)
    assert np.all(np.diff(count) == 1)
    common, in_t, in_c = np.intersect1d(t, tc, return_indices=True)
    assert len(common) >= 90
    np.testing.assert_array_equal(temperature[in_t], 20.0 + 0.5 * count[in_c])


def test_bad_data_is_counted_by_reason_and_good_data_still_arrives(opcua_server):
    store = SignalStore(max_lead=None)
    nodes = {"ns=2;s=Line.Sensor": "sensor", "ns=2;s=Line.Label": "label",
             "ns=2;s=Line.DoorOpen": "door", "ns=2;s=Line.NoTimestamp": "plain"}
    with source(opcua_server, nodes) as src:
        src.start(store)
        assert wait_until(lambda: store.rejected["non-finite"] >= 3
                          and store.rejected["malformed"] >= 3, timeout=15), store.rejected
        arrived = time.time()
    store.drain(0.0)
    problems = list(store.problems)
    where = f"OPC UA {opcua_server.endpoint} node"
    assert f"malformed: {where} 'ns=2;s=Line.Sensor': status BadSensorFailure" in problems
    assert f"non-finite: {where} 'ns=2;s=Line.Sensor': value is nan" in problems
    assert any(p.startswith(f"non-numeric: {where} 'ns=2;s=Line.Label': value 'part ")
               and p.endswith("(String) is not a number") for p in problems), problems
    assert store.rejected["non-numeric"] >= 10
    assert set(store.rejected) == {"malformed", "non-finite", "non-numeric"}
    # The bad ticks (k % 10 == 5 or 7) are missing from the sensor; the rest arrived.
    sensor = store.series("sensor")[1]
    assert len(sensor) >= 8 and not set(sensor % 10) & {5.0, 7.0}
    assert set(store.series("door")[1]) == {0.0, 1.0}
    # Without a SourceTimestamp, a sample is stamped on arrival.
    times = store.series("plain")[0]
    assert np.all(np.abs(times - arrived) < 10)


def test_default_names_come_from_the_node_ids_and_paths(opcua_server):
    store = SignalStore(max_lead=None)
    with source(opcua_server, [TEMPERATURE, "2:Furnace/2:Counter"]) as src:
        assert src.signals == ("Furnace.HeatZone.Temperature", "Furnace.Counter")
        src.start(store)
        assert wait_until(lambda: src.samples >= 4)
    store.drain(0.0)
    assert set(store.stats()) == {"Furnace.HeatZone.Temperature", "Furnace.Counter"}


@pytest.mark.parametrize("node, message", [
    ("ns=2;s=Furnace.Nothing", "node 'ns=2;s=Furnace.Nothing' does not exist "
                               "(BadNodeIdUnknown)"),
    ("ns=7;i=1234", "node 'ns=7;i=1234' does not exist"),
    ("ns=2;s=Furnace", "node 'ns=2;s=Furnace' is an Object, not a variable"),
    ("2:Furnace/2:Nothing", "has no node at browse path '2:Furnace/2:Nothing'"),
    ("ns=x;s=y", "OPC UA node 'ns=x;s=y' (at "),
])
def test_a_missing_node_names_the_node_and_the_endpoint(opcua_server, node, message):
    before = len(opcua_threads())
    src = source(opcua_server, {TEMPERATURE: "T", node: "bad"})
    with pytest.raises(ConfigurationError, match=re.escape(message)) as info:
        src.start(SignalStore())
    assert opcua_server.endpoint in str(info.value)
    # Nothing is left running after the failed start.
    assert not src.connected and len(opcua_threads()) == before


def test_a_server_that_is_not_running_gives_a_clear_error():
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/cosim/"
    src = OpcUaSource(endpoint=endpoint, nodes=[TEMPERATURE], timeout=3)
    began = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=f"OPC UA server {endpoint} cannot be "
                                                     "reached") as info:
        src.start(SignalStore())
    assert info.value.endpoint == endpoint
    assert time.monotonic() - began < 5
    assert not opcua_threads()


def test_stop_is_clean_and_the_source_starts_again(opcua_server):
    store = SignalStore(max_lead=None)
    src = source(opcua_server, {TEMPERATURE: "T"})
    src.start(store)
    with pytest.raises(ConfigurationError, match="already started"):
        src.start(store)
    assert wait_until(lambda: src.samples >= 5)
    src.stop()
    src.stop()
    assert not opcua_threads() and not src.connected
    stopped_at = src.samples
    time.sleep(0.3)
    assert src.samples == stopped_at
    src.start(store)
    assert wait_until(lambda: src.samples >= stopped_at + 5)
    src.stop()
    assert not opcua_threads()


def test_the_source_reconnects_when_the_server_comes_back(own_opcua_server):
    store = SignalStore(max_lead=None)
    with source(own_opcua_server, {"ns=2;s=Furnace.Counter": "count"}) as src:
        src.start(store)
        assert wait_until(lambda: src.samples >= 5)
        own_opcua_server.kill()
        assert wait_until(lambda: not src.connected), "the source did not see the server go"
        lost_at = src.samples
        own_opcua_server.start()
        restarted_at = time.time()
        assert wait_until(lambda: src.connected and src.samples >= lost_at + 5, timeout=30), \
            (src.connected, src.samples)
    store.drain(0.0)
    # Stamped by the restarted server (its counter started again from 0).
    times, count = store.series("count")
    after = times > restarted_at
    assert np.count_nonzero(after) >= 5 and np.all(np.diff(count[after]) == 1)


@pytest.mark.parametrize("options, message", [
    ({"endpoint": "http://x", "nodes": ["i=1"]}, "opc.tcp://host:port URL"),
    ({"nodes": []}, "at least one node"),
    ({"nodes": [5]}, "node id or browse path string"),
    ({"nodes": {"i=1": ""}}, "signal name must be a non-empty string"),
    ({"nodes": ["i=1"], "publishing_interval": 0}, "publishing_interval must be > 0"),
    ({"nodes": ["i=1"], "sampling_interval": -1}, "sampling_interval must be >= 0"),
    ({"nodes": ["i=1"], "queue_size": 0}, "queue_size must be an integer >= 1"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ConfigurationError, match=message):
        OpcUaSource(**{"endpoint": "opc.tcp://127.0.0.1:4840", **options})
