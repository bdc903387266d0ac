"""Live samples from an OPC UA server: :class:`OpcUaSource` subscribes to data
changes of variables and fills a :class:`~cosim.live.signals.SignalStore`.

asyncua is an asyncio library; the source runs its own event loop in a thread
of its own, so the twin's thread never waits on the network.  Each data change
becomes one sample, stamped with the server's SourceTimestamp (the time the
value was measured, UTC, as Unix seconds) or, when the server sends none, with
the wall clock at arrival.  Set the store's ``time_origin`` to the Unix time
that should be simulation time 0.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import math
import re
import threading
import time as _time
from typing import TYPE_CHECKING

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState

from cosim.errors import ConfigurationError, SourceUnavailableError
from cosim.live.sources import Source

if TYPE_CHECKING:
    from asyncua.common.subscription import Subscription

__all__ = ["OpcUaSource"]

# ns=2;s=Furnace.Temperature, i=2258, nsu=urn:x;s=y, g=..., b=...
_NODE_ID = re.compile(r"^(ns=[^;]*;|nsu=[^;]+;)?[isgb]=")
# OPC UA's "no time" is the DateTime epoch, 1601-01-01.
_NO_TIME = _dt.datetime(1601, 1, 2, tzinfo=_dt.timezone.utc)


def _default_name(key: str) -> str:
    """Signal name for a node given without one: the identifier of a string
    node id, or the browse names of a path joined with dots."""
    if _NODE_ID.match(key):
        _, _, identifier = key.rpartition(";")
        return identifier[2:] if identifier.startswith("s=") else key
    return ".".join(part.rpartition(":")[2] for part in key.split("/") if part)


def _unix(stamp) -> float | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:            # asyncua's datetimes are UTC, aware or not
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return None if stamp < _NO_TIME else stamp.timestamp()


class OpcUaSource(Source):
    """Samples of plant signals from OPC UA data change notifications.

    Parameters
    ----------
    endpoint : str
        ``opc.tcp://host:port/path`` of the server.
    nodes : dict or list
        ``{node: signal_name}`` or a list of nodes.  A node is a node id string
        (``"ns=2;s=Furnace.HeatZone.Temperature"``, ``"i=2258"``) or a browse
        path from the Objects folder of namespace-qualified browse names
        (``"2:Furnace/2:HeatZone/2:Temperature"``).  Without a name, a signal
        is named after the identifier of a string node id
        (``Furnace.HeatZone.Temperature``) or the browse names of the path
        (``Furnace.HeatZone.Temperature``); other node ids are their own names.
    publishing_interval : float
        Seconds between the server's notification messages.
    sampling_interval : float
        Seconds between the server's samples of each variable; 0 asks for the
        fastest the server can (for most servers: every change).
    queue_size : int
        Changes the server keeps per variable between two notification
        messages; faster changes than that are lost, oldest first.
    timeout : float
        Seconds :meth:`start` waits for the connection, and each request waits
        for its answer.
    username, password : str or None
        User name authentication (otherwise anonymous).
    reconnect : bool
        Reconnect and renew the subscription by itself when the server is lost.

    Attributes
    ----------
    notifications : int
        Data change notifications received, good or bad.
    samples : int
        Samples pushed to the store.

    Examples
    --------
    >>> source = OpcUaSource(endpoint="opc.tcp://plc:4840",
    ...                      nodes={"ns=2;s=Furnace.Zone1.T": "furnace.T1"})   # doctest: +SKIP
    >>> with source:                                                          # doctest: +SKIP
    ...     source.start(store)
    """

    def __init__(self, *, endpoint: str, nodes, publishing_interval: float = 0.1,
                 sampling_interval: float = 0.0, queue_size: int = 1000, timeout: float = 10.0,
                 username: str | None = None, password: str | None = None,
                 reconnect: bool = True):
        super().__init__()
        if not isinstance(endpoint, str) or not endpoint.startswith("opc.tcp://"):
            raise ConfigurationError(f"OPC UA endpoint must be an opc.tcp://host:port URL, got "
                                     f"{endpoint!r}")
        if isinstance(nodes, str):
            nodes = [nodes]
        mapping = dict(nodes) if isinstance(nodes, dict) else {n: None for n in nodes}
        if not mapping:
            raise ConfigurationError(f"OPC UA source {endpoint} needs at least one node")
        for key, name in mapping.items():
            if not isinstance(key, str) or not key.strip("/"):
                raise ConfigurationError(f"OPC UA node must be a node id or browse path string, "
                                         f"got {key!r}")
            if name is not None and (not isinstance(name, str) or not name):
                raise ConfigurationError(f"OPC UA node {key!r}: signal name must be a non-empty "
                                         f"string or None, got {name!r}")
        for option, value in (("publishing_interval", publishing_interval),
                              ("timeout", timeout)):
            if not value > 0:
                raise ConfigurationError(f"OPC UA {option} must be > 0 s, got {value!r}")
        if not sampling_interval >= 0:
            raise ConfigurationError(f"OPC UA sampling_interval must be >= 0 s, got "
                                     f"{sampling_interval!r}")
        if not (isinstance(queue_size, int) and queue_size >= 1):
            raise ConfigurationError(f"OPC UA queue_size must be an integer >= 1, got "
                                     f"{queue_size!r}")
        self.endpoint = endpoint
        self.nodes = {key: name if name is not None else _default_name(key)
                      for key, name in mapping.items()}
        self.signals = tuple(self.nodes.values())
        self.publishing_interval = float(publishing_interval)
        self.sampling_interval = float(sampling_interval)
        self.queue_size = queue_size
        self.timeout = float(timeout)
        self.reconnect = bool(reconnect)
        self._credentials = (username, password)
        self.notifications = self.samples = 0
        # the event loop's thread, and the session and subscription it holds, while started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._subscription: Subscription | None = None
        self._by_node: dict = {}        # server NodeId -> (node key, signal name)

    @property
    def connected(self) -> bool:
        """Whether the session with the server is up."""
        client = self._client
        return client is not None and client.uaclient.state == UaClientState.CONNECTED

    # -- life cycle (the caller's thread) -----------------------------------------------------

    def start(self, store) -> None:
        """Connect, check every node, subscribe, and deliver data changes into ``store``.

        Raises :class:`~cosim.errors.SourceUnavailableError` naming the endpoint
        when the server cannot be reached or refuses the session, and
        :class:`~cosim.errors.ConfigurationError` naming the node and the
        endpoint for a node that does not exist or is not a variable.
        """
        if self._thread is not None:
            raise ConfigurationError(f"OPC UA source {self.endpoint} is already started")
        super().start(store)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=f"opcua {self.endpoint}",
                                  daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            # The connection and each request time out by themselves; this is a backstop.
            asyncio.run_coroutine_threadsafe(self._open(), loop).result(
                timeout=self.timeout * (3 + len(self.nodes)))
        except BaseException as exc:
            self.stop()
            if isinstance(exc, TimeoutError):
                raise SourceUnavailableError(f"OPC UA server {self.endpoint} did not answer "
                                             f"within {self.timeout:g} s",
                                             endpoint=self.endpoint) from None
            raise

    def stop(self) -> None:
        """Delete the subscription, close the session and end the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:      # set together by start()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=self.timeout + 5)
        except Exception:      # noqa: BLE001 - a server already gone must not stop the shutdown
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    # -- the event loop's thread --------------------------------------------------------------

    async def _open(self) -> None:
        client = Client(self.endpoint, timeout=self.timeout)
        username, password = self._credentials
        if username is not None:
            client.set_user(username)
        if password is not None:
            client.set_password(password)
        try:
            await asyncio.wait_for(client.connect(auto_reconnect=self.reconnect), self.timeout)
        except (OSError, asyncio.TimeoutError, ua.UaError, ConnectionError) as exc:
            await self._quietly(client.disconnect())
            why = (f"no answer within {self.timeout:g} s" if isinstance(exc, asyncio.TimeoutError)
                   else str(exc) or type(exc).__name__)
            raise SourceUnavailableError(f"OPC UA server {self.endpoint} cannot be reached: {why}",
                                         endpoint=self.endpoint) from None
        self._client = client
        try:
            nodes = [await self._resolve(client, key) for key in self.nodes]
            await self._check_variables(client, nodes)
            self._by_node = {node.nodeid: (key, name)
                             for node, (key, name) in zip(nodes, self.nodes.items())}
            self._subscription = await client.create_subscription(
                self.publishing_interval * 1000, self)
            results = await self._subscription.subscribe_data_change(
                nodes, queuesize=self.queue_size,
                sampling_interval=ua.Double(self.sampling_interval * 1000))
        except ua.UaError as exc:
            raise SourceUnavailableError(f"OPC UA server {self.endpoint}: subscribing failed: "
                                         f"{exc}", endpoint=self.endpoint) from None
        refused = [f"{key!r} ({result.name})" for key, result in zip(self.nodes, results)
                   if isinstance(result, ua.StatusCode)]
        if refused:
            raise ConfigurationError(f"OPC UA server {self.endpoint} refused to monitor "
                                     f"{', '.join(refused)}")

    async def _resolve(self, client, key: str):
        if _NODE_ID.match(key):
            try:
                return client.get_node(key)
            except (ua.UaError, ValueError) as exc:
                raise ConfigurationError(f"OPC UA node {key!r} (at {self.endpoint}) is not a "
                                         f"valid node id: {exc}") from None
        try:
            return await client.nodes.objects.get_child([p for p in key.split("/") if p])
        except ua.UaStatusCodeError as exc:
            raise ConfigurationError(f"OPC UA server {self.endpoint} has no node at browse path "
                                     f"{key!r} from the Objects folder ({exc})") from None
        except (ua.UaError, ValueError) as exc:
            raise ConfigurationError(f"OPC UA browse path {key!r} (at {self.endpoint}) is not "
                                     f"valid: {exc}; write e.g. '2:Furnace/2:Temperature'") \
                from None

    async def _check_variables(self, client, nodes) -> None:
        classes = await client.read_attributes(nodes, ua.AttributeIds.NodeClass)
        problems = []
        for key, result in zip(self.nodes, classes):
            if not result.StatusCode.is_good():
                problems.append(f"{key!r} does not exist ({result.StatusCode.name})")
            elif result.Value.Value != ua.NodeClass.Variable:
                problems.append(f"{key!r} is an {ua.NodeClass(result.Value.Value).name}, "
                                f"not a variable")
        if problems:
            raise ConfigurationError(f"OPC UA server {self.endpoint}: node "
                                     f"{'; node '.join(problems)}")

    async def _close(self) -> None:
        if self._subscription is not None and self.connected:
            await self._quietly(self._subscription.delete())
        if self._client is not None:
            await self._quietly(self._client.disconnect())
        self._subscription = self._client = None
        # Let handler tasks still queued finish, so none is destroyed pending.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _quietly(self, call) -> None:
        try:
            await asyncio.wait_for(call, self.timeout)
        except Exception:      # noqa: BLE001 - closing what may already be broken
            pass

    # -- asyncua's subscription handler ---------------------------------------------------------

    def datachange_notification(self, node, value, data) -> None:
        """Called by asyncua for each data change: one sample or one rejection."""
        self.notifications += 1
        key, name = self._by_node.get(node.nodeid, (node.nodeid.to_string(), None))
        try:
            self._sample(key, name, data.monitored_item.Value)
        except Exception as exc:   # never let a notification break the subscription
            self.store.reject("malformed", f"OPC UA {self.endpoint} node {key!r}: "
                                           f"{type(exc).__name__}: {exc}")

    def status_change_notification(self, status) -> None:
        """Called by asyncua when the server reports the subscription's status."""

    def _sample(self, key: str, name: str | None, data) -> None:
        where = f"OPC UA {self.endpoint} node {key!r}"
        if name is None:
            self.store.reject("unknown", f"{where}: not one of the subscribed nodes")
            return
        status = data.StatusCode
        if status is not None and status.is_bad():
            self.store.reject("malformed", f"{where}: status {status.name}")
            return
        variant = data.Value
        value = None if variant is None else variant.Value
        if isinstance(value, bool):
            number = float(value)
        elif isinstance(value, (int, float)):
            number = float(value)
            if not math.isfinite(number):
                self.store.reject("non-finite", f"{where}: value is {number!r}")
                return
        else:
            kind = variant.VariantType.name if variant is not None else "no value"
            self.store.reject("non-numeric", f"{where}: value {value!r} ({kind}) is not a number")
            return
        stamp = _unix(data.SourceTimestamp)
        self.store.push(name, _time.time() if stamp is None else stamp, number)
        self.samples += 1
