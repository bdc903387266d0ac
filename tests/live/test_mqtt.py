"""MqttSource and MqttPublisher against a real broker (mosquitto, or amqtt from PyPI)."""

from __future__ import annotations

import json
import math
import ssl
import time

import numpy as np
import pytest
from live.conftest import free_port, wait_until

from cosim.errors import ConfigurationError, SourceUnavailableError
from cosim.live.mqtt import (MqttPublisher, MqttSource, encode_batch, encode_sample,
                             encode_values)
from cosim.live.signals import SignalStore

HOST = "127.0.0.1"


def source(broker, topics, **options) -> MqttSource:
    return MqttSource(host=HOST, port=broker.port, topics=topics, timeout=5, **options)


def publisher(broker, **options) -> MqttPublisher:
    return MqttPublisher(host=HOST, port=broker.port, timeout=5, **options)


def received(store: SignalStore, source: MqttSource, samples: int, *, rejected: int = 0):
    """Wait for ``samples`` samples and ``rejected`` rejections, then drain the store."""
    assert wait_until(lambda: source.samples >= samples
                      and sum(store.rejected.values()) >= rejected), \
        (source.samples, store.rejected, list(store.problems))
    store.drain(0.0)


def test_every_payload_shape_arrives_with_its_times_and_values(broker):
    start = time.time()
    store = SignalStore(time_origin=start, max_lead=None)
    with source(broker, ["plant/#"], prefix="plant/") as src, \
            publisher(broker, prefix="plant/") as pub:
        src.start(store)
        assert src.connected and src.connections == 1
        pub.publish("spindle/speed", 1500.0, time=start + 1.0)
        pub.publish_batch("furnace/zone1", [start + 0.1, start + 0.2, start + 0.3],
                          [800, 801.5, 803])
        pub.publish_values("line", {"parts": 7, "door_open": True}, time=start + 2.0)
        pub.publish_number("conveyor/speed", 0.75)
        received(store, src, 7)
    after = time.time()

    assert src.messages == 4 and src.samples == 7 and not store.rejected
    assert store.series("spindle/speed")[0] == pytest.approx([1.0])
    assert store.series("spindle/speed")[1].tolist() == [1500.0]
    times, values = store.series("furnace/zone1")
    assert times == pytest.approx([0.1, 0.2, 0.3]) and values.tolist() == [800, 801.5, 803]
    # Multi-signal messages are named by their keys, not by their topic.
    assert store.series("parts")[1].tolist() == [7.0]
    assert store.series("door_open")[1].tolist() == [1.0]
    assert store.series("parts")[0] == pytest.approx([2.0])
    # A bare number is stamped with its arrival on the wall clock, minus time_origin.
    times, values = store.series("conveyor/speed")
    assert values.tolist() == [0.75]
    assert 0.0 <= times[0] <= after - start


def test_topic_names_follow_the_mapping_wildcards_and_prefix(broker):
    store = SignalStore(max_lead=None)
    topics = {"plant/furnace/temperature": "furnace.T",      # one topic, renamed
              "plant/+/speed": None,                          # named after each topic
              "sensors/+/pressure": "pressure",               # every match feeds one signal
              "plant/line/#": None,
              "plant/cells": None}
    with source(broker, topics, prefix="plant/", separator=".", key_prefix="cell.") as src, \
            publisher(broker) as pub:
        assert set(src.signals) == {"furnace.T", "pressure", "cells"}
        src.start(store)
        pub.publish("plant/furnace/temperature", 850, time=1)
        pub.publish("plant/spindle/speed", 1200, time=1)
        pub.publish("plant/conveyor/speed", 0.5, time=1)
        pub.publish("sensors/a/pressure", 2.0, time=1)
        pub.publish("sensors/b/pressure", 2.5, time=2)
        pub.publish("plant/line/a/b", 3, time=1)
        pub.publish_values("plant/cells", {"c1": 10, "c2": 20}, time=1)
        pub.publish("plant/other", 99, time=1)                # not subscribed
        pub.publish("plant/furnace/pressure", 99, time=1)     # not subscribed
        received(store, src, 8)
        time.sleep(0.2)                                       # room for stray messages
        store.drain(0.0)
    assert {name: store.series(name)[1].tolist() for name in store.stats()} == {
        "furnace.T": [850], "spindle.speed": [1200], "conveyor.speed": [0.5],
        "pressure": [2.0, 2.5], "line.a.b": [3], "cell.c1": [10], "cell.c2": [20]}
    assert src.messages == 7 and not store.rejected


def test_malformed_messages_are_counted_by_reason_and_the_source_keeps_working(broker):
    store = SignalStore(max_lead=None)
    bad = [
        (b"{not json", "malformed", "not JSON"),
        (b"[1, 2]", "malformed", "expected a JSON object"),
        (b'{"v": 1}', "malformed", "missing key 't'"),
        (b'{"t": 1}', "malformed", "missing key 'v'"),
        (b'{"t": [1, 2], "v": [1]}', "malformed", "2 times but 1 values"),
        (b'{"t": [1, 2], "v": 3}', "malformed", "arrays for both"),
        (b'{"t": 1, "values": [1, 2]}', "malformed", "'values' must be an object"),
        (b'{"t": 1, "v": {"a": 1}}', "malformed", "not a JSON object"),
        (b'{"t": 1, "v": "12.5"}', "non-numeric", "'12.5' is not a number"),
        (b'{"t": "now", "v": 1}', "non-numeric", "'now' is not a number"),
        (b'{"t": true, "v": 1}', "non-numeric", "True is not a number"),
        (b'{"t": 1, "v": NaN}', "non-finite", "nan"),
        (b'{"t": 1, "v": null}', "non-finite", "None"),
        (b'{"t": Infinity, "v": 1}', "non-finite", "inf"),
        (b"NaN", "non-finite", "nan"),
        (b"\xff\xfe", "malformed", "not JSON"),
        (b"x" * 2000, "malformed", "larger than max_payload"),
    ]
    with source(broker, ["bad/#", "good"], max_payload=1000) as src, \
            publisher(broker) as pub:
        src.start(store)
        for i, (payload, reason, what) in enumerate(bad):
            pub.publish_raw(f"bad/{i}", payload)
            assert wait_until(lambda i=i: sum(store.rejected.values()) == i + 1), payload
            problem = store.problems[-1]
            assert problem.startswith(f"{reason}: MQTT topic 'bad/{i}': ") and what in problem, \
                (payload, problem)
        # In a batch only the bad samples go: 2 strings and a NaN of 6.
        pub.publish_raw("bad/batch", b'{"t": [1, 2, 3, 4, 5, 6], "v": [1, "x", 3, NaN, [5], 6]}')
        pub.publish_raw("bad/values", b'{"t": 7, "values": {"a": 1, "b": "on", "c": null}}')
        pub.publish("good", 42.0, time=8)
        received(store, src, 5, rejected=len(bad) + 5)
        assert src.connected

    expected = {}
    for _, reason, _ in bad:
        expected[reason] = expected.get(reason, 0) + 1
    expected["non-numeric"] += 3
    expected["non-finite"] += 2
    assert dict(store.rejected) == expected
    problems = list(store.problems)
    assert "non-numeric: MQTT topic 'bad/batch': batch sample 1 is not a number (and 1 more)" \
        in problems
    assert "non-finite: MQTT topic 'bad/values': signal 'c' is not finite" in problems
    assert store.series("bad/batch")[0].tolist() == [1, 3, 6]
    assert store.series("a")[1].tolist() == [1]
    assert store.series("good")[1].tolist() == [42.0]
    assert src.messages == len(bad) + 3


def test_payload_modes_restrict_the_accepted_shapes(broker):
    store = SignalStore(max_lead=None)
    with source(broker, ["numbers"], payload="number") as numbers, \
            source(broker, ["json"], payload="json") as objects, publisher(broker) as pub:
        numbers.start(store)
        objects.start(store)
        pub.publish_number("numbers", 1.25)
        pub.publish("numbers", 2.0, time=1)
        pub.publish_number("json", 3.0)
        pub.publish("json", 4.0, time=1)
        received(store, numbers, 1, rejected=2)
        assert wait_until(lambda: objects.samples == 1)
    assert store.rejected == {"non-numeric": 1, "malformed": 1}
    assert any("MQTT topic 'numbers': payload" in p for p in store.problems)
    assert any("MQTT topic 'json': expected a JSON object" in p for p in store.problems)


def test_a_broker_that_is_not_running_gives_a_clear_error():
    port = free_port()
    src = MqttSource(host=HOST, port=port, topics=["a"], timeout=3)
    began = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=f"MQTT broker 127.0.0.1:{port} cannot be "
                                                     "reached") as info:
        src.start(SignalStore())
    assert info.value.endpoint == f"127.0.0.1:{port}"
    assert time.monotonic() - began < 3
    assert not src.connected
    src.stop()
    with pytest.raises(SourceUnavailableError, match=f"127.0.0.1:{port}"):
        MqttPublisher(host=HOST, port=port, timeout=3)
    with pytest.raises(SourceUnavailableError, match="no-such-host.invalid:1883"):
        MqttSource(host="no-such-host.invalid", topics=["a"], timeout=3).start(SignalStore())


def test_a_broker_that_refuses_the_credentials_gives_a_clear_error(start_broker):
    broker = start_broker(users={"plant": "s3cret"})
    store = SignalStore(max_lead=None)
    for user, password in ((None, None), ("plant", "wrong")):
        src = source(broker, ["a"], username=user, password=password)
        with pytest.raises(SourceUnavailableError,
                           match=f"MQTT broker 127.0.0.1:{broker.port}: the broker refused the "
                                 "connection: Not authorized"):
            src.start(store)
        assert not src.connected
    with source(broker, ["a"], username="plant", password="s3cret") as src, \
            publisher(broker, username="plant", password="s3cret") as pub:
        src.start(store)
        pub.publish("a", 1.0, time=1)
        received(store, src, 1)
    assert store.series("a")[1].tolist() == [1.0]


def test_tls_with_a_trusted_certificate(start_broker, tmp_path):
    from rpc_servers import self_signed
    cert, key = self_signed(tmp_path, hosts=("127.0.0.1",))
    broker = start_broker(tls=(cert, key))
    context = ssl.create_default_context(cafile=str(cert))
    store = SignalStore(max_lead=None)
    with source(broker, ["secure"], tls=context) as src, publisher(broker, tls=context) as pub:
        src.start(store)
        pub.publish("secure", 5.0, time=1)
        received(store, src, 1)
    assert store.series("secure")[1].tolist() == [5.0]
    # Without the certificate in its trust store, the client refuses the broker.
    with pytest.raises(SourceUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        source(broker, ["secure"], tls=ssl.create_default_context()).start(store)


def test_the_source_reconnects_when_the_broker_comes_back(broker):
    store = SignalStore(max_lead=None)
    with source(broker, ["plant/#"], reconnect_delay=(0.1, 0.5), keepalive=2) as src:
        src.start(store)
        with publisher(broker) as pub:
            pub.publish("plant/x", 1.0, time=1)
            received(store, src, 1)
        broker.kill()
        assert wait_until(lambda: not src.connected), "the source did not see the broker go"
        broker.start()
        assert wait_until(lambda: src.connected, timeout=15), src.last_error
        # The subscription is renewed, so a new message arrives after the reconnection.
        assert src.connections == 2
        with publisher(broker) as pub:
            pub.publish("plant/x", 2.0, time=2)
            assert wait_until(lambda: src.samples == 2), src.last_error
    store.drain(0.0)
    assert store.series("plant/x")[1].tolist() == [1.0, 2.0]
    assert not src.connected


def test_a_burst_of_batches_arrives_completely(broker):
    samples, batch = 20_000, 500
    times = np.arange(samples) * 1e-3
    values = np.sin(times)
    store = SignalStore(max_lead=None, history=1e6)
    with source(broker, ["burst/+"]) as src, publisher(broker, max_batch=batch) as pub:
        src.start(store)
        began = time.perf_counter()
        pub.publish_batch("burst/a", times, values)
        assert wait_until(lambda: src.samples >= samples, timeout=60), src.samples
        elapsed = time.perf_counter() - began
        print(f"\nMQTT: {samples} samples in batches of {batch}: {elapsed * 1e3:.0f} ms, "
              f"{samples / elapsed:,.0f} samples/s")

        # One sample per message, for the message rate.  Sent in windows of 500:
        # a broker holds only so many messages for a subscriber that falls behind
        # (mosquitto: max_queued_messages, 1000) and drops the rest.
        messages, window = 5_000, 500
        began = time.perf_counter()
        for i in range(messages):
            pub.publish("burst/b", float(i), time=i * 1e-3)
            if (i + 1) % window == 0:
                assert wait_until(lambda i=i: src.samples >= samples + i + 1, timeout=30), \
                    src.samples
        elapsed = time.perf_counter() - began
        print(f"MQTT: {messages} one-sample messages: {elapsed * 1e3:.0f} ms, "
              f"{messages / elapsed:,.0f} messages/s")
    assert store.drain(0.0) == samples + messages
    got_t, got_v = store.series("burst/a")
    np.testing.assert_array_equal(got_t, times)
    np.testing.assert_array_equal(got_v, values)
    assert store.series("burst/b")[1].tolist() == list(range(messages))
    assert src.messages == samples // batch + messages and not store.rejected


def test_start_and_stop_follow_the_source_contract(broker):
    store = SignalStore(max_lead=None)
    src = source(broker, ["a"])
    src.start(store)
    with pytest.raises(ConfigurationError, match="already started"):
        src.start(store)
    src.stop()
    src.stop()
    assert not src.connected
    with publisher(broker) as pub:
        pub.publish("a", 1.0, time=1)
        time.sleep(0.3)
    assert src.messages == 0
    # A stopped source starts again.
    src.start(store)
    with publisher(broker) as pub:
        pub.publish("a", 2.0, time=2)
        received(store, src, 1)
    src.stop()
    assert store.series("a")[1].tolist() == [2.0]


@pytest.mark.parametrize("options, message", [
    ({"topics": []}, "at least one topic"),
    ({"topics": ["a/#/b"]}, "'#' must be a whole level and the last"),
    ({"topics": ["a/b#"]}, "'#' must be a whole level"),
    ({"topics": ["a/x+/b"]}, r"'\+' must be a whole level"),
    ({"topics": [""]}, "non-empty string"),
    ({"topics": {"a": ""}}, "signal name must be a non-empty string"),
    ({"topics": 5}, "must be a dict"),
    ({"topics": ["a"], "qos": 3}, "qos must be 0, 1 or 2"),
    ({"topics": ["a"], "payload": "xml"}, "payload must be one of auto, json, number"),
    ({"topics": ["a"], "timeout": 0}, "timeout must be > 0"),
    ({"topics": ["a"], "reconnect_delay": (2, 1)}, "reconnect_delay"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ConfigurationError, match=message):
        MqttSource(host=HOST, **options)


def test_the_encoders_write_the_documented_wire_format():
    assert json.loads(encode_sample(1.5, 2)) == {"t": 1.5, "v": 2.0}
    assert json.loads(encode_sample(1, math.nan)) == {"t": 1.0, "v": None}
    assert json.loads(encode_batch(np.array([1, 2]), [True, math.inf])) == \
        {"t": [1.0, 2.0], "v": [True, None]}
    assert json.loads(encode_values(3, {"a": 1, "b": np.float32(2.5)})) == \
        {"t": 3.0, "values": {"a": 1.0, "b": 2.5}}
    with pytest.raises(ConfigurationError, match="2 times, 1 values"):
        encode_batch([1, 2], [1])
