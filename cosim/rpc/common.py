"""What the cosim gRPC servers and clients share: endpoints, security, values.

Security is a bearer token sent as ``authorization`` metadata and checked by
a server interceptor, optionally over TLS (and mutual TLS when the server is
given a client CA).  Values travel as :class:`cosim.v1.values_pb2.Value`
one at a time, or packed by type in ``Values`` for the step exchange.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import numpy as np

from cosim.errors import ConfigurationError, CosimError, QuotaError
from cosim.v1 import values_pb2

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_STATUS_BYTES",
    "TYPES",
    "ClientSecurity",
    "Endpoint",
    "ServerSecurity",
    "bounded",
    "from_value",
    "problem_list",
    "to_value",
]

# Bound on any message in either direction; a system file sent as bytes must fit.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
TYPES = ("float64", "int32", "bool", "string")
_INT32 = (-2**31, 2**31 - 1)
log = logging.getLogger("cosim.rpc")
_HEALTH_PREFIX = "/grpc.health.v1.Health/"
# Bound on a status message as sent (percent-encoded): it travels as metadata, and
# clients drop metadata past 8 KiB (sometimes) or 16 KiB (always), status and all.
MAX_STATUS_BYTES = 6000
# Problems listed in a status message, and the characters shown of each.
STATUS_PROBLEMS = 20
STATUS_PROBLEM_CHARS = 240


@dataclass(frozen=True)
class Endpoint:
    """A ``grpc://host:port`` address."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(str(url))
        if parts.scheme != "grpc" or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigurationError(f"{url!r} is not a gRPC endpoint; write grpc://host:port")
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise ConfigurationError(f"{url!r}: the port is missing or invalid (grpc://host:port)")
        return cls(parts.hostname, port)

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"grpc://{self.target}"


def _read(path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc.strerror}") from None


def read_token(token: str | None = None, token_file=None) -> str | None:
    """A token given directly, or the first line of ``token_file``."""
    if token is not None and token_file is not None:
        raise ConfigurationError("give a token or a token file, not both")
    if token_file is not None:
        token = _read(token_file, "token file").decode().strip()
        if not token:
            raise ConfigurationError(f"the token file {token_file} is empty")
    return token or None


@dataclass(frozen=True)
class ClientSecurity:
    """How a client authenticates: a token (default: ``$COSIM_TOKEN``) and TLS
    (CA default: ``$COSIM_TLS_CA``).

    ``tls_ca`` is the CA certificate (PEM file) to verify the server with;
    ``tls`` alone uses the system's roots.  ``tls_cert``/``tls_key`` present
    a client certificate for mutual TLS.
    """

    token: str | None = None
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    server_name: str | None = None

    @classmethod
    def create(cls, *, token=None, tls_ca=None, tls_cert=None, tls_key=None, tls=False,
               server_name=None) -> ClientSecurity:
        if token is None:
            token = os.environ.get("COSIM_TOKEN") or None
        if tls_ca is None:
            tls_ca = os.environ.get("COSIM_TLS_CA") or None
        if (tls_cert is None) != (tls_key is None):
            raise ConfigurationError("mutual TLS needs both tls_cert and tls_key")
        return cls(token=token, tls=bool(tls or tls_ca or tls_cert), tls_ca=tls_ca,
                   tls_cert=tls_cert, tls_key=tls_key, server_name=server_name)

    def metadata(self) -> tuple:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def channel(self, endpoint: Endpoint, *, options=()) -> grpc.Channel:
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.enable_http_proxy", 0), *options]
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        if not self.tls:
            return grpc.insecure_channel(endpoint.target, options=options)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(self.tls_ca, "CA certificate") if self.tls_ca else None,
            private_key=_read(self.tls_key, "TLS key") if self.tls_key else None,
            certificate_chain=_read(self.tls_cert, "TLS certificate") if self.tls_cert else None)
        return grpc.secure_channel(endpoint.target, credentials, options=options)


class ServerSecurity:
    """Token checking and TLS for a server.

    Every call except health checks must carry ``authorization: Bearer
    <token>`` when a token is set; others fail with UNAUTHENTICATED.
    """

    def __init__(self, *, token=None, token_file=None, tls_cert=None, tls_key=None,
                 client_ca=None):
        self.token = read_token(token, token_file)
        self.client_ca = client_ca
        if (tls_cert is None) != (tls_key is None):
            raise ConfigurationError("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
        if client_ca is not None and tls_cert is None:
            raise ConfigurationError("client certificates (--tls-client-ca) need TLS "
                                     "(--tls-cert and --tls-key)")
        self.credentials = None
        if tls_cert is not None:
            self.credentials = grpc.ssl_server_credentials(
                [(_read(tls_key, "TLS key"), _read(tls_cert, "TLS certificate"))],
                root_certificates=_read(client_ca, "client CA certificate") if client_ca else None,
                require_client_auth=client_ca is not None)

    def interceptors(self) -> list:
        return [_TokenCheck(self.token)] if self.token else []

    def add_port(self, server: grpc.Server, address: str) -> int:
        port = (server.add_secure_port(address, self.credentials) if self.credentials
                else server.add_insecure_port(address))
        if port == 0:
            raise ConfigurationError(f"cannot listen on {address} (in use or not a local address)")
        return port


class _TokenCheck(grpc.ServerInterceptor):
    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith(_HEALTH_PREFIX):
            return handler
        for key, value in details.invocation_metadata or ():
            if key == "authorization" and hmac.compare_digest(value.encode(), self._expected):
                return handler
        return _denied(handler)


def _denied(handler):
    def deny(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED,
                      "authentication failed: missing or invalid token")

    kind = {(False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler}
    make = kind[(handler.request_streaming, handler.response_streaming)]
    return make(deny, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


# -- request handling --------------------------------------------------------------

class RequestError(Exception):
    """A request a servicer refuses, with the gRPC status code to answer."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# The private folders a hosted system's files are unpacked to (cosim.ssp.files,
# cosim.rpc.loading): clients know the files by their place in the archive.
_UNPACKED = re.compile(r"[^\s'\"(]*/cosim-(?:ssp|system)-[A-Za-z0-9_]+/")


def without_server_folders(text: str) -> str:
    """``text`` with the server's private unpack folders left out of the paths it names."""
    return _UNPACKED.sub("", text)


class call_status:
    """Ends a call with the right status: refused requests with their own code,
    configuration errors with INVALID_ARGUMENT, model failures with ABORTED
    and the model's message."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, RequestError):
            self.context.abort(exc.code, bounded(exc.message))
        if isinstance(exc, QuotaError):
            self.context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, bounded(str(exc)))
        if isinstance(exc, ConfigurationError):
            self.context.abort(grpc.StatusCode.INVALID_ARGUMENT, bounded(str(exc)))
        if isinstance(exc, CosimError):
            self.context.abort(grpc.StatusCode.ABORTED, bounded(without_server_folders(str(exc))))
        if isinstance(exc, Exception) and exc.args:       # (an abort raises a bare Exception())
            # A defect of the server: its text may be long or name the server's files.
            log.error("%s failed", type(exc).__name__, exc_info=exc)
            self.context.abort(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); "
                                                         "the server's log has the details")
        return False


def _sent_size(char: str) -> int:
    """Bytes ``char`` takes in a grpc-message (printable ASCII but '%' as is,
    every other byte of its UTF-8 as %XX)."""
    if " " <= char <= "~" and char != "%":
        return 1
    return 3 * len(char.encode("utf-8", "surrogatepass"))


def bounded(message: str, limit: int = MAX_STATUS_BYTES) -> str:
    """``message`` cut to fit ``limit`` bytes as a status message, saying how
    much was left out: a status too long for the client's metadata limit
    reaches it as an unreadable RESOURCE_EXHAUSTED instead."""
    if sum(map(_sent_size, message)) <= limit:
        return message
    size = 0
    for index, char in enumerate(message):
        size += _sent_size(char)
        if size > limit - 60:               # room for the note
            return f"{message[:index]}... ({len(message) - index} more characters)"
    return message


def problem_list(what: str, problems: list[str], *, shown: int = STATUS_PROBLEMS,
                 width: int = STATUS_PROBLEM_CHARS, more: str = "") -> str:
    """A status message listing the first ``shown`` of ``problems`` found in
    ``what``, each cut to ``width`` characters, how many more there are and
    (``more``) where to see them."""
    count = len(problems)
    lines = [f"{what}: {count} error{'s' if count != 1 else ''}:"]
    for problem in problems[:shown]:
        text = problem if len(problem) <= width else f"{problem[:width]}... ({len(problem)} characters)"
        lines.append(f"  {text}")
    if count > shown:
        lines.append(f"  ... and {count - shown} more{f' ({more})' if more else ''}")
    return "\n".join(lines)


# -- values ------------------------------------------------------------------------

def to_value(value, type_: str | None = None) -> values_pb2.Value:
    """A Python value as a Value message (of ``type_`` if given)."""
    if hasattr(value, "item"):
        value = value.item()
    if type_ is None:
        type_ = ("bool" if isinstance(value, bool) else "int32" if isinstance(value, int)
                 else "string" if isinstance(value, str) else "float64")
    if type_ == "float64":
        return values_pb2.Value(real=float(value))
    if type_ == "int32":
        return values_pb2.Value(integer=int(value))
    if type_ == "bool":
        return values_pb2.Value(boolean=bool(value))
    return values_pb2.Value(text=str(value))


def from_value(message: values_pb2.Value, type_: str, what: str):
    """The Python value of a Value message for a variable of ``type_``.

    Raises ValueError naming ``what`` if the value does not fit the type
    (an integer is accepted for a float64, nothing else is converted).
    """
    kind = message.WhichOneof("kind")
    if kind is None:
        raise ValueError(f"{what}: no value given")
    value = getattr(message, kind)
    if type_ == "float64" and kind in ("real", "integer"):
        return float(value)
    if type_ == "int32" and kind == "integer":
        if not _INT32[0] <= value <= _INT32[1]:
            raise ValueError(f"{what}: {value} is out of the int32 range")
        return int(value)
    if type_ == "bool" and kind == "boolean":
        return bool(value)
    if type_ == "string" and kind == "text":
        return value
    given = {"real": "float64", "integer": "integer", "boolean": "bool", "text": "string"}[kind]
    raise ValueError(f"{what} is {type_}, got a {given} value ({value!r})")


_FIELDS = {"float64": ("real_refs", "reals"), "int32": ("integer_refs", "integers"),
           "bool": ("boolean_refs", "booleans"), "string": ("text_refs", "texts")}


def pack(values: values_pb2.Values, type_: str, refs, data) -> None:
    """Append ``data`` for value references ``refs`` to a Values message."""
    ref_field, value_field = _FIELDS[type_]
    getattr(values, ref_field).extend(refs)
    if type_ == "string":
        getattr(values, value_field).extend(data)
    else:
        getattr(values, value_field).extend(np.asarray(data).tolist())


def unpack(values: values_pb2.Values):
    """(type, refs, values) for each type present in a Values message."""
    for type_, (ref_field, value_field) in _FIELDS.items():
        refs = getattr(values, ref_field)
        if refs:
            data = getattr(values, value_field)
            if len(data) != len(refs):
                raise ValueError(f"{len(refs)} {type_} value references but {len(data)} values")
            yield type_, refs, data
