"""Browser play: who may play an episode, starting or resuming one, and what
each websocket message carries.

Views and consumers parse and reply; everything they decide is here. Steps go
through ``games.services`` (at most once per index, rebuilt by replay after a
restart), which this module never bypasses. Functions named ``*_json`` return
protocol messages already encoded, built in the worker thread while the
episode's state is pinned, so the event loop only forwards text.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from balrogweb.runtime import ProcessSingleton
from games import catalogue
from games.base import EndReason, GameAdapter
from games.live import live_games
from games.models import Episode, Step
from games.registry import adapter_class, protocol_of
from games.services import (
    EpisodeNotFound,
    EpisodeNotRunning,
    GameError,
    StepOutcome,
    check_task,
    do_apply_action,
    do_end_episode,
    do_start_episode,
    live_adapter,
)
from ops.outage import retry_on_lost_connection
from play.feed import feed_kind
from play.limits import creation_refusal
from play.models import PlayRecord
from play.protocol import MAX_ACTION_CHARS, Action
from play.replay import adapter_view, dumps, replay_cursors, step_record, step_rows, view_at
from play.snapshots import viewer_texts, viewer_views

logger = logging.getLogger(__name__)

SESSION_TOKEN_KEY = "play_token"
MAX_MISSED_STEPS = 500  # a reconnecting client further behind gets a snapshot only
SNAPSHOT_TRIES = 3  # reads of the version before a viewer's snapshot may replay the game to draw it
SAME_SEED_LIMIT = 20
RANDOM_SEED_BOUND = 2**31
NICKNAME_MAX = 32
SHARED_STEP_MESSAGES = 4096  # episodes whose latest step message is kept (~4 kB each for NetHack)


class Forbidden(GameError):
    code = "forbidden"


class PlayRefused(GameError):
    """Starting an episode is refused (rate limit, bad seed source)."""

    code = "refused"


class ViewerRefused(GameError):
    """A connection that would only watch is refused: its address has too
    many viewer connections open, or opened them too fast (play.limits)."""

    code = "too_many_viewers"


class SeedRefused(PlayRefused):
    """The seed asked for is not there: no such model episode, or one of another task
    (the start form shows it next to the model episode field)."""


# ----- players -----------------------------------------------------------------
@dataclass(frozen=True)
class Player:
    """Who is asking: a logged-in user and/or an anonymous session token.

    ``keys`` are the owner keys this player holds; an episode is theirs when
    its PlayRecord's owner is one of them (an anonymous player who then logs
    in keeps their anonymous games for the session)."""

    user: AbstractBaseUser | AnonymousUser | None
    anon_key: str  # "a:<sha256 of the session token>", or ""

    @property
    def user_key(self) -> str:
        user = self.user
        return f"u:{user.pk}" if user is not None and user.is_authenticated else ""

    @property
    def owner(self) -> str:
        """The owner key of a new episode."""
        return self.user_key or self.anon_key

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(key for key in (self.user_key, self.anon_key) if key)

    @property
    def display_name(self) -> str:
        user = self.user
        return user.get_username() if user is not None and user.is_authenticated else ""


def anon_key(token: str) -> str:
    return "a:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:40]


def player_from(user: Any, session: SessionBase | None, *, create_token: bool = False) -> Player:
    """The player of a request or websocket scope. Reads the session (a
    database hit): call from a worker thread in async code."""
    token = session.get(SESSION_TOKEN_KEY) if session is not None else None
    if token is None and create_token and session is not None:
        token = secrets.token_urlsafe(24)
        session[SESSION_TOKEN_KEY] = token
    return Player(user=user, anon_key=anon_key(token) if isinstance(token, str) else "")


def owns(player: Player, episode_id: int) -> bool:
    if not player.keys:
        return False
    return PlayRecord.objects.filter(episode_id=episode_id, owner__in=player.keys).exists()


# ----- starting and resuming ---------------------------------------------------------
@dataclass(frozen=True)
class StartRequest:
    env: str
    task: str
    nickname: str = ""
    seed_from: int | None = None  # play the seed of this model episode


def live_episode_of(player: Player, env: str, task: str) -> Episode | None:
    """The player's running episode of this task, if any (stale records of
    episodes that ended meanwhile are released)."""
    if not player.keys:
        return None
    records = PlayRecord.objects.filter(owner__in=player.keys, env=env, task=task, live=True)
    records.exclude(episode__status=Episode.Status.RUNNING).update(live=False)
    record = records.select_related("episode").order_by("-created_at").first()
    return record.episode if record is not None else None


def start_or_resume(player: Player, request: StartRequest, client_ip: str | None) -> tuple[Episode, bool]:
    """(episode, resumed): the player's live episode of the task, or a new one.
    One live episode per player per task: a concurrent second start loses the
    database constraint and resumes the winner."""
    check_task(request.env, request.task)
    if not player.owner:
        raise PlayRefused("your browser session has no identity yet; reload the page")
    existing = live_episode_of(player, request.env, request.task)
    if existing is not None:
        return existing, True
    refusal = creation_refusal(player.owner, client_ip)
    if refusal:
        raise PlayRefused(refusal)
    seed, source = _seed_for(request)
    episode = do_start_episode(
        env=request.env,
        task=request.task,
        seed=seed,
        player_kind=Episode.PlayerKind.HUMAN,
        user=player.user,
        nickname=(request.nickname.strip() or player.display_name)[:NICKNAME_MAX],
    )
    try:
        with transaction.atomic():
            PlayRecord.objects.create(
                episode=episode,
                owner=player.owner,
                env=request.env,
                task=request.task,
                client_ip=client_ip,
                seed_from=source,
            )
    except IntegrityError:
        do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="a second start of the same task")
        winner = live_episode_of(player, request.env, request.task)
        if winner is None:
            raise
        return winner, True
    return episode, False


def _seed_for(request: StartRequest) -> tuple[int, Episode | None]:
    if request.seed_from is None:
        return secrets.randbelow(RANDOM_SEED_BOUND), None
    source = Episode.objects.filter(pk=request.seed_from, player_kind=Episode.PlayerKind.MODEL).first()
    if source is None:
        raise SeedRefused(f"there is no model episode {request.seed_from}")
    if (source.env, source.task) != (request.env, request.task):
        raise SeedRefused(f"model episode {source.pk} is a {source.env} {source.task} episode, not this task")
    return source.seed, source


def end_for_player(player: Player, episode_id: int) -> Episode:
    if not owns(player, episode_id):
        raise Forbidden("only the episode's player can abandon it")
    episode = do_end_episode(episode_id, reason=EndReason.ABANDONED, detail="by the player")  # after the reason
    PlayRecord.objects.filter(episode_id=episode_id).update(live=False)
    return episode


# ----- the websocket messages -----------------------------------------------------------
@dataclass(frozen=True)
class Opened:
    role: str  # "player" (may send actions) or "viewer"
    version: int
    status: str
    messages: tuple[str, ...]  # encoded: welcome, then snapshot
    actions: tuple[str, ...]
    owner: bool = False  # this connection's player started the episode (running or not)


def open_connection(
    episode_id: int,
    user: Any,
    session: SessionBase | None,
    since: int | None,
    with_observation: bool,
    protocol: int,
    admit_viewer: Callable[[], str] | None = None,
) -> Opened:
    """Hello: the role of this connection and the state to draw. The player of
    a running episode gets the live game (rebuilt by replay if this process
    has none, e.g. after a restart). Anyone but the episode's own player must
    first pass ``admit_viewer`` (its refusal, or ''), before any state is built."""
    episode = get_episode(episode_id)
    player = player_from(user, session)
    owner = owns(player, episode_id)
    role = "player" if episode.is_running and owner else "viewer"
    if not owner and admit_viewer is not None:
        check_viewer_admitted(admit_viewer)
    welcome = dumps(
        {
            "type": "welcome",
            "protocol": protocol,
            "role": role,
            "feed": feed_kind(),
            "episode": _episode_facts(episode),
        }
    )
    if role == "player":
        view = _player_view(episode, with_observation)
        snapshot = dumps(snapshot_message(episode, view, since))
        return Opened(role, view["version"], episode.status, (welcome, snapshot), tuple(view["actions"]), owner)
    version, snapshot = _viewer_snapshot(episode.pk, since, with_observation)
    # A viewer sends no actions: it needs no list to leave unchanged actions out of acks.
    return Opened(role, version, episode.status, (welcome, snapshot), (), owner)


def check_viewer_admitted(admit_viewer: Callable[[], str]) -> None:
    refusal = admit_viewer()
    if refusal:
        raise ViewerRefused(refusal)


def resync(episode_id: int, since: int, with_observation: bool) -> tuple[int, str]:
    """Sync: the steps after ``since`` and the current state."""
    return _viewer_snapshot(episode_id, since, with_observation)


class _LiveGameMovedOn(Exception):
    """The view asked for is behind this process's live game: only a replay
    from the seed could draw it (a replay cursor never goes back)."""


def _viewer_snapshot(episode_id: int, since: int | None, with_observation: bool) -> tuple[int, str]:
    """(version, snapshot) at the episode's committed version, built once per
    version, end and request for every viewer (play.snapshots). A player's
    step that lands between reading the version and drawing it moves the
    snapshot on to the newer version (still current) rather than replaying
    the game to the older one."""
    for _ in range(SNAPSHOT_TRIES):
        episode = get_episode(episode_id)
        try:
            return episode.steps, _snapshot_text(episode, since, with_observation, replay=False)
        except _LiveGameMovedOn:
            continue
    episode = get_episode(episode_id)
    return episode.steps, _snapshot_text(episode, since, with_observation, replay=True)


def _snapshot_text(episode: Episode, since: int | None, with_observation: bool, *, replay: bool) -> str:
    def build() -> str:
        view = _committed_view(episode, episode.steps, with_observation, replay=replay)
        return dumps(snapshot_message(episode, view, since))

    key = ("snapshot", episode.pk, episode.steps, episode.status, since, with_observation)
    return viewer_texts().get_or_build(key, build)


def _committed_view(episode: Episode, version: int, with_observation: bool, *, replay: bool) -> dict[str, Any]:
    """The view at a committed version, for viewers, built once (play.snapshots;
    callers copy it into their message, never change it): from this
    process's live game when it is at that version, else by replay, unless
    the live game is past it and ``replay`` is false (_LiveGameMovedOn)."""
    version = min(version, episode.steps)
    key = (episode.pk, version, with_observation)

    def build() -> dict[str, Any]:
        with live_games().lock_for(episode.pk):
            adapter = live_games().get(episode.pk)
            if adapter is not None and adapter.steps == version:
                return adapter_view(adapter, with_observation)
            if adapter is not None and adapter.steps > version and not replay:
                raise _LiveGameMovedOn
        return view_at(episode, version, with_observation)

    return viewer_views().get_or_build(key, build)


def _player_view(episode: Episode, with_observation: bool) -> dict[str, Any]:
    with live_games().lock_for(episode.pk):
        return adapter_view(live_adapter(episode), with_observation)


def snapshot_message(episode: Episode, view: Mapping[str, Any], since: int | None) -> dict[str, Any]:
    version = view["version"]
    missed = None
    if since is not None and since <= version and version - since <= MAX_MISSED_STEPS:
        missed = [step_record(row) for row in step_rows(episode.pk, since, version)]
    return {
        "type": "snapshot",
        **view,
        "since": since,
        "missed": missed,
        "status": episode.status,
        "end": end_facts(episode) if not episode.is_running and version >= episode.steps else None,
    }


@dataclass(frozen=True)
class Acked:
    version: int
    text: str
    actions: tuple[str, ...]
    done: bool


# Receives the early frame's JSON, or None when there will be none (the step
# failed, or was a duplicate): called once, from the step pool's thread.
FrameSink = Callable[[str | None], None]


def apply_player_action(
    episode_id: int,
    message: Action,
    *,
    with_observation: bool,
    known_actions: tuple[str, ...],
    received: float,
    on_frame: FrameSink | None = None,
) -> Acked:
    """Apply one action of the episode's player as step ``message.seq`` (at
    most once; invalid actions are rejected and change nothing) and build the
    ack. A duplicate (the step was applied already, e.g. the ack was lost in a
    reconnect) is acknowledged with the current state. ``received`` is the
    perf_counter() time the message arrived.

    With ``on_frame`` (protocol 2) the new frame goes to it as soon as the env
    has stepped, before the write commits, and the ack then only confirms it
    (version, step, end); an ack that follows no frame carries the state."""
    early = _EarlyFrame(episode_id, message.seq, with_observation, known_actions, received, on_frame)
    try:
        core_started = time.perf_counter()
        # A connection that died under the step costs one retry on a fresh
        # one (the step key makes it idempotent); the early frame is shared.
        outcome = retry_on_lost_connection(do_apply_action)(
            episode_id,
            index=message.seq,
            action=message.action,
            raw_input=message.raw_input,
            on_invalid="reject",
            meta={"source": message.source},
            on_stepped=early.send if on_frame is not None else None,
            on_recorded=early.share_with_viewers if on_frame is not None else None,
        )
        core_ms = (time.perf_counter() - core_started) * 1000
        return _ack(episode_id, message, outcome, early, core_ms)
    finally:
        early.close()


class _EarlyFrame:
    """The ``frame`` message of protocol 2, built under the episode's lock;
    once the step commits, the same view becomes the viewers' ``step`` message."""

    def __init__(
        self,
        episode_id: int,
        seq: int,
        with_observation: bool,
        known_actions: tuple[str, ...],
        received: float,
        sink: FrameSink | None,
    ) -> None:
        self.episode_id, self.seq = episode_id, seq
        self.with_observation, self.known_actions = with_observation, known_actions
        self.received, self.sink = received, sink
        self.actions: tuple[str, ...] | None = None  # set once the frame went out
        self.view: dict[str, Any] | None = None  # the viewers' part of it (no observation)

    def send(self, adapter: GameAdapter, env_ms: float) -> None:
        view = adapter_view(adapter, self.with_observation)
        self.view = {key: value for key, value in view.items() if key != "observation"}
        state, actions = _state(view, self.known_actions)
        frame: dict[str, Any] = {"type": "frame", "seq": self.seq, **state, "env_ms": round(env_ms, 3)}
        frame["server_ms"] = round((time.perf_counter() - self.received) * 1000, 3)
        assert self.sink is not None
        self.sink(dumps(frame))
        self.actions = actions

    def share_with_viewers(self, step: Step) -> None:
        """The step committed: its viewers' message, from the frame's view. Not
        for the last step (its message carries the end facts, from the database)."""
        if self.view is not None and not step.done:
            message = {"type": "step", **self.view, "step": step_record(_step_row(step)), "end": None}
            shared_step_messages().put(self.episode_id, self.view["version"], dumps(message))

    def close(self) -> None:
        if self.sink is not None and self.actions is None:
            self.sink(None)
            self.sink = None


def _ack(episode_id: int, message: Action, outcome: StepOutcome, early: _EarlyFrame, core_ms: float) -> Acked:
    episode = get_episode(episode_id) if outcome.done or outcome.duplicate else None
    ack: dict[str, Any] = {
        "type": "ack",
        "seq": message.seq,
        "duplicate": outcome.duplicate,
        "step": step_record(_step_row(outcome.step)),
    }
    if early.actions is not None and not outcome.duplicate:  # it confirms the frame already sent
        ack["version"], actions = outcome.version, early.actions
    else:  # no frame went out, or the log holds another step than the one shown
        version = episode.steps if episode is not None and outcome.duplicate else outcome.version
        state, actions = _state(_view_after(episode_id, version, episode, early.with_observation), early.known_actions)
        ack |= state
    ack["env_ms"] = round(outcome.step.server_ms, 3)
    ack["core_ms"] = round(core_ms, 3)
    ack["end"] = end_facts(episode) if episode is not None and not episode.is_running else None
    if outcome.done:
        PlayRecord.objects.filter(episode_id=episode_id).update(live=False)
    ack["server_ms"] = round((time.perf_counter() - early.received) * 1000, 3)
    return Acked(ack["version"], dumps(ack), actions, outcome.done)


def _state(view: dict[str, Any], known_actions: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A view as a frame or ack carries it: ``actions`` only when they changed
    since the client's last message; and the actions now."""
    actions = tuple(view.pop("actions"))
    if actions != known_actions:
        view["actions"] = list(actions)
    return view, actions


def _view_after(episode_id: int, version: int, episode: Episode | None, with_observation: bool) -> dict[str, Any]:
    """The view right after a step: the live game if it is still there
    (nearly always), else by replay."""
    with live_games().lock_for(episode_id):
        adapter = live_games().get(episode_id)
        if adapter is not None and adapter.steps == version:
            return adapter_view(adapter, with_observation)
    return view_at(episode or get_episode(episode_id), version, with_observation)


def _step_row(step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "action": step.action,
        "raw_input": step.raw_input,
        "valid": step.valid,
        "reward": step.reward,
        "progression": step.progression,
        "done": step.done,
        "executed": step.executed,
    }


def step_message(episode_id: int, version: int, with_observation: bool) -> str | None:
    """A step another connection applied (spectators, the player's other tabs),
    built once per version and end for all of them (play.snapshots); a step
    its player applied in this process is the message shared from its frame.
    None when this process's live game has moved past it: the caller sends a
    snapshot with the missed steps instead of replaying the game to draw it."""
    shared = None if with_observation else shared_step_messages().get(episode_id, version)
    if shared is not None:
        return shared
    episode = get_episode(episode_id)
    version = min(version, episode.steps)
    ended_here = not episode.is_running and version >= episode.steps
    key = ("step", episode.pk, version, with_observation, episode.status if ended_here else "")
    try:
        return viewer_texts().get_or_build(key, lambda: _step_json(episode, version, with_observation, ended_here))
    except _LiveGameMovedOn:
        return None


def _step_json(episode: Episode, version: int, with_observation: bool, ended_here: bool) -> str:
    view = _committed_view(episode, version, with_observation, replay=False)
    row = next(step_rows(episode.pk, version - 1, version), None)
    message = {
        "type": "step",
        **view,
        "step": step_record(row) if row is not None else None,
        "end": end_facts(episode) if ended_here else None,
    }
    return dumps(message)


class SharedStepMessages:
    """The latest ``step`` message of each episode stepped by its player in
    this process, encoded once from the player's frame: every viewer of the
    step sends that text instead of reading the episode, the step row and a
    replayed view from the database. Filled only after the step commits (a
    lost race fills nothing); bounded, the least recently stepped go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._latest: OrderedDict[int, tuple[int, str]] = OrderedDict()

    def put(self, episode_id: int, version: int, text: str) -> None:
        with self._lock:
            self._latest[episode_id] = (version, text)
            self._latest.move_to_end(episode_id)
            if len(self._latest) > self.size:
                self._latest.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._latest.clear()

    def get(self, episode_id: int, version: int) -> str | None:
        with self._lock:
            latest = self._latest.get(episode_id)
        return latest[1] if latest is not None and latest[0] == version else None


_shared_step_messages = ProcessSingleton("play.shared_step_messages", lambda: SharedStepMessages(SHARED_STEP_MESSAGES))


def shared_step_messages() -> SharedStepMessages:
    return _shared_step_messages.get()


def observation_message(episode_id: int, version: int) -> str:
    """The model's view (the exact text observation) at the connection's version."""
    episode = get_episode(episode_id)
    view = view_at(episode, version, with_observation=True)
    return dumps({"type": "observation", "version": view["version"], "observation": view["observation"]})


def ended_message(episode_id: int) -> str:
    episode = get_episode(episode_id)
    return dumps({"type": "ended", "version": episode.steps, "status": episode.status, "end": end_facts(episode)})


def abandon_json(player_user: Any, session: SessionBase | None, episode_id: int) -> str:
    end_for_player(player_from(player_user, session), episode_id)
    return ended_message(episode_id)


def play_again_choices(episode: Episode) -> dict[str, str]:
    """The start form's fields that play this episode's task again as it was chosen: the
    same nickname and seed choice (a model episode's seed again, else a new random seed)."""
    record = PlayRecord.objects.filter(episode=episode).only("seed_from_id").first()
    seed_from = record.seed_from_id if record is not None else None
    return {
        "task": episode.task,
        "nickname": episode.nickname,
        "seed": "model" if seed_from else "random",
        "model_episode": str(seed_from or ""),
    }


def end_facts(episode: Episode) -> dict[str, Any]:
    """The end screen: score, end reason, and the same seed's model episodes."""
    return {
        "status": episode.status,
        "reason": episode.end_reason,
        "detail": episode.end_detail,
        "progression": episode.progression,
        "return": episode.episode_return,
        "steps": episode.steps,
        "same_seed": [
            {"id": other.pk, "agent": other.agent, "progression": other.progression, "steps": other.steps}
            for other in same_seed_model_episodes(episode)
        ],
    }


def _episode_facts(episode: Episode) -> dict[str, Any]:
    return {
        "id": episode.pk,
        "env": episode.env,
        "task": episode.task,
        "seed": episode.seed,
        "status": episode.status,
        "steps": episode.steps,
        "accepts_free_text": catalogue.accepts_free_text(episode.env),
        "command_limits": command_limits(episode),
    }


def command_limits(episode: Episode) -> dict[str, int | None]:
    """What an ``action`` may hold, in one place for the parser (``chars``:
    play.protocol), the game (``utf8_bytes``: a TextWorld command must fit
    Jericho's input buffer; null when the game has no such limit) and the
    browser's command line, which checks both before sending (the doc's
    examples are tested against these)."""
    cls = adapter_class(episode.env, protocol_of(episode.options))
    return {"chars": MAX_ACTION_CHARS, "utf8_bytes": getattr(cls, "max_command_bytes", None)}


# ----- queries ------------------------------------------------------------------------
def get_episode(episode_id: int) -> Episode:
    try:
        return Episode.objects.get(pk=episode_id)
    except Episode.DoesNotExist:
        raise EpisodeNotFound(f"episode {episode_id} does not exist") from None


def same_seed_model_episodes(episode: Episode) -> QuerySet[Episode]:
    return (
        Episode.objects.filter(
            player_kind=Episode.PlayerKind.MODEL, env=episode.env, task=episode.task, seed=episode.seed
        )
        .exclude(pk=episode.pk)
        .order_by("-pk")[:SAME_SEED_LIMIT]
    )


def episodes_of(player: Player) -> QuerySet[Episode]:
    """A player's episodes, newest first (the profile page)."""
    ids = PlayRecord.objects.filter(owner__in=player.keys).values("episode_id")
    query = Q(pk__in=ids)
    if player.user_key:
        query |= Q(user=player.user, player_kind=Episode.PlayerKind.HUMAN)
    return Episode.objects.filter(query).select_related("play").order_by("-pk")


def do_claim_anonymous_episodes(token: str | None, user: AbstractBaseUser) -> int:
    """Give ``user`` the episodes played anonymously under the session
    ``token`` (on sign-up and log-in): they become the user's, so they show on
    the profile and count as human baselines. An episode still live on a task
    where the user already has a live one stays anonymous (the session keeps
    access to it). Returns how many episodes moved."""
    if not isinstance(token, str) or not token:
        return 0
    user_key = Player(user=user, anon_key="").user_key
    with transaction.atomic():
        records = list(PlayRecord.objects.select_for_update().filter(owner=anon_key(token)))
        busy = set(PlayRecord.objects.filter(owner=user_key, live=True).values_list("env", "task"))
        claimed = [record.episode_id for record in records if not (record.live and (record.env, record.task) in busy)]
        PlayRecord.objects.filter(episode_id__in=claimed).update(owner=user_key)
        Episode.objects.filter(pk__in=claimed, user__isnull=True).update(user=user)
    return len(claimed)


# ----- idle episodes ------------------------------------------------------------------------
def close_idle_episodes() -> list[int]:
    """End (as abandoned, scored as they stand) the human episodes idle for
    longer than BALROG_IDLE_TIMEOUT_SECONDS, and drop this process's live
    games and replay cursors that sat unused as long."""
    timeout = settings.BALROG_IDLE_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    idle = Episode.objects.filter(
        status=Episode.Status.RUNNING, player_kind=Episode.PlayerKind.HUMAN, last_activity_at__lt=cutoff
    )
    closed = []
    for episode_id in idle.values_list("pk", flat=True):
        try:
            do_end_episode(episode_id, reason=EndReason.ABANDONED, detail=f"after {timeout:g} s idle")
        except EpisodeNotRunning:
            continue  # it ended meanwhile
        closed.append(episode_id)
    PlayRecord.objects.filter(live=True).exclude(episode__status=Episode.Status.RUNNING).update(live=False)
    _evict_idle_live_games(time.monotonic() - timeout)
    return closed


def _evict_idle_live_games(cutoff: float) -> None:
    for episode_id in live_games().idle_since(cutoff):
        with live_games().lock_for(episode_id):  # never close an adapter being stepped
            live_games().evict(episode_id)
        replay_cursors().forget(episode_id)
