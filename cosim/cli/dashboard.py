"""``cosim dashboard SYSTEM_FILE``: one local system in the live view, without a gRPC server."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from cosim.errors import ConfigurationError


def cmd_dashboard(args) -> int:
    from cosim.cli.serve import web_server
    from cosim.rpc.common import read_token
    from cosim.rpc.orchestrator import OrchestratorService
    from cosim.v1 import orchestrator_pb2 as pb

    WebServer = web_server()
    from cosim.web.actions import CallContext

    path = Path(args.system_file)
    if not path.is_file():
        raise ConfigurationError(f"{path}: no such system file (give an .ssp, .ssd or .osp file)")
    service = OrchestratorService(root=path.resolve().parent)
    service.CreateSystem(pb.CreateSystemRequest(path=path.name), CallContext())
    web = WebServer(service, host=args.host, port=args.http_port,
                    token=read_token(args.token, args.token_file)).start()
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(f"cosim: live view of {path.name} on {web.url}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        web.stop()
        service.close()
    return 0


def add_dashboard_parser(sub) -> None:
    from cosim.cli.serve import _port
    dashboard = sub.add_parser("dashboard", help="show one system file in the live view in the "
                                                 "browser, with its controls")
    dashboard.add_argument("system_file", help="the system: an .ssp, .ssd or .osp file")
    dashboard.add_argument("--http-port", type=_port, default=0, metavar="PORT",
                           help="port of the live view (default 0: any free one)")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default 127.0.0.1)")
    dashboard.add_argument("--token", help="the token the browser must present (default: a "
                                           "random one, in the address printed)")
    dashboard.add_argument("--token-file", help="read the token from this file (first line)")
    dashboard.set_defaults(func=cmd_dashboard)
