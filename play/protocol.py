"""The browser-play websocket protocol: client messages, parsed and checked.

docs/websocket-protocol.md is the reference; this module is its parser. Every
client message is a JSON object with a ``type``; anything malformed raises
ProtocolError, which the consumer turns into an ``error`` message (never a
stack trace) without changing the episode.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from balrogweb.errors import ServiceError

# 2 added the early ``frame`` before the ``ack`` (docs/websocket-protocol.md);
# a hello without ``protocol`` speaks 1, whose ``ack`` carries the frame itself.
PROTOCOL_VERSION = 2
SUPPORTED_PROTOCOLS = (1, 2)
MAX_MESSAGE_CHARS = 4096
MAX_ACTION_CHARS = 255
MAX_INPUT_CHARS = 255
INPUT_SOURCES = ("key", "button", "text", "script")


class ProtocolError(ServiceError):
    """A message the protocol refuses: sent back as an ``error`` with ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Hello:
    protocol: int
    version: int | None  # the last version this client saw (None: a fresh page)
    observation: bool


@dataclass(frozen=True)
class Action:
    seq: int  # the step index this action is meant to be
    action: str
    raw_input: str  # the key pressed, or the typed command
    source: str


@dataclass(frozen=True)
class Sync:
    version: int


@dataclass(frozen=True)
class Options:
    observation: bool


@dataclass(frozen=True)
class Abandon:
    pass


@dataclass(frozen=True)
class Ping:
    token: Any


ClientMessage = Hello | Action | Sync | Options | Abandon | Ping


def parse(text: str | None) -> ClientMessage:
    if text is None:
        raise ProtocolError("bad_message", "binary frames are not part of the protocol; send JSON text")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ProtocolError("bad_message", f"messages are limited to {MAX_MESSAGE_CHARS} characters")
    data = decode(text)
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    check_strings(data)
    kind = data.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        known = ", ".join(_PARSERS)
        raise ProtocolError("unknown_type", f"unknown message type {str(kind)[:40]!r}; known: {known}")
    return parser(data)


def decode(text: str) -> Any:
    """Strict JSON: no NaN, Infinity or numbers that overflow a float (which
    Python's json accepts), no nesting deeper than the parser's stack."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # ValueError covers JSONDecodeError and ints past 4,300 digits
        raise ProtocolError("bad_json", "the message is not valid JSON (numbers must be finite)") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal[:20]} does not fit a float")
    return value


def check_strings(data: Any) -> None:
    """Every string (keys too) must be encodable as UTF-8: JSON's ``\\ud800``
    escapes decode to lone surrogates, which no database, log or socket can
    carry. Iterative: nesting depth is bounded by the message size only."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not is_utf8(value):
            raise ProtocolError("bad_message", "strings must be valid Unicode (no lone surrogates)")


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode(payload: Any) -> str:
    """Every outgoing message: compact, strict JSON (RFC 8259 has no NaN or
    Infinity). A non-finite number from a game becomes null rather than
    breaking the reply. orjson (a frame, ~4 kB, in a fraction of the standard
    library's time) writes NaN and Infinity as null itself; what it refuses
    (integers past 64 bits, lone surrogates) goes through the standard library."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return _encode_stdlib(payload)


def _encode_stdlib(payload: Any) -> str:
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(payload), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _hello(data: dict[str, Any]) -> Hello:
    protocol = data.get("protocol", 1)
    if type(protocol) is not int or protocol not in SUPPORTED_PROTOCOLS:
        spoken = " and ".join(map(str, SUPPORTED_PROTOCOLS))
        raise ProtocolError("protocol_version", f"this server speaks protocols {spoken}, not {protocol!r}")
    version = data.get("version")
    return Hello(
        protocol=protocol,
        version=None if version is None else _count(data, "version"),
        observation=_flag(data, "observation"),
    )


def _action(data: dict[str, Any]) -> Action:
    action = _text(data, "action", MAX_ACTION_CHARS)
    if not action.strip():
        raise ProtocolError("bad_message", "'action' is empty")
    source = data.get("source", "key")
    if source not in INPUT_SOURCES:
        raise ProtocolError("bad_message", f"'source' must be one of {', '.join(INPUT_SOURCES)}")
    raw_input = _text(data, "input", MAX_INPUT_CHARS) if "input" in data else action
    return Action(seq=_count(data, "seq"), action=action, raw_input=raw_input, source=source)


def _sync(data: dict[str, Any]) -> Sync:
    return Sync(version=_count(data, "version"))


def _options(data: dict[str, Any]) -> Options:
    return Options(observation=_flag(data, "observation"))


def _abandon(data: dict[str, Any]) -> Abandon:
    return Abandon()


def _ping(data: dict[str, Any]) -> Ping:
    token = data.get("t")
    if not isinstance(token, int | float | str | None) or (isinstance(token, str) and len(token) > 64):
        raise ProtocolError("bad_message", "'t' must be a number or a short string")
    return Ping(token)


_PARSERS: dict[str, Callable[[dict[str, Any]], ClientMessage]] = {
    "hello": _hello,
    "action": _action,
    "sync": _sync,
    "options": _options,
    "abandon": _abandon,
    "ping": _ping,
}


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError("bad_message", f"{name!r} must be a non-negative integer")
    return value


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ProtocolError("bad_message", f"{name!r} must be a string")
    if len(value) > limit:
        raise ProtocolError("bad_message", f"{name!r} is limited to {limit} characters")
    return value


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ProtocolError("bad_message", f"{name!r} must be true or false")
    return value
