"""Bringing hosted systems back from the state directory when a server starts.

Each system comes back with its id: created from its kept request,
initialized as it was, and continued from its last checkpoint.  One that
failed before, whose state could not be saved, or whose files are damaged
comes back failed, with an error that says why; one whose create request
cannot be read is named in the log and left on disk.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

from google.protobuf.message import DecodeError

from cosim.errors import CosimError
from cosim.rpc.common import RequestError
from cosim.rpc.durable import SYSTEM_FILE, Saved
from cosim.rpc.hosting import HostedSystem
from cosim.v1 import orchestrator_pb2 as pb

__all__ = ["bring_back"]

log = logging.getLogger("cosim.rpc")

S = pb.SystemState


def bring_back(saved: Saved, create: Callable[[pb.CreateSystemRequest], HostedSystem],
               initialize: Callable[[HostedSystem, pb.InitializeSystemRequest], object]) -> None:
    """Rebuild ``saved``: ``create(request)`` hosts it under its id,
    ``initialize(hosted, request)`` initializes it (on its thread)."""
    try:
        hosted = create(pb.CreateSystemRequest.FromString(saved.create))
    except (CosimError, RequestError, DecodeError) as exc:
        log.error("state directory: system %s cannot be brought back from %s: %s; its folder "
                  "is left as it is", saved.system_id, SYSTEM_FILE, getattr(exc, "message", exc))
        return
    status = saved.status
    if saved.damage:
        status = {"state": "failed", "time": status.get("time"),
                  "error": f"its files in the state directory are damaged: {saved.damage}"}
    failed = status.get("state") in ("failed", "unsaveable")
    try:
        if saved.initialize is not None and not failed:
            request = pb.InitializeSystemRequest.FromString(saved.initialize)
            hosted.do(lambda h: initialize(h, request))
            if status.get("state") == "running" and saved.state is not None:
                hosted.do(lambda h: _resume(h, saved.state))
    except (CosimError, RequestError, DecodeError) as exc:
        status = {"state": "failed", "error": (
            "the server restarted, and the system could not be brought back from its "
            f"checkpoint in the server's state directory: {getattr(exc, 'message', None) or exc}")}
        failed = True
    if failed:
        hosted.do(lambda h: _mark_failed(h, status))
        log.error("state directory: system %s comes back failed: %s", hosted.id, hosted.error)
    else:
        log.warning("state directory: system %r (%s) brought back at t=%g s", hosted.name,
                    hosted.id, hosted.sim.time if hosted.sim is not None else 0.0)


def _resume(h: HostedSystem, state: bytes) -> None:
    """Continue ``h`` from a checkpoint (its rows start again there)."""
    sim = h.require_running()
    sim.load_state(state)
    h.rows_sent = sim.result.total
    h.changed = False


def _mark_failed(h: HostedSystem, status: dict) -> None:
    if h.sim is not None:
        h.sim.stop()
    h.state = S.SYSTEM_STATE_FAILED
    time = status.get("time")
    if isinstance(time, (int, float)) and math.isfinite(time):
        h.failed_at = float(time)
    if status.get("state") == "unsaveable":
        h.error = (f"the server restarted, and the system's state could not be saved "
                   f"({status.get('error')}); terminate it and create it again")
    else:
        h.error = str(status.get("error") or "failed")
