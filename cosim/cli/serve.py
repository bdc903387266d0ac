"""``cosim serve`` and ``cosim serve-twin``: the gRPC services, with their security and quotas."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cosim.cli.common import byte_count
from cosim.errors import ConfigurationError

log = logging.getLogger("cosim")


def _security(args):
    from cosim.rpc.common import ServerSecurity
    return ServerSecurity(token=args.token, token_file=args.token_file, tls_cert=args.tls_cert,
                          tls_key=args.tls_key, client_ca=args.tls_client_ca)


def _announce(what: str):
    def ready(server):
        print(f"cosim: {what} on {server.url}{' (TLS)' if server.security.credentials else ''}"
              f"{', token required' if server.security.token else ''}", flush=True)
    return ready


def _guarded_security(args):
    """The server's security, or None (after saying why on one line) when it
    would let anyone on the network in without --insecure."""
    from cosim.rpc.server import exposure, is_loopback
    security = _security(args)
    problem = exposure(args.host, security)
    if problem is not None and not args.insecure:
        print(f"cosim {args.command}: {problem}", file=sys.stderr)
        return None
    if not security.token and not security.client_ca:
        where = ("any local user or process can call it" if is_loopback(args.host)
                 else "anyone who can reach it can call it (--insecure)")
        print(f"cosim: warning: no token is required: {where}; pass --token or --token-file "
              "to require one", file=sys.stderr, flush=True)
    return security


def _port(text: str) -> int:
    """A TCP port number from the command line (0: any free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, got {port}")
    return port


def cmd_serve(args) -> int:
    from cosim.execution.options import Isolation
    from cosim.rpc.quotas import Quotas
    from cosim.rpc.server import orchestrator_server
    if not Path(args.root).is_dir():
        raise ConfigurationError(f"--root {args.root}: no such directory (the folder server-side "
                                 "system paths are read from)")
    quotas = Quotas(max_systems=args.max_systems,
                    max_unpacked_bytes=byte_count(args.max_unpacked_bytes, "--max-unpacked-bytes"),
                    max_total_unpacked_bytes=byte_count(args.max_total_unpacked_bytes,
                                                         "--max-total-unpacked-bytes"),
                    max_queued_calls=args.max_queued_calls,
                    max_stream_backlog=args.max_stream_backlog, max_rows=args.max_rows,
                    max_calls=args.max_calls)
    if not (args.call_timeout > 0 and args.call_timeout < float("inf")):
        raise ConfigurationError(f"--call-timeout must be a number of seconds > 0, got "
                                 f"{args.call_timeout}")
    memory_limit = byte_count(args.memory_limit, "--memory-limit")
    Isolation(memory_limit=memory_limit)         # refused here, not at each Initialize
    state_dir = None
    if args.state_dir is not None:
        from cosim.rpc.durable import StateDir
        every = args.checkpoint_every if args.checkpoint_every is not None else 60.0
        state_dir = StateDir(args.state_dir, checkpoint_every=every)
    elif args.checkpoint_every is not None:
        raise ConfigurationError("--checkpoint-every sets how often systems are checkpointed to "
                                 "--state-dir; give --state-dir too")
    security = _guarded_security(args)
    if security is None:
        return 2
    server = orchestrator_server(root=args.root, host=args.host, port=args.port,
                                 security=security, quotas=quotas,
                                 allow_remote_components=args.allow_remote_components,
                                 isolate=not args.no_isolate, call_timeout=args.call_timeout,
                                 memory_limit=memory_limit,
                                 state_dir=state_dir)
    web = None
    if args.http_port is not None:
        web = web_server()(server.service, host=args.host, port=args.http_port,
                           token=security.token, tls_cert=args.tls_cert,
                           tls_key=args.tls_key).start()
    announce = _announce(f"orchestrator (root {Path(args.root).resolve()})")

    def ready(started) -> None:
        announce(started)
        if web is not None:
            print(f"cosim: live view on {web.url}", flush=True)
    try:
        server.serve_forever(ready=ready)
    finally:
        if web is not None:
            web.stop()
    return 0


def cmd_serve_twin(args) -> int:
    from cosim.rpc.server import twin_server
    if args.max_calls <= 0:
        raise ConfigurationError(f"--max-calls must be a whole number > 0, got {args.max_calls}")
    if args.legacy_expose:
        print("cosim serve-twin: warning: -p/--parameter NAME is now --expose NAME (-p means "
              "NAME=VALUE in cosim run and cosim sweep)", file=sys.stderr, flush=True)
    parameters = args.expose + args.legacy_expose
    security = _guarded_security(args)
    if security is None:
        return 2
    try:
        server = twin_server(args.fmu, parameters=parameters, host=args.host, port=args.port,
                             security=security, max_sessions=args.max_sessions,
                             idle_timeout=args.idle_timeout, max_calls=args.max_calls)
    except ConfigurationError as exc:
        if any("=" in name for name in parameters):     # a value given as in cosim run -p
            raise ConfigurationError(f"{exc}; --expose takes a parameter NAME, and clients "
                                     "set its value") from None
        raise
    exposed = ", ".join(parameters) or "none"
    server.serve_forever(ready=_announce(f"twin {Path(args.fmu).name} (parameters: {exposed})"))
    return 0


def web_server():
    """The live view's server class, or a ConfigurationError saying what to install."""
    try:
        from cosim.web import WebServer
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("bokeh", "tornado"):
            raise ConfigurationError("--http-port: the live view needs Bokeh; install the web "
                                     "extra (pip install 'cosim[web]')") from None
        raise
    return WebServer


def add_http_option(parser) -> None:
    parser.add_argument("--http-port", type=_port, metavar="PORT",
                        help="also serve the live view in the browser on this port (0: any free "
                             "one); the address printed carries the token")


def add_server_options(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=_port, default=50051, help="port (default 50051; 0 picks a free one)")
    parser.add_argument("--token", help="require this bearer token on every call")
    parser.add_argument("--token-file", help="read the token from this file (first line)")
    parser.add_argument("--tls-cert", help="serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this CA (mutual TLS)")
    parser.add_argument("--insecure", action="store_true",
                        help="serve on a non-loopback address without a token or client "
                             "certificates (refused otherwise)")
    parser.add_argument("--max-calls", type=int, default=256, metavar="N",
                        help="calls in progress at once, server-wide; more are refused at once "
                             "(default 256; ListSystems, Terminate and health checks are exempt)")
