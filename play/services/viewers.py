"""What a websocket connection is told: its role and state at hello, syncs,
steps other connections applied, the model's observation and the end.
Viewer texts are built once per version for every viewer (play.snapshots)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from balrogweb.errors import WEBSOCKET_TOO_MANY
from games.live import live_games
from games.models import Episode
from games.services import (
    GameError,
    live_adapter,
)
from play.feed import feed_kind
from play.replay import adapter_view, dumps, step_record, step_rows, view_at
from play.services.episodes import (
    end_facts,
    episode_facts,
    get_episode,
)
from play.services.players import (
    owns,
    player_from,
)
from play.services.starts import (
    do_end_for_player,
)
from play.services.steps import (
    shared_step_messages,
)
from play.snapshots import viewer_texts, viewer_views

MAX_MISSED_STEPS = 500  # a reconnecting client further behind gets a snapshot only


SNAPSHOT_TRIES = 3  # reads of the version before a viewer's snapshot may replay the game to draw it


class ViewerRefused(GameError):
    """A connection that would only watch is refused: its address has too
    many viewer connections open, or opened them too fast (play.limits)."""

    code = "too_many_viewers"
    http_status = 429
    websocket_close = WEBSOCKET_TOO_MANY


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
            "episode": episode_facts(episode),
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


def observation_message(episode_id: int, version: int) -> str:
    """The model's view (the exact text observation) at the connection's version."""
    episode = get_episode(episode_id)
    view = view_at(episode, version, with_observation=True)
    return dumps({"type": "observation", "version": view["version"], "observation": view["observation"]})


def ended_message(episode_id: int) -> str:
    episode = get_episode(episode_id)
    return dumps({"type": "ended", "version": episode.steps, "status": episode.status, "end": end_facts(episode)})


def do_abandon(player_user: Any, session: SessionBase | None, episode_id: int) -> str:
    do_end_for_player(player_from(player_user, session), episode_id)
    return ended_message(episode_id)
