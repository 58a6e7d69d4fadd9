"""The episode websocket: parse a message, call a play service in the step
pool, send its reply. Protocol: docs/websocket-protocol.md."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from uvicorn.protocols.utils import ClientDisconnected

from balrogweb.errors import WEBSOCKET_NOT_FOUND, WEBSOCKET_TOO_MANY, ServiceError
from games.events import episode_group, note_watched
from games.executor import run_blocking, submit_blocking
from games.services import EpisodeNotRunning, GameError
from ops.outage import BREAKER
from ops.websocket import CLOSE_POLICY, check_socket_session, refuse_handshake, user_group
from play import services
from play.feed import FEED_SOURCE, POLL, feed_kind, loop_feed
from play.limits import ViewerAdmission, action_limiter, viewer_limits
from play.protocol import Abandon, Action, ClientMessage, Hello, Options, Ping, ProtocolError, Sync, encode, parse
from play.sweeper import ensure_sweeper

logger = logging.getLogger(__name__)

EPISODE_PATH = "/ws/episodes/"  # play.routing
SYNC_LIMITED = ("rate_limited", "too many syncs from your address per second; nothing was sent, ask again in a second")
# Unsaved steps are not applied; a resent seq that was in fact saved is acknowledged as a duplicate.
UNAVAILABLE = ("unavailable", "the database is unavailable for the moment; send the action again in a few seconds")
# How long a pool thread waits for its early frame to be sent before writing the step.
FRAME_HANDOFF_WAIT_S = 0.002


class EpisodeConsumer(AsyncWebsocketConsumer):
    episode_id: int
    role: str = ""  # set by hello: "player" or "viewer"
    version: int = 0  # the version of the last state sent to this client
    with_observation: bool = False
    actions: tuple[str, ...] = ()
    ended: bool = False  # the end was sent; later "ended" events are repeats
    protocol: int = 1  # the hello's: 2 sends each action's frame before its ack
    owner: bool = False  # this connection's player started the episode: after its end, not_running
    admission: ViewerAdmission | None = None  # a viewer's place among its address's viewers
    polled: bool = False  # this viewer is fed by play.feed (steps of other processes, in-memory layer)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As channels' own, minus its ``aclose_old_connections()`` before every
        message: that is a hop to the thread-sensitive thread per message, and
        this consumer touches the database only in the step pool, whose threads
        keep their own connections healthy (play.executor)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.episode_id = int(self.scope["url_route"]["kwargs"]["episode_id"])
        self.group = episode_group(self.episode_id)
        user = self.scope.get("user")
        # A logged-in user's sockets hear of a logout or an access change at once (ops.websocket).
        self.user_group = user_group(user.pk) if user is not None and user.is_authenticated else ""
        if self.user_group:
            await self.channel_layer.group_add(self.user_group, self.channel_name)
        elif self._surely_a_viewer() and self._take_admission():
            # Over its address's viewer limits: refused at the handshake (HTTP
            # 403), the cheapest answer to a reconnecting flood.
            await self.close(code=WEBSOCKET_TOO_MANY)
            return
        await self.accept()
        ensure_sweeper()

    async def disconnect(self, code: int) -> None:
        if self.admission is not None:
            self.admission.release()
        self._stop_polling()
        if self.role:  # a no-op for a player's connection, which left the group at hello
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.user_group:
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def access_changed(self, event: dict[str, Any]) -> None:
        """The user logged out (``ended_session``: that session, before it is
        flushed), changed password or was changed by an admin: close with 1008
        unless this socket's session still holds; the browser reconnects as
        whoever it now is (a viewer, or refused where staff access was needed)."""
        session_key = getattr(self.scope.get("session"), "session_key", None)
        ended = event.get("ended_session")
        try:
            holds = ended != session_key and await run_blocking(check_socket_session, self.scope)
        except Exception:
            logger.warning("episode %s: access re-check failed; closing", self.episode_id, exc_info=True)
            holds = False
        if not holds:
            await self.close(code=CLOSE_POLICY)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        received = time.perf_counter()
        seq = None
        try:
            message = parse(text_data)
            seq = message.seq if isinstance(message, Action) else None
            if not isinstance(message, Ping) and await BREAKER.refuses_async():
                raise ProtocolError(*UNAVAILABLE)
            await self._handle(message, received)
        except ServiceError as exc:  # every refusal: its code and message (balrogweb.errors)
            await self._error(exc.code, exc.message, seq)
        except ClientDisconnected:
            # The client left while its reply was being sent: nothing to tell anyone.
            logger.debug("episode %s: client left during a reply", self.episode_id)
        except Exception as exc:
            logger.exception("episode %s: message failed", self.episode_id)
            if BREAKER.trip_on(exc):  # the next messages are refused at once instead of waiting for the pool
                await self._error(*UNAVAILABLE, seq)
            else:
                await self._error("server_error", "the server could not handle this message; try again", seq)

    async def _handle(self, message: ClientMessage, received: float) -> None:
        if isinstance(message, Hello):
            await self._hello(message)
        elif isinstance(message, Ping):
            await self._send({"type": "pong", "t": message.token, "version": self.version})
        elif not self.role:
            raise ProtocolError("hello_first", "send a hello message first")
        elif isinstance(message, Action):
            await self._action(message, received)
        elif isinstance(message, Sync):
            await self._resync(message)
        elif isinstance(message, Options):
            await self._options(message)
        elif isinstance(message, Abandon):
            if not await self._check_player("abandon", None):
                return
            text = await run_blocking(services.do_abandon, *self._identity(), self.episode_id)
            self.role, self.ended = "viewer", True
            await self.send(text_data=text)

    async def _hello(self, hello: Hello) -> None:
        if self.role:
            raise ProtocolError("already_greeted", "hello was already received on this connection")
        admission = self.admission or ViewerAdmission(self._address())  # taken at connect if surely a viewer
        # Join before reading the state, so no step falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        try:
            opened = await run_blocking(
                services.open_connection,
                self.episode_id,
                *self._identity(),
                hello.version,
                hello.observation,
                hello.protocol,
                admission.admit,
            )
        except GameError as exc:
            admission.release()
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self._refuse(exc)
            return
        except BaseException:
            admission.release()
            raise
        self.admission = admission
        self.role, self.version, self.actions = opened.role, opened.version, opened.actions
        self.owner = opened.owner
        self.with_observation, self.protocol = hello.observation, hello.protocol
        if self.role == "player":
            # The player's own steps would come back as events (a round trip
            # through the channel layer per step, ~1 ms of CPU); a step from
            # another tab or an end elsewhere shows in the reply to its next action.
            await self.channel_layer.group_discard(self.group, self.channel_name)
        else:
            note_watched(self.group)
            if opened.status == "running" and feed_kind() == POLL:
                loop_feed().watch(self.episode_id)
                self.polled = True
        for text in opened.messages:
            await self.send(text_data=text)

    async def _action(self, action: Action, received: float) -> None:
        if not await self._check_player("send actions", action.seq):
            return
        if not action_limiter().allow(self.episode_id):
            raise ProtocolError("rate_limited", "too many actions per second; this one was not applied")
        try:
            acked = await self._apply(action, received)
        except EpisodeNotRunning as exc:  # ended elsewhere (another tab, the idle sweep)
            await self._error(exc.code, exc.message, action.seq)
            self.role, self.ended = "viewer", True
            await self.send(text_data=await run_blocking(services.ended_message, self.episode_id))
            return
        self.version, self.actions = acked.version, acked.actions
        if acked.done:
            self.role, self.ended = "viewer", True
        await self.send(text_data=acked.text)

    async def _apply(self, action: Action, received: float) -> services.Acked:
        """The step in the pool; with protocol 2, its frame is sent the moment
        the env has stepped, while the pool thread writes the step."""
        frame = FrameHandoff(asyncio.get_running_loop()) if self.protocol >= 2 else None
        work = submit_blocking(
            services.do_apply_player_action,
            self.episode_id,
            action,
            with_observation=self.with_observation,
            known_actions=self.actions,
            received=received,
            on_frame=frame.put if frame is not None else None,
        )
        try:
            if frame is not None:
                await self._send_early(frame)
        finally:
            acked = await work  # even if the frame's send failed: the step's outcome decides
        return acked

    async def _send_early(self, frame: FrameHandoff) -> None:
        # Resolved (with the frame or None) before the step's own future: both
        # come through call_soon_threadsafe, the frame first.
        text = await frame.future
        if text is None:
            return
        try:
            await self.send(text_data=text)
        finally:
            frame.mark_sent()

    async def _resync(self, sync: Sync) -> None:  # not _sync: channels consumers use that name
        """The steps after the client's version and the current state. Syncs
        of anyone but the episode's own player count against their address."""
        if not self.owner and not viewer_limits().allow_sync(self._address()):
            raise ProtocolError(*SYNC_LIMITED)
        self.version, text = await run_blocking(services.resync, self.episode_id, sync.version, self.with_observation)
        await self.send(text_data=text)

    async def _options(self, options: Options) -> None:
        self.with_observation = options.observation
        if options.observation:
            await self.send(text_data=await run_blocking(services.observation_message, self.episode_id, self.version))

    async def episode_event(self, event: dict[str, Any]) -> None:
        """A committed change to the episode (games.events), from any process.
        Versions tell a viewer what it missed: a broadcast lost on the way (a
        channel-layer outage, a full queue) shows as a version gap in the next
        event, and the missed steps are sent before it is."""
        version = int(event.get("version", 0))
        kind = event.get("kind")
        if self.polled and event.get("source") != FEED_SOURCE:
            loop_feed().note_pushed(self.episode_id)  # played in this process: its pushes suffice
        try:
            if kind == "step" and version > self.version:
                await self._catch_up(version)
            elif kind == "ended" and not self.ended:
                if version > self.version:  # the steps before the end first
                    await self._catch_up(version)
                self.role, self.ended = "viewer", True
                self._stop_polling()
                await self.send(text_data=await run_blocking(services.ended_message, self.episode_id))
        except GameError as exc:
            await self._error(exc.code, exc.message, None)
        except Exception:
            logger.exception("episode %s: event %s failed", self.episode_id, kind)

    async def _catch_up(self, version: int) -> None:
        """Server-side: never counted against the viewer's sync limit."""
        text = None
        if version == self.version + 1:
            text = await run_blocking(services.step_message, self.episode_id, version, self.with_observation)
        if text is not None:
            self.version = version
        else:  # a gap (steps were missed), or a step only a replay could draw now: the current state
            self.version, text = await run_blocking(
                services.resync, self.episode_id, self.version, self.with_observation
            )
        await self.send(text_data=text)

    # ----- helpers --------------------------------------------------------------------
    async def _refuse(self, exc: GameError) -> None:
        """A hello that cannot go on: the error, then the close that says why
        (the refusal's own close code; a hello that found no episode to join otherwise)."""
        await self._error(exc.code, exc.message, None)
        await self.close(code=exc.websocket_close or WEBSOCKET_NOT_FOUND)

    def _take_admission(self) -> str:
        """Count this connection among its address's viewers: '' or the refusal."""
        self.admission = ViewerAdmission(self._address())
        return self.admission.admit()

    def _surely_a_viewer(self) -> bool:
        """No account and no session cookie: nobody's episode (an anonymous
        player's identity lives in its session), so a viewer, known without
        the database."""
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            return False
        return getattr(self.scope.get("session"), "session_key", None) is None

    def _address(self) -> str:
        # The peer as the server saw it (manage.py serve trusts a proxy's
        # X-Forwarded-For from BALROG_FORWARDED_ALLOW_IPS only); '' when unknown.
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    def _stop_polling(self) -> None:
        if self.polled:
            self.polled = False
            loop_feed().unwatch(self.episode_id)

    def _identity(self) -> tuple[Any, Any]:
        return self.scope.get("user"), self.scope.get("session")

    async def _check_player(self, what: str, seq: int | None) -> bool:
        """True for the player of the running episode. Its own player, once it
        has ended (here or elsewhere), gets not_running and the end again;
        anyone else is forbidden."""
        if self.role == "player":
            return True
        if not self.owner:
            raise services.Forbidden(f"only the player of a running episode can {what}; you are watching")
        await self._error("not_running", "the episode has ended; nothing was applied", seq)
        self.ended = True
        await self.send(text_data=await run_blocking(services.ended_message, self.episode_id))
        return False

    async def _error(self, code: str, message: str, seq: int | None) -> None:
        payload: dict[str, Any] = {"type": "error", "code": code, "message": message, "version": self.version}
        if seq is not None:
            payload["seq"] = seq
        await self._send(payload)

    async def _send(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=encode(payload))


class ViewerGate:
    """In front of the session and the user (a thread hop per handshake):
    refuses, at the handshake (HTTP 403), an episode websocket with no session
    cookie (so nobody's episode: a viewer) from an address already over its
    viewer limits. Takes nothing: the consumer still admits and counts every
    viewer; this only makes a reconnecting flood cheap to turn away."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket" and self._surely_refused(scope):
            await refuse_handshake(receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _surely_refused(scope: dict[str, Any]) -> bool:
        if not str(scope.get("path", "")).startswith(EPISODE_PATH):
            return False
        if scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME):
            return False
        client = scope.get("client")
        return viewer_limits().would_refuse(str(client[0]) if client else "")


class FrameHandoff:
    """Carries one frame from the step pool's thread to the consumer's loop.

    The pool thread waits (at most FRAME_HANDOFF_WAIT_S) until the frame is
    on the socket before it goes on to the write: otherwise its Python work
    (digest, parameters, the driver) holds the GIL the loop needs to send the
    frame, which cost ~0.4 ms per frame on an idle server. Only the ack waits
    longer, by about the time of one send."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[str | None] = loop.create_future()
        # Held until the frame is sent: a bare lock is the cheapest cross-thread
        # signal (an Event is a Condition around another lock, in Python).
        self._unsent = threading.Lock()
        self._unsent.acquire()

    def put(self, text: str | None) -> None:  # called from a pool thread
        self.loop.call_soon_threadsafe(self._resolve, text)
        if text is not None:
            self._unsent.acquire(timeout=FRAME_HANDOFF_WAIT_S)

    def mark_sent(self) -> None:  # on the loop, once, after the frame's send
        self._unsent.release()

    def _resolve(self, text: str | None) -> None:
        if not self.future.done():  # not if the consumer was cancelled meanwhile
            self.future.set_result(text)
