"""The live view's web server: a Bokeh server on its own thread and IOLoop,
in the process that hosts the systems.

BokehJS and every other asset come from the installed ``bokeh`` package
(``resources="server"``): the page loads nothing from the internet.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from cosim.errors import ConfigurationError
from cosim.web.actions import Controls
from cosim.web.auth import TokenAuth, new_token
from cosim.web.feed import Feed

__all__ = ["WebServer"]

log = logging.getLogger("cosim.web")

START_TIMEOUT = 30.0


def _origins(host: str, port: int) -> list[str]:
    """The origins a page of this server is loaded from (Bokeh refuses a web
    socket from any other): the address listened on, loopback, and on every
    interface the machine's names and IPv4 addresses."""
    names = {host, "127.0.0.1", "localhost"}
    if host in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        try:
            names |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            pass
    # Bokeh's list takes host:port only: IPv6 addresses cannot be named in it.
    return sorted(f"{n}:{port}" for n in names if n and ":" not in n)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class WebServer:
    """The live view of the systems of an Orchestrator service.

    Parameters
    ----------
    service : cosim.rpc.orchestrator.OrchestratorService
        Whose systems are shown and controlled.
    host, port : str, int
        Where to listen (loopback by default; port 0 picks a free one).
    token : str or None
        The token a browser must present (None: a random one, shown in :attr:`url`).
    tls_cert, tls_key : path or None
        Serve HTTPS with this certificate and key (PEM).
    """

    def __init__(self, service, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, tls_cert=None, tls_key=None):
        self.service = service
        self.tls: dict[str, Any] = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} \
            if tls_cert and tls_key else {}
        self.host = host
        self.token = token or new_token()
        self.port = port or _free_port(host)
        self.controls = Controls(service)
        self.feed = Feed(service, self.controls)
        # The controls' calls block (a run lasts until paused): never on the IOLoop.
        self.workers = ThreadPoolExecutor(max_workers=32, thread_name_prefix="cosim-web")
        self.auth = TokenAuth(self.token, cookie=f"cosim_token_{self.port}", secure=bool(self.tls))
        self._server: Any = None
        self._loop: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cosim-web", daemon=True)
        self.on_stop: Any = None       # called last by stop()

    @property
    def url(self) -> str:
        """The address to open, token included."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}/?token={quote(self.token)}"

    def start(self) -> WebServer:
        """Listen and serve on the view's own thread; raises if it cannot listen."""
        self.feed.start()
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise ConfigurationError(f"the web view did not start within {START_TIMEOUT:g} s")
        if self._error is not None:
            self.feed.stop()
            raise ConfigurationError(f"--http-port {self.port}: cannot serve the web view on "
                                     f"{self.host}: {self._error}") from self._error
        log.info("live view on http://%s:%d/", self.host, self.port)
        return self

    def _run(self) -> None:
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        from cosim.web.page import Page

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            self._loop = IOLoop.current()
            app = Application(FunctionHandler(lambda doc: Page(doc, self).build()))
            self._server = Server({"/": app}, io_loop=self._loop, address=self.host,
                                  port=self.port, allow_websocket_origin=_origins(self.host, self.port),
                                  auth_provider=self.auth, sign_sessions=True,
                                  secret_key=secrets.token_urlsafe(32),
                                  generate_session_ids=True, use_index=False,
                                  redirect_root=False, **self.tls)
            self._server.start()
        except BaseException as exc:    # noqa: BLE001 - raised by start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.start()
        self._loop.close(all_fds=True)

    def stop(self) -> None:
        """Pause the runs the view started, close every page and stop listening."""
        self.controls.pause_all()
        self.feed.stop()
        loop, server = self._loop, self._server
        if loop is not None and server is not None and self._thread.is_alive():
            def halt():
                server.stop()
                loop.stop()
            loop.add_callback(halt)
            self._thread.join(timeout=5)
        self.workers.shutdown(wait=False, cancel_futures=True)
        if self.on_stop is not None:
            self.on_stop()
