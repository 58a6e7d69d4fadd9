"""The player's step: applied at most once per index through
``games.services``, its frame sent before the write commits (protocol 2),
its ack built after; the committed step's message shared with viewers."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from balrogweb.runtime import ProcessSingleton
from games.base import GameAdapter
from games.live import live_games
from games.models import Episode, Step
from games.services import (
    StepOutcome,
    do_apply_action,
)
from ops.outage import retry_on_lost_connection
from play.models import PlayRecord
from play.protocol import Action
from play.replay import adapter_view, dumps, step_record, view_at
from play.services.episodes import (
    end_facts,
    get_episode,
    step_row_of,
)

SHARED_STEP_MESSAGES = 4096  # episodes whose latest step message is kept (~4 kB each for NetHack)


@dataclass(frozen=True)
class Acked:
    version: int
    text: str
    actions: tuple[str, ...]
    done: bool


# Receives the early frame's JSON, or None when there will be none (the step
# failed, or was a duplicate): called once, from the step pool's thread.
FrameSink = Callable[[str | None], None]


def do_apply_player_action(
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
            message = {"type": "step", **self.view, "step": step_record(step_row_of(step)), "end": None}
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
        "step": step_record(step_row_of(outcome.step)),
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
