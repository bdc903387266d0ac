"""Live samples over MQTT: :class:`MqttSource` subscribes to a broker and fills
a :class:`~cosim.live.signals.SignalStore`; :class:`MqttPublisher` is the plant
side, sending samples in the same wire format.

Wire format
-----------
Each MQTT message carries samples as UTF-8 text in one of four shapes:

``{"t": 1718000000.25, "v": 812.5}``
    One sample of the topic's signal.
``{"t": [1718000000.0, 1718000000.01], "v": [812.5, 812.7]}``
    A batch of samples of the topic's signal; ``t`` and ``v`` have equal lengths.
``{"t": 1718000000.25, "values": {"zone1": 812.5, "zone2": 790.0}}``
    Several signals sampled at one time.  The signal names are the keys, with
    the source's ``key_prefix`` in front; the topic's own name is not used.
``812.5``
    A bare number.  It carries no time, so it is stamped with the wall clock
    at arrival (Unix seconds, :func:`time.time`).

Times are seconds on the plant's clock, usually Unix seconds; the store's
``time_origin`` is subtracted from them to give simulation time, so a run that
starts now uses ``SignalStore(time_origin=time.time())``.  Values are JSON
numbers; ``true``/``false`` count as 1/0 (digital signals).  Other keys in a
JSON object are ignored, so a plant may add e.g. a unit or a quality field.

What does not fit is counted with :meth:`SignalStore.reject
<cosim.live.signals.SignalStore.reject>`, never raised, and the source keeps
receiving: ``"malformed"`` for a message that is not one of the shapes above
(bad JSON, missing key, batch lengths that differ, too large), ``"non-numeric"``
for a time or value that is not a number (``"12.5"`` is text), and
``"non-finite"`` for ``null``, ``NaN`` or ``Infinity``.  In a batch only the bad
samples are dropped.  Each detail names the topic and what was wrong.
"""
from __future__ import annotations

import json
import math
import threading
import time as _time

import numpy as np
import paho.mqtt.client as paho

from cosim.errors import ConfigurationError, SourceUnavailableError
from cosim.live.payloads import _Bad, _as_time, _column, encode_batch, encode_sample, encode_values
from cosim.live.sources import Source

__all__ = ["MqttPublisher", "MqttSource", "encode_batch", "encode_sample", "encode_values"]

PAYLOADS = ("auto", "json", "number")
_NAME_CACHE = 10_000        # topics remembered; a flood of distinct topics restarts the cache


# -- encoding (the plant side) --------------------------------------------------------------

def _check_filter(topic_filter: str) -> None:
    if not isinstance(topic_filter, str) or not topic_filter:
        raise ConfigurationError(f"MQTT topic filter must be a non-empty string, got "
                                 f"{topic_filter!r}")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ConfigurationError(f"MQTT topic filter {topic_filter!r}: '#' must be a whole "
                                     f"level and the last one (e.g. 'plant/#')")
        if "+" in level and level != "+":
            raise ConfigurationError(f"MQTT topic filter {topic_filter!r}: '+' must be a whole "
                                     f"level (e.g. 'plant/+/temperature')")


def _is_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def _parse_topics(topics) -> dict[str, str | None]:
    if isinstance(topics, str):
        topics = [topics]
    if isinstance(topics, dict):
        mapping = dict(topics)
    else:
        try:
            mapping = {t: None for t in topics}
        except TypeError:
            raise ConfigurationError(f"MQTT topics must be a dict {{filter: signal name or None}} "
                                     f"or a list of filters, got {topics!r}") from None
    if not mapping:
        raise ConfigurationError("MQTT source needs at least one topic to subscribe to")
    for topic_filter, name in mapping.items():
        _check_filter(topic_filter)
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"MQTT topic {topic_filter!r}: signal name must be a "
                                     f"non-empty string or None, got {name!r}")
    return mapping


# -- decoding (the twin side) ------------------------------------------------------------------

class MqttSource(Source):
    """Samples of plant signals from an MQTT broker (see the module docstring
    for the wire format).

    Parameters
    ----------
    host : str
        The broker.
    port : int
        1883 by default (8883 is usual with TLS).
    topics : dict or list or str
        ``{topic_filter: signal_name}`` or a list of topic filters.  Filters may
        use the MQTT wildcards ``+`` (one level) and ``#`` (the rest).  A name of
        None (or a list entry) names the signal after the topic of each message,
        without ``prefix``, with ``/`` replaced by ``separator``; an explicit
        name feeds every topic the filter matches into that one signal.  When
        filters overlap, the first one listed names the signal.
    prefix : str
        Removed from the start of topics to form signal names
        (``prefix="plant/"``: topic ``plant/furnace/zone1`` is signal ``furnace/zone1``).
    separator : str
        Replaces the ``/`` between topic levels in names formed from topics
        (``separator="."``: ``furnace.zone1``).
    key_prefix : str
        Put before the keys of multi-signal messages to form signal names.
    payload : str
        ``"auto"`` (any shape of the wire format), ``"json"`` (JSON objects
        only) or ``"number"`` (bare numbers only).
    qos : int
        The subscription's MQTT quality of service, 0, 1 (default: every
        message at least once) or 2.
    client_id : str
        Empty: the broker assigns one.  Two clients with the same id
        disconnect each other.
    username, password : str or None
    tls : ssl.SSLContext or None
        Encrypt the connection with this context (its CA and hostname checks apply).
    timeout : float
        Seconds :meth:`start` waits for the broker to accept the connection and
        the subscriptions.
    keepalive : int
        Seconds between keep-alive pings; a broker that goes silent for 1.5 times
        this is taken as lost.
    reconnect_delay : (float, float)
        First and longest wait between reconnection attempts (doubling in between).
    max_payload : int
        Larger messages are rejected as malformed (bytes).

    Attributes
    ----------
    connected : bool
        Whether the broker connection is up and the subscriptions are in
        place (both come back by themselves when the connection is lost).
    connections : int
        How many times the source connected (more than 1 after reconnections).
    messages : int
        Messages received, good or bad.
    samples : int
        Samples pushed to the store.

    Notes
    -----
    One message costs the receiving thread far more than one sample in a
    batch (a few thousand messages per second against over a hundred thousand
    samples per second in batches of hundreds), so fast signals should be sent
    in batches.  A broker holds only so many messages for a subscriber that
    falls behind (mosquitto: ``max_queued_messages``, 1000 by default) and
    drops the rest, which no MQTT quality of service reports.

    Examples
    --------
    >>> source = MqttSource(host="localhost", topics=["plant/#"], prefix="plant/",
    ...                     separator=".")                      # doctest: +SKIP
    >>> with source:                                            # doctest: +SKIP
    ...     source.start(store)
    """

    def __init__(self, *, host: str, port: int = 1883, topics, prefix: str = "",
                 separator: str = "/", key_prefix: str = "", payload: str = "auto",
                 qos: int = 1, client_id: str = "", username: str | None = None,
                 password: str | None = None, tls=None, timeout: float = 10.0,
                 keepalive: int = 30, reconnect_delay: tuple[float, float] = (0.5, 10.0),
                 max_payload: int = 4 << 20):
        super().__init__()
        if payload not in PAYLOADS:
            raise ConfigurationError(f"MQTT payload must be one of {', '.join(PAYLOADS)}, "
                                     f"got {payload!r}")
        if qos not in (0, 1, 2):
            raise ConfigurationError(f"MQTT qos must be 0, 1 or 2, got {qos!r}")
        if not timeout > 0:
            raise ConfigurationError(f"MQTT timeout must be > 0 s, got {timeout!r}")
        if not (0 < reconnect_delay[0] <= reconnect_delay[1]):
            raise ConfigurationError(f"MQTT reconnect_delay must be (first, longest) with "
                                     f"0 < first <= longest, got {reconnect_delay!r}")
        self.host, self.port = host, int(port)
        self.topics = _parse_topics(topics)
        self.prefix, self.separator, self.key_prefix = prefix, separator, key_prefix
        self.payload, self.qos, self.timeout = payload, qos, float(timeout)
        self.max_payload = int(max_payload)
        self.signals = tuple(name if name is not None else self._derive(t)
                             for t, name in self.topics.items()
                             if name is not None or not _is_wildcard(t))
        self.connected = False
        self.connections = self.messages = self.samples = 0
        self.last_error = ""        # why the broker last refused or dropped us
        self._names: dict[str, str] = {}
        self._ready = threading.Event()
        self._subscription = None   # message id of the pending SUBSCRIBE
        self._refused = ""
        self._started = False
        client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2,
                             client_id=client_id, protocol=paho.MQTTv311, clean_session=True)
        # A bug in a callback must not kill paho's network thread (and with it
        # the reconnections); ours catch everything, this guards paho's own.
        client.suppress_exceptions = True
        # paho types the delays as int but only adds, doubles and sleeps them: fractions work
        client.reconnect_delay_set(min_delay=reconnect_delay[0],  # type: ignore[arg-type]
                                   max_delay=reconnect_delay[1])  # type: ignore[arg-type]
        client.connect_timeout = self.timeout
        if username is not None:
            client.username_pw_set(username, password)
        if tls is not None:
            client.tls_set_context(tls)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._keepalive = int(keepalive)
        self._client = client

    @property
    def address(self) -> str:
        """``host:port`` of the broker."""
        return f"{self.host}:{self.port}"

    # -- life cycle ------------------------------------------------------------------------

    def start(self, store) -> None:
        """Connect, subscribe, and deliver every message from now on into ``store``.

        Raises :class:`~cosim.errors.SourceUnavailableError` naming the broker
        when it cannot be reached, refuses the connection (e.g. credentials) or
        a subscription, or does not answer within ``timeout`` seconds.
        """
        if self._started:
            raise ConfigurationError(f"MQTT source {self.address} is already started")
        super().start(store)
        self._ready.clear()
        self._refused = ""
        try:
            self._client.connect(self.host, self.port, keepalive=self._keepalive)
        except (OSError, ValueError) as exc:
            raise SourceUnavailableError(
                f"MQTT broker {self.address} cannot be reached: {exc}",
                endpoint=self.address) from None
        self._client.loop_start()
        self._started = True
        ok = self._ready.wait(self.timeout)
        if not ok or self._refused:
            self.stop()
            why = self._refused or (f"no answer to the connection and subscriptions within "
                                    f"{self.timeout:g} s")
            raise SourceUnavailableError(f"MQTT broker {self.address}: {why}",
                                         endpoint=self.address)

    def stop(self) -> None:
        """Disconnect and stop the network thread (idempotent)."""
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self.connected = False

    # -- paho's network thread ----------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"the broker refused the connection: {reason_code}"
            if not self._ready.is_set():
                self._refused = self.last_error
                self._ready.set()
            return
        # Subscribing on every connection renews the subscriptions after a
        # reconnection (clean sessions keep none on the broker).
        result, mid = client.subscribe([(f, self.qos) for f in self.topics])
        if result != paho.MQTT_ERR_SUCCESS:
            self.last_error = f"subscribing failed: {paho.error_string(result)}"
        self._subscription = mid

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid != self._subscription:
            return
        refused = [f for f, code in zip(self.topics, reason_codes) if code.is_failure]
        if refused:
            self.last_error = (f"the broker refused the subscription to "
                               f"{', '.join(map(repr, refused))}")
            self._refused = self._refused or self.last_error
        else:
            self.connected = True
            self.connections += 1
        self._ready.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        if reason_code.is_failure:
            self.last_error = f"connection lost: {reason_code}"

    def _on_message(self, client, userdata, message) -> None:
        self.messages += 1
        topic = message.topic
        try:
            self._deliver(topic, message.payload)
        except _Bad as bad:
            self.store.reject(bad.reason, f"MQTT topic {topic!r}: {bad.what}")
        except Exception as exc:    # never let a message stop the network thread
            self.store.reject("malformed", f"MQTT topic {topic!r}: {type(exc).__name__}: {exc}")

    # -- decoding ------------------------------------------------------------------------------

    def _derive(self, topic: str) -> str:
        name = topic[len(self.prefix):] if self.prefix and topic.startswith(self.prefix) else topic
        return name.replace("/", self.separator) if self.separator != "/" else name

    def _name(self, topic: str) -> str:
        name = self._names.get(topic)
        if name is None:
            for topic_filter, mapped in self.topics.items():
                if paho.topic_matches_sub(topic_filter, topic):
                    name = mapped if mapped is not None else self._derive(topic)
                    break
            else:
                name = self._derive(topic)
            if len(self._names) >= _NAME_CACHE:
                self._names.clear()
            self._names[topic] = name
        return name

    def _deliver(self, topic: str, payload: bytes) -> None:
        if len(payload) > self.max_payload:
            raise _Bad("malformed", f"message of {len(payload)} bytes is larger than "
                                    f"max_payload={self.max_payload}")
        if self.payload != "json":
            try:
                value = float(payload)
            except ValueError:
                if self.payload == "number":
                    raise _Bad("non-numeric", f"payload {payload[:40]!r} is not a number") \
                        from None
            else:
                if not math.isfinite(value):
                    raise _Bad("non-finite", f"value is {value!r}")
                self.store.push(self._name(topic), _time.time(), value)
                self.samples += 1
                return
        try:
            message = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Bad("malformed", f"not JSON or a number: {exc}") from None
        if not isinstance(message, dict):
            raise _Bad("malformed", f"expected a JSON object with 't' and 'v' or 'values', "
                                    f"got {type(message).__name__} {str(message)[:40]}")
        if "t" not in message:
            raise _Bad("malformed", "missing key 't' (the sample time)")
        if "values" in message:
            self._deliver_values(topic, message)
        elif "v" in message:
            self._deliver_samples(topic, message)
        else:
            raise _Bad("malformed", "missing key 'v' (a value or a batch) or 'values' "
                                    "(several signals)")

    def _deliver_values(self, topic: str, message: dict) -> None:
        t = _as_time(message["t"], "time 't'")
        values = message["values"]
        if not isinstance(values, dict):
            raise _Bad("malformed", f"'values' must be an object {{name: value}}, got "
                                    f"{type(values).__name__}")
        names = list(values)
        v, text, nonfinite = _column([values[k] for k in names], "value")
        self._reject_samples(topic, text, nonfinite, lambda i: f"signal {names[i]!r}")
        for i, key in enumerate(names):
            if not (text[i] or nonfinite[i]):
                self.store.push(self.key_prefix + key, t, float(v[i]))
                self.samples += 1

    def _deliver_samples(self, topic: str, message: dict) -> None:
        times, values = message["t"], message["v"]
        if not isinstance(times, list) and not isinstance(values, list):
            at = _as_time(times, "time 't'")
            if isinstance(values, dict):
                raise _Bad("malformed", "value 'v' must be a number, not a JSON object")
            v, text, nonfinite = _column([values], "value")
            if text[0]:
                raise _Bad("non-numeric", f"value 'v' {values!r} is not a number")
            if nonfinite[0]:
                raise _Bad("non-finite", f"value 'v' is {values!r}")
            self.store.push(self._name(topic), at, float(v[0]))
            self.samples += 1
            return
        if not (isinstance(times, list) and isinstance(values, list)):
            raise _Bad("malformed", "a batch needs arrays for both 't' and 'v'")
        if len(times) != len(values):
            raise _Bad("malformed", f"batch with {len(times)} times but {len(values)} values")
        t, t_text, t_nonfinite = _column(times, "time")
        v, v_text, v_nonfinite = _column(values, "value")
        text = t_text | v_text
        nonfinite = ~text & (t_nonfinite | v_nonfinite)
        self._reject_samples(topic, text, nonfinite, lambda i: f"batch sample {i}")
        good = ~(text | nonfinite)
        if not good.all():
            t, v = t[good], v[good]
        if len(t):
            self.store.push_many(self._name(topic), t, v)
            self.samples += len(t)

    def _reject_samples(self, topic, text, nonfinite, which) -> None:
        for reason, mask in (("non-numeric", text), ("non-finite", nonfinite)):
            count = int(np.count_nonzero(mask))
            if count:
                first = int(np.argmax(mask))
                more = f" (and {count - 1} more)" if count > 1 else ""
                what = "is not a number" if reason == "non-numeric" else "is not finite"
                self.store.reject(reason, f"MQTT topic {topic!r}: {which(first)} {what}{more}",
                                  count)


class MqttPublisher:
    """Publishes samples to an MQTT broker in the wire format that
    :class:`MqttSource` reads (see the module docstring).

    Parameters
    ----------
    host, port, client_id, username, password, tls, timeout, keepalive
        As for :class:`MqttSource`.
    qos : int
        Quality of service of every message (1 by default).
    prefix : str
        Put before every topic (``prefix="plant/"``: ``publish("furnace", ...)``
        goes to ``plant/furnace``).
    max_batch : int
        :meth:`publish_batch` splits longer batches into messages of this many samples.

    Notes
    -----
    The connection is made in the constructor (raising
    :class:`~cosim.errors.SourceUnavailableError` naming the broker when it
    fails) and kept up by a network thread until :meth:`close`.
    """

    def __init__(self, *, host: str, port: int = 1883, qos: int = 1, prefix: str = "",
                 client_id: str = "", username: str | None = None, password: str | None = None,
                 tls=None, timeout: float = 10.0, keepalive: int = 30, max_batch: int = 1000):
        if qos not in (0, 1, 2):
            raise ConfigurationError(f"MQTT qos must be 0, 1 or 2, got {qos!r}")
        if not max_batch >= 1:
            raise ConfigurationError(f"max_batch must be >= 1, got {max_batch!r}")
        self.host, self.port, self.qos, self.prefix = host, int(port), qos, prefix
        self.max_batch = int(max_batch)
        self.published = 0          # messages handed to the network thread
        self._pending: list = []    # QoS > 0 messages not yet known to be acknowledged
        self._connected = threading.Event()
        self._refused = ""
        client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2,
                             client_id=client_id, protocol=paho.MQTTv311, clean_session=True)
        client.connect_timeout = float(timeout)
        if username is not None:
            client.username_pw_set(username, password)
        if tls is not None:
            client.tls_set_context(tls)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *args: self._connected.clear()
        self._client = client
        address = f"{host}:{self.port}"
        try:
            client.connect(host, self.port, keepalive=int(keepalive))
        except (OSError, ValueError) as exc:
            raise SourceUnavailableError(f"MQTT broker {address} cannot be reached: {exc}",
                                         endpoint=address) from None
        client.loop_start()
        if not self._connected.wait(timeout) or self._refused:
            client.loop_stop()
            why = self._refused or f"no answer to the connection within {timeout:g} s"
            raise SourceUnavailableError(f"MQTT broker {address}: {why}", endpoint=address)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = f"the broker refused the connection: {reason_code}"
        self._connected.set()

    def publish_raw(self, topic: str, payload) -> None:
        """Publish ``payload`` (bytes or str) as is, e.g. a bare number."""
        info = self._client.publish(self.prefix + topic, payload, qos=self.qos)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise SourceUnavailableError(f"MQTT broker {self.host}:{self.port}: publishing to "
                                         f"{self.prefix + topic!r} failed: "
                                         f"{paho.error_string(info.rc)}",
                                         endpoint=f"{self.host}:{self.port}")
        self.published += 1
        if self.qos:
            self._pending.append(info)
            if len(self._pending) > 10_000:
                self._pending = [i for i in self._pending if not i.is_published()]

    def publish(self, topic: str, value, *, time: float | None = None) -> None:
        """One sample at ``time`` (default: now, Unix seconds)."""
        self.publish_raw(topic, encode_sample(_time.time() if time is None else time, value))

    def publish_batch(self, topic: str, times, values) -> None:
        """Samples of one signal, in messages of at most ``max_batch`` samples."""
        times, values = list(times), list(values)
        if len(times) != len(values):
            raise ConfigurationError(f"publish_batch to {topic!r}: {len(times)} times but "
                                     f"{len(values)} values")
        for i in range(0, len(times), self.max_batch):
            self.publish_raw(topic, encode_batch(times[i:i + self.max_batch],
                                                 values[i:i + self.max_batch]))

    def publish_values(self, topic: str, values: dict, *, time: float | None = None) -> None:
        """Several signals ``{name: value}`` sampled at one ``time`` (default: now)."""
        self.publish_raw(topic, encode_values(_time.time() if time is None else time, values))

    def publish_number(self, topic: str, value) -> None:
        """A bare number, which the source stamps with its arrival time."""
        self.publish_raw(topic, repr(float(value)))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the broker acknowledged every message (QoS > 0); returns
        whether it did within ``timeout`` seconds."""
        deadline = _time.monotonic() + timeout
        for info in self._pending:
            left = deadline - _time.monotonic()
            if left <= 0:
                return False
            try:
                info.wait_for_publish(left)
            except (RuntimeError, ValueError):      # dropped while disconnected
                return False
            if not info.is_published():
                return False
        self._pending.clear()
        return True

    def close(self, *, timeout: float = 10.0) -> None:
        """Wait up to ``timeout`` seconds for the broker to acknowledge what is
        queued, then disconnect and stop the network thread."""
        if self._pending:
            self.flush(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
