"""ASGI-level websocket hardening, wrapped around the Channels router.

Per connection, before any consumer code sees a message:

- a maximum message size (text or bytes): larger messages close the socket
  with 1009 (message too big); the server's own ``ws_max_size`` (manage.py
  serve) refuses them earlier still, before the frame is parsed;
- a token-bucket rate limit on inbound messages: exceeding it closes with 1008
  (policy violation). The play consumer's per-episode *action* limit (a
  polite ``rate_limited`` error) stays the first line; this one stops floods
  of any message type, including ones that never reach a step;
- a bounded inbound queue: a client writing faster than its consumer works
  must not grow memory without limit. Messages pass through a queue of
  BALROG_WS_QUEUE_MAX; a full queue closes with 1008;
- for a logged-in user, permission-sensitive messages (``action``,
  ``abandon``) re-check at most every BALROG_WS_RECHECK_SECONDS that the
  session still exists and still belongs to that active user, with a current
  password hash; a failed check closes with 1008 instead of letting an
  already-open tab keep playing. This is the backstop: a logout, a password
  change or a deactivation closes the user's sockets at once by itself
  (connect_access_signals).

A consumer that dies because the channel layer (Redis) went away is closed
with 1012 (service restart) and a warning, not a stack trace: channels'
consumers cannot live without their channel, and the browser client
reconnects, resuming from its last version, once Redis is back.

It also keeps the ops counters (open sessions, steps acked, errors sent) and
sets the episode id and a connection id in the logging context.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.sessions import InstanceSessionWrapper
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from ops import context, metrics
from ops.outage import BREAKER
from ops.ratelimit import TokenBucket

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The standard codes (RFC 6455 section 7.4.1; 1012 from the IANA registry). The
# server must be able to send them for an application: uvicorn's websockets
# can, daphne's autobahn cannot (which is one reason manage.py serve is uvicorn).
CLOSE_POLICY = 1008  # policy violation: rate, queue, ended session
CLOSE_TOO_BIG = 1009  # message too big
CLOSE_SERVICE_RESTART = 1012  # service restart: reconnect
CLOSE_TRY_AGAIN_LATER = 1013  # the database is unreachable (ops.outage)
_SENSITIVE = ('"action"', '"abandon"')


DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginCheck:
    """The handshake's Origin must be a trusted origin, compared by scheme, host
    and port as Django compares CSRF origins: the site's own (the handshake's
    Host, when it is one of ALLOWED_HOSTS, with http for ws and https for wss)
    or one of BALROG_WS_TRUSTED_ORIGINS and CSRF_TRUSTED_ORIGINS (a deployment
    behind a proxy that rewrites Host or the scheme names its public origin
    there). No Origin, ``null`` or anything else: refused with HTTP 403 before
    a session is read. (Channels' AllowedHostsOriginValidator compares the host
    only, so ``http://host:1`` passed for an ``http://host:8000`` site.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "websocket" and not check_origin(scope):
            await refuse_handshake(receive, send)
            return
        await self.app(scope, receive, send)


def check_origin(scope: Scope) -> bool:
    headers = _headers(scope)
    origin = normalize_origin(headers.get("origin", ""))
    if origin is None:
        return False
    trusted = [*settings.BALROG_WS_TRUSTED_ORIGINS, *getattr(settings, "CSRF_TRUSTED_ORIGINS", [])]
    if origin in _normalized(trusted):
        return True
    host = headers.get("host", "")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return origin == normalize_origin(f"{scheme}://{host}")


def normalize_origin(text: str) -> str | None:
    """``scheme://host:port`` with the default port made explicit; None for
    anything that is not an http(s) origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port or DEFAULT_PORTS[parts.scheme]}"


def _normalized(origins: Iterable[str]) -> set[str | None]:
    return {normalize_origin(origin) for origin in origins}


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", ())}


async def refuse_handshake(receive: Receive, send: Send) -> None:
    """Refuse a websocket before accepting it: a close before the accept, which
    the server answers with HTTP 403. (Not the websocket.http.response
    extension: uvicorn 0.54 logs "ASGI callable returned without completing
    handshake" as an error after every such response.)"""
    message = await receive()  # the websocket.connect that a refusal answers
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})


async def unrouted(scope: Scope, receive: Receive, send: Send) -> None:
    """The last websocket route: a path no consumer serves is refused at the
    handshake (HTTP 403) instead of raising in the router (an HTTP 500 and a
    logged traceback)."""
    await refuse_handshake(receive, send)


class WebsocketSession:
    """Channels' SessionMiddleware for websockets, without its send wrapper.

    Channels' wrapper saves the session on ``http.response.start`` only; for a
    websocket it forwards every outbound message after evaluating the lazy
    session twice, ~5% of a web process's CPU at 100 players. A websocket
    consumer that changes the session must save it itself (none does).

    The handshake's session and user are the first database reads of a
    websocket, so this is also where ops.outage's breaker guards them: while it
    holds the database for down, the handshake is refused at once (close 1013,
    try again later) instead of waiting for the pool; a handshake or
    connection that fails with a database outage trips it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await BREAKER.refuses_async():
            await receive()  # the websocket.connect that a refusal answers
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            return
        connected = False  # the server's websocket.connect was received (the send stays the server's own)

        async def tracked_receive() -> Message:
            nonlocal connected
            message = await receive()
            connected = connected or message.get("type") == "websocket.connect"
            return message

        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        try:
            await self.app(wrapper.scope, tracked_receive, send)
        except Exception as exc:
            if not BREAKER.trip_on(exc):
                raise
            # No connection for the session or the user in time: refused (or
            # closed) now with 1013, as while the breaker holds; not an HTTP 500
            # and a traceback. The client reconnects with backoff.
            logger.warning("websocket refused: the database is unavailable (%s)", type(exc).__name__)
            if not connected:
                await receive()  # the websocket.connect that a refusal answers
            try:
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            except Exception as closed:  # the socket was already closed: nothing left to tell
                logger.debug("websocket already closed: %s", closed)


class WebsocketGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        context.request_id.set(context.new_request_id())
        context.episode_id.set(context.episode_from_path(str(scope.get("path", ""))))
        await _Connection(self.app, scope, receive, send).run()


class _Connection:
    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app, self.scope, self.server_receive, self.server_send = app, scope, receive, send
        self.max_bytes = int(settings.BALROG_WS_MAX_MESSAGE_BYTES)
        rate, burst = float(settings.BALROG_WS_MESSAGES_PER_SECOND), float(settings.BALROG_WS_MESSAGE_BURST)
        self.bucket = TokenBucket.full(rate, burst)
        self.recheck_seconds = float(settings.BALROG_WS_RECHECK_SECONDS)
        self.inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=int(settings.BALROG_WS_QUEUE_MAX))
        self.closed = False  # this guard closed the socket: drop the app's later sends
        self.counted = False  # an accepted session is in the ws_sessions gauge
        self.checked_at = time.monotonic()

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            await self.app(self.scope, self.inbox.get, self._send)
        except Exception as exc:
            if not is_backend_outage(exc):
                raise
            logger.warning("websocket closed: the channel layer failed: %s: %s", type(exc).__name__, exc)
            if not self.closed:
                self.closed = True
                await self.server_send({"type": "websocket.close", "code": CLOSE_SERVICE_RESTART})
        finally:
            pump.cancel()
            self._uncount()

    # ----- inbound --------------------------------------------------------------------
    async def _pump(self) -> None:
        """Moves the server's messages to the bounded inbox, applying the limits."""
        while True:
            message = await self.server_receive()
            if message.get("type") == "websocket.disconnect":
                self._uncount()
                await self._deliver_disconnect(message)
                return
            if self.closed:
                continue
            refusal = await self._refusal(message)
            if refusal is not None:
                code, reason = refusal
                await self._close(code, reason)
                continue
            try:
                self.inbox.put_nowait(message)
            except asyncio.QueueFull:
                await self._close(CLOSE_POLICY, "too many messages waiting")

    async def _refusal(self, message: Message) -> tuple[int, str] | None:
        if message.get("type") != "websocket.receive":
            return None
        metrics.ws_messages.inc()
        text, data = message.get("text"), message.get("bytes")
        size = len(text.encode("utf-8", "surrogatepass")) if text is not None else len(data or b"")
        if size > self.max_bytes:
            return CLOSE_TOO_BIG, f"messages are limited to {self.max_bytes} bytes"
        if not self.bucket.take():
            return CLOSE_POLICY, "too many messages per second"
        if text is not None and any(marker in text for marker in _SENSITIVE) and not await self._still_authorized():
            return CLOSE_POLICY, "your session ended; reload the page"
        return None

    async def _still_authorized(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < self.recheck_seconds:
            return True  # checked first: the user is a lazy object, costly to touch per message
        self.checked_at = now
        user = self.scope.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            return True  # anonymous identity is the session cookie itself; play checks it at hello
        session = self.scope.get("session")
        session_key = getattr(session, "session_key", None)
        return bool(await sync_to_async(_session_belongs_to)(session_key, user.pk))

    async def _deliver_disconnect(self, message: Message) -> None:
        # The app must see the disconnect even with a full inbox: make room.
        while self.inbox.full():
            self.inbox.get_nowait()
        self.inbox.put_nowait(message)

    async def _close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        metrics.ws_rejected.inc()
        logger.warning("websocket closed by the guard: %s (%s)", reason, code)
        await self.server_send({"type": "websocket.close", "code": code, "reason": reason})
        # The consumer must leave its groups now, not when the client gets round to it.
        await self._deliver_disconnect({"type": "websocket.disconnect", "code": code})

    # ----- outbound -------------------------------------------------------------------
    async def _send(self, message: Message) -> None:
        if self.closed:
            return
        kind = message.get("type")
        if kind == "websocket.accept" and not self.counted:
            self.counted = True
            metrics.ws_sessions.inc()
            metrics.ws_connections.inc()
        elif kind == "websocket.send":
            _count_outbound(message.get("text"))
        elif kind == "websocket.close":
            self._uncount()
        await self.server_send(message)

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            metrics.ws_sessions.dec()


def is_backend_outage(exc: BaseException) -> bool:
    """A lost connection to Redis (the channel layer), not a bug in the consumer."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return isinstance(exc, ConnectionError | TimeoutError)
    return isinstance(exc, ConnectionError | TimeoutError | RedisConnectionError | RedisTimeoutError)


def _count_outbound(text: str | None) -> None:
    # The consumer serializes compactly with "type" first (play.services); a
    # prefix test costs nothing next to parsing the message again.
    if not text:
        return
    if text.startswith('{"type":"ack"'):
        if '"duplicate":false' in text[:80]:
            metrics.play_steps.inc()
    elif text.startswith('{"type":"error"'):
        metrics.play_errors.inc()


def _session_belongs_to(session_key: str | None, user_id: Any) -> bool:
    """The session still exists, is still this user's, the user is active and
    the session's password hash is current (a password change elsewhere ends
    every other session, as Django's own middleware decides for pages)."""
    from importlib import import_module

    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.crypto import constant_time_compare

    if not session_key:
        return False
    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key) or str(store.get(SESSION_KEY)) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    return constant_time_compare(str(store.get(HASH_SESSION_KEY, "")), user.get_session_auth_hash())


# ----- closing a user's sockets when their access changes ------------------------------
def user_group(user_id: Any) -> str:
    """The channel group of one user's websockets (every process): told when
    the user logs out, changes password or is changed by an admin."""
    return f"ws-user-{user_id}"


def check_socket_session(scope: Scope) -> bool:
    """For a logged-in user's socket: may it stay open? (Sync: the database.)"""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return True
    return _session_belongs_to(getattr(scope.get("session"), "session_key", None), user.pk)


def connect_access_signals() -> None:
    """Logout, a password change, deactivation or a change of staff rights
    close that user's sockets within a second (ops.apps): each socket's
    consumer re-checks its session on the event and closes with 1008 when it
    no longer holds; the browser reconnects as whoever it now is."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import post_save

    user_logged_out.connect(_on_logout, dispatch_uid="ops.websocket.logout")
    post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="ops.websocket.user_saved")


def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or user.pk is None:
        return
    # Sent before Django flushes the session: the sockets of this session close whatever they find.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    _notify(user.pk, {"type": "access.changed", "ended_session": session_key})


def _on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a login's own save changes nobody's access
    from django.db import transaction

    transaction.on_commit(lambda: _notify(instance.pk, {"type": "access.changed", "ended_session": None}))


def _notify(user_id: Any, message: dict[str, Any]) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception as exc:  # the guard's periodic re-check still closes the socket
        logger.warning("websocket: could not tell user %s's sockets of an access change: %s", user_id, exc)
