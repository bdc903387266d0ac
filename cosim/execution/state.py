"""Saved states of a simulation, in memory and as bytes.

A :class:`Snapshot` is the state of a running simulation at one point
(every component's FMU state and the loop's values), to return to with
``Simulation.restore``.  :func:`encode_state` turns one into bytes (FMI
serialized FMU states) that another simulation of the same system continues
from; :func:`decode_state` reads them back.

The byte format is explicit and safe to read from an untrusted file: nothing
in it is executed or imported (no pickle).  It is::

    b"cosim-state\\n"                 magic
    uint32 little-endian              version (STATE_VERSION)
    uint64 little-endian              n: length of the header
    n bytes                           header: UTF-8 JSON object (see below)
    blobs                             the byte strings the header lists, in order

The header holds the component ``names``, ``start_time``, ``step_size``,
``time``, ``step_index``, the ``record``-ed column names, ``blobs`` (the
length of each blob: 0 values, 1 history, 2 inputs, then one per
component; -1 for None), ``kinds`` (per component: "fmu" for an FMI
serialized state, "python" for a Python component's state as JSON),
``clocks`` (per component, None or per FMI 3 clock its schedule: [kind,
base ns, tick count j, interval s, next tick ns, ticks so far, [pending
ticks ns]], so that a restored run ticks as the uninterrupted one) and ``sha256``, the
SHA-256 of the blobs: data altered after it was saved is refused before
anything in it is used.  Version 7, without ``clocks``, is still read; such
a state cannot be loaded into a system with clocks.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass

from cosim.errors import ConfigurationError

__all__ = ["STATE_VERSION", "SavedState", "Snapshot", "decode_state", "encode_state"]

MAGIC = b"cosim-state\n"
STATE_VERSION = 8
# Older versions read: 7 is 8 without the clocks' schedules.
_READ_VERSIONS = (7, 8)
# ns values a clock schedule holds: tick times and counters (NO_TICK included)
_NS_MAX = 2**63 - 1
_MAX_PENDING = 64
#: The kinds of clock a schedule is saved for (Core.clock_schedules).
CLOCK_KINDS = ("timed", "countdown", "triggered", "output")
_PREFIX = struct.Struct("<IQ")
# A header larger than this is not one cosim wrote (names and record lists included).
_MAX_HEADER = 64 << 20


@dataclass(frozen=True)
class Snapshot:
    """The state of a :class:`~cosim.execution.Simulation` at ``time`` (see
    ``Simulation.snapshot``)."""

    time: float
    step_index: int
    values: bytes
    states: list
    owner: int
    history: bytes | None = None
    inputs: bytes | None = None      # the values last set to the FMUs' inputs
    clocks: list | None = None       # the FMI 3 clocks' schedules (Core.clock_schedules)


@dataclass(frozen=True)
class SavedState:
    """A state read back by :func:`decode_state`: ``states`` holds, per component,
    ("fmu", serialized bytes) or ("python", the state as JSON values)."""

    names: list
    start_time: float
    step_size: float
    time: float
    step_index: int
    record: list
    values: bytes
    history: bytes | None
    inputs: bytes | None
    states: list
    clocks: list | None = None


def encode_state(saved: SavedState) -> bytes:
    """``saved`` as bytes in the format of this module."""
    blobs = [saved.values, saved.history, saved.inputs]
    kinds = []
    for kind, state in saved.states:
        kinds.append(kind)
        blobs.append(state if kind == "fmu" else
                     json.dumps(state, allow_nan=True).encode())
    body = b"".join(blob for blob in blobs if blob is not None)
    header = json.dumps({
        "names": list(saved.names), "start_time": saved.start_time,
        "step_size": saved.step_size, "time": saved.time, "step_index": saved.step_index,
        "record": list(saved.record), "kinds": kinds, "clocks": saved.clocks,
        "blobs": [-1 if blob is None else len(blob) for blob in blobs],
        "sha256": hashlib.sha256(body).hexdigest(),
    }).encode()
    return b"".join([MAGIC, _PREFIX.pack(STATE_VERSION, len(header)), header, body])


def _not_a_state(reason: str) -> ConfigurationError:
    return ConfigurationError(f"the data is not a state saved by Simulation.save_state: {reason}")


def _field(header: dict, name: str, kind, check=lambda value: True):
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) or not check(value):
        raise _not_a_state(f"its header field {name!r} is missing or invalid")
    return value


def _strings(value) -> bool:
    return all(isinstance(item, str) for item in value)


def decode_state(data: bytes) -> SavedState:
    """Read bytes written by :func:`encode_state`; ConfigurationError saying what
    is wrong when they are not such a state (whatever they hold)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _not_a_state(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _PREFIX.size:
        raise _not_a_state("it does not start with the cosim state header")
    version, size = _PREFIX.unpack_from(data, len(MAGIC))
    if version not in _READ_VERSIONS:
        raise _not_a_state(f"it is of format version {version}; this cosim reads versions "
                           f"{', '.join(map(str, _READ_VERSIONS))}")
    at = len(MAGIC) + _PREFIX.size
    if size > min(_MAX_HEADER, len(data) - at):
        raise _not_a_state("its header length exceeds the data")
    try:
        header = json.loads(data[at:at + size])
    except (UnicodeDecodeError, ValueError):
        raise _not_a_state("its header is not JSON") from None
    if not isinstance(header, dict):
        raise _not_a_state("its header is not a JSON object")
    names = _field(header, "names", list, _strings)
    kinds = _field(header, "kinds", list, lambda v: all(k in ("fmu", "python") for k in v))
    lengths = _field(header, "blobs", list, lambda v: len(v) == 3 + len(kinds) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= -1 for n in v))
    if len(kinds) != len(names):
        raise _not_a_state("it has a different number of component states and names")
    at += size
    blobs = []
    for length in lengths:
        if length > len(data) - at:
            raise _not_a_state("it is shorter than its header says (truncated?)")
        blobs.append(None if length < 0 else data[at:at + length])
        at += max(length, 0)
    if at != len(data) or blobs[0] is None:
        raise _not_a_state("its length does not match its header")
    if hashlib.sha256(data[len(data) - sum(max(n, 0) for n in lengths):]).hexdigest() != \
            header.get("sha256"):
        raise _not_a_state("its contents were altered after it was saved (checksum mismatch)")
    states = []
    for name, kind, blob in zip(names, kinds, blobs[3:]):
        if blob is None:
            raise _not_a_state(f"the state of component {name!r} is missing")
        if kind == "python":
            try:
                blob = json.loads(blob)
            except (UnicodeDecodeError, ValueError):
                raise _not_a_state(f"the state of component {name!r} is not JSON") from None
        states.append((kind, blob))
    finite = lambda v: math.isfinite(v)
    return SavedState(
        names=names,
        start_time=float(_field(header, "start_time", (int, float), finite)),
        step_size=float(_field(header, "step_size", (int, float), lambda v: finite(v) and v > 0)),
        time=float(_field(header, "time", (int, float), finite)),
        step_index=_field(header, "step_index", int, lambda v: 0 <= v < 2**62),
        record=_field(header, "record", list, _strings),
        values=blobs[0], history=blobs[1], inputs=blobs[2], states=states,
        clocks=None if version < 8 else _field(
            header, "clocks", list, lambda v: len(v) == len(names) and all(
                unit is None or (isinstance(unit, list) and all(map(_schedule, unit)))
                for unit in v)))


def _ns(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -_NS_MAX <= value <= _NS_MAX


def _schedule(clock) -> bool:
    """Whether ``clock`` is one clock's schedule as encode_state writes it."""
    if not isinstance(clock, list) or len(clock) != 7:
        return False
    kind, base, j, interval, nxt, ticks, pending = clock
    return (kind in CLOCK_KINDS and all(map(_ns, (base, j, nxt, ticks))) and isinstance(interval, (int, float))
            and not isinstance(interval, bool) and math.isfinite(interval) and interval >= 0
            and isinstance(pending, list) and len(pending) <= _MAX_PENDING
            and all(map(_ns, pending)))
