"""Checks on the fields of requests, shared by the cosim services.

Each refuses a value no request may carry with INVALID_ARGUMENT and a
message naming the field (``values[2].name``, ``stop_time``), before the
request reaches a system or an FMU.
"""

from __future__ import annotations

import math

import grpc

from cosim.rpc.common import RequestError

__all__ = ["check_live_inputs", "check_names", "check_times", "finite", "named", "require_id"]

# Longest id, name or label a request may carry.
MAX_NAME_CHARS = 1000
OVERRUNS = ("skip", "slow", "stop")
POLICIES = ("hold", "interpolate")


def invalid(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def require_id(value: str, field: str) -> None:
    """Refuse an empty or oversized id."""
    if not value:
        raise invalid(f"{field} is empty")
    if len(value) > MAX_NAME_CHARS:
        raise invalid(f"{field} is {len(value)} characters long; ids are at most {MAX_NAME_CHARS}")


def finite(value: float, field: str, *, minimum: float | None = None,
           positive: bool = False) -> float:
    """``value`` if it is a finite number (>= ``minimum``, > 0 if ``positive``)."""
    if not math.isfinite(value):
        raise invalid(f"{field} must be a finite number, got {value}")
    if positive and not value > 0:
        raise invalid(f"{field} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise invalid(f"{field} must be >= {minimum:g}, got {value}")
    return value


def check_names(names, field: str, attribute: str = "") -> None:
    """Refuse empty or oversized names in a list of names (``field[i]`` or,
    with an ``attribute``, ``field[i].attribute``)."""
    for index, name in enumerate(names):
        if not name.strip():
            raise invalid(f"{field}[{index}]{attribute} is empty")
        if len(name) > MAX_NAME_CHARS:
            raise invalid(f"{field}[{index}]{attribute} is {len(name)} characters long; "
                          f"names are at most {MAX_NAME_CHARS}")


def named(items, field: str) -> None:
    """Refuse NamedValues without a name or a value."""
    check_names([item.name for item in items], field, ".name")
    for index, item in enumerate(items):
        kind = item.value.WhichOneof("kind")
        if kind is None:
            raise invalid(f"{field}[{index}] ({item.name}): no value given")
        if kind == "real" and not math.isfinite(item.value.real):
            raise invalid(f"{field}[{index}] ({item.name}): {item.value.real} is not a finite number")


def check_times(request) -> None:
    """Refuse start, stop and real-time factor values no run can have
    (NaN, inf, negative)."""
    start = finite(request.start_time, "start_time", minimum=0.0)
    if request.HasField("stop_time") and not start < request.stop_time < math.inf:
        raise invalid(f"stop_time must be a finite number of seconds after start_time "
                      f"({start:g}), got {request.stop_time}")
    finite(request.realtime_factor, "realtime_factor", minimum=0.0)
    if request.overrun and request.overrun not in OVERRUNS:
        raise invalid(f"overrun must be one of {', '.join(OVERRUNS)}, got {request.overrun!r}")


def check_live_inputs(items) -> None:
    """Refuse live inputs without a name, with an unknown policy or a bad max_age."""
    check_names([item.name for item in items], "live_inputs", ".name")
    for index, item in enumerate(items):
        if item.policy and item.policy not in POLICIES:
            raise invalid(f"live_inputs[{index}].policy must be one of {', '.join(POLICIES)}, "
                          f"got {item.policy!r}")
        finite(item.max_age, f"live_inputs[{index}].max_age", minimum=0.0)
