"""Episode services: start, apply an action, end, rebuild, verify.

``check_*`` validate, ``do_*`` write and emit events after commit. The rules
that keep an episode's log exact:

- One writer per episode: the in-process episode lock serializes threads, and
  across processes every step commits only through a compare-and-swap on
  ``Episode.steps`` (UPDATE ... WHERE steps = index, in games.steplog), backed by the unique
  (episode, index) constraint. A loser rolls back and answers from the log.
- Idempotent on the index: re-sending step N with the same input returns the
  recorded step; with a different input it is a conflict. Nothing is applied
  twice and nothing acknowledged is lost.
- An adapter whose state may be ahead of the database (a failed write) is
  evicted; the next request rebuilds it by replay.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from balrogweb.errors import WEBSOCKET_NOT_FOUND, ServiceError
from games.base import EndReason, GameAdapter, InvalidTask, StepResult, TaskInfo
from games.events import emit_after_commit
from games.jsontypes import JSONObject, JSONValue
from games.live import live_games
from games.models import Episode, Step
from games.registry import DEFAULT_PROTOCOL, adapter_class, check_protocol, make_adapter
from games.steplog import EpisodeFields, write_step

OnInvalid = Literal["default", "reject"]
# Called with the stepped adapter and the env step's time in ms, before the write.
OnStepped = Callable[[GameAdapter, float], None]
# Called with the step once its write commits, before its event goes to viewers.
OnRecorded = Callable[[Step], None]
MAX_RAW_INPUT_CHARS = 100_000


class GameError(ServiceError):
    """A game refused what it was asked (balrogweb.errors: one family of refusals)."""

    code = "game_error"
    http_status = 409


class UnknownTask(GameError):
    code = "unknown_task"


class EpisodeNotFound(GameError):
    code = "not_found"
    http_status = 404
    websocket_close = WEBSOCKET_NOT_FOUND


class EpisodeNotRunning(GameError):
    code = "not_running"


class InvalidAction(GameError):
    code = "invalid_action"


class StepConflict(GameError):
    """The index was already applied with a different input."""

    code = "step_conflict"


class StepOutOfOrder(GameError):
    """The index is ahead of the episode: a step in between is missing."""

    code = "out_of_order"


class NotReplayable(GameError):
    code = "not_replayable"


class _LostRace(Exception):
    """Another writer committed this index first."""


@dataclass(frozen=True)
class StepOutcome:
    episode_id: int
    step: Step
    version: int  # steps applied after this one
    status: str
    progression: float
    episode_return: float
    done: bool
    end_reason: str
    duplicate: bool = False  # the index had already been applied with this input


# ----- start ------------------------------------------------------------------
def check_task(env: str, task: str) -> TaskInfo:
    try:
        return adapter_class(env).task_by_name(task)
    except InvalidTask as exc:
        raise UnknownTask(str(exc)) from None


def with_protocol(options: Mapping[str, JSONValue] | None) -> JSONObject:
    """``options`` naming a protocol: the reference's unless they ask otherwise."""
    options = dict(options or {})
    options["protocol"] = check_protocol(str(options.get("protocol", DEFAULT_PROTOCOL)))
    return options


def account_of(user: AbstractBaseUser | AnonymousUser | None) -> User | None:
    """The account an episode is recorded under: None for anyone not logged in."""
    return user if isinstance(user, User) and user.is_authenticated else None


def do_start_episode(
    *,
    env: str,
    task: str,
    seed: int,
    player_kind: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
    nickname: str = "",
    agent: str = "",
    options: Mapping[str, JSONValue] | None = None,
) -> Episode:
    check_task(env, task)
    options = with_protocol(options)
    adapter = make_adapter(env, task, options)
    reset_info = adapter.reset(seed)
    with transaction.atomic():
        episode = Episode.objects.create(
            env=env,
            task=task,
            seed=seed,
            options=adapter.options,  # with the defaults the adapter pinned
            protocol=str(options["protocol"]),  # with_protocol checked it
            reset_info=reset_info,
            level_source=str(reset_info.get("level_source", "")),
            engine_version=adapter.engine_version(),
            player_kind=player_kind,
            user=account_of(user),
            nickname=nickname[:64],
            agent=agent[:128],
            initial_digest=adapter.digest(),
        )
        emit_after_commit(episode.pk, "started", 0, {"env": env, "task": task})
    live_games().put(episode.pk, adapter)
    return episode


# ----- apply --------------------------------------------------------------------
def do_apply_action(
    episode_id: int,
    *,
    index: int,
    action: str,
    raw_input: str | None = None,
    on_invalid: OnInvalid = "default",
    meta: JSONObject | None = None,
    on_stepped: OnStepped | None = None,
    on_recorded: OnRecorded | None = None,
) -> StepOutcome:
    """Apply ``action`` as step ``index`` of the episode, at most once.

    ``on_stepped(adapter, env_ms)`` runs after the env step and before the
    step is written, with the episode's lock held: a player can be shown the
    new frame while the write commits (the ack still waits for the commit).
    It must not change the adapter; if the write then fails, the frame it
    showed was never acknowledged. ``on_recorded(step)`` runs once this call's
    write has committed, before the step's event is sent (a duplicate or a
    lost race records nothing and does not call it)."""
    raw = (action if raw_input is None else raw_input)[:MAX_RAW_INPUT_CHARS]
    with live_games().lock_for(episode_id):
        adapter = live_games().get(episode_id)
        if adapter is None or adapter.steps != index or adapter.done:
            synced = _resync(episode_id, index, raw)
            if isinstance(synced, StepOutcome):
                return synced
            adapter = synced
        try:
            return _step_and_record(
                episode_id, adapter, index, action, raw, on_invalid, meta or {}, on_stepped, on_recorded
            )
        except _LostRace:
            live_games().evict(episode_id)
            episode = _get_episode(episode_id)
            if index >= episode.steps:  # not a lost race on the index: the episode ended meanwhile
                _require_running(episode)
            return _answer_from_log(episode, index, raw)


def _resync(episode_id: int, index: int, raw: str) -> StepOutcome | GameAdapter:
    """Answer from the log (an index already applied), or return the live
    adapter brought level with the log."""
    episode = _get_episode(episode_id)
    if index < episode.steps:
        return _answer_from_log(episode, index, raw)
    if index > episode.steps:
        raise StepOutOfOrder(f"step {index} is ahead of the episode, which has {episode.steps} steps")
    _require_running(episode)
    return live_adapter(episode)


def _answer_from_log(episode: Episode, index: int, raw: str) -> StepOutcome:
    try:
        step = Step.objects.get(episode=episode, index=index)
    except Step.DoesNotExist:
        raise StepOutOfOrder(f"step {index} is not in the log yet") from None
    if step.raw_input != raw:
        raise StepConflict(f"step {index} was already applied with a different input")
    return _outcome(episode, step, duplicate=True)


def _step_and_record(
    episode_id: int,
    adapter: GameAdapter,
    index: int,
    action: str,
    raw: str,
    on_invalid: OnInvalid,
    meta: JSONObject,
    on_stepped: OnStepped | None = None,
    on_recorded: OnRecorded | None = None,
) -> StepOutcome:
    if on_invalid == "reject" and not adapter.is_valid(action):
        raise InvalidAction(f"{action[:80]!r} is not an action of this game")
    started = time.perf_counter()
    try:
        result = adapter.step(action)
        server_ms = (time.perf_counter() - started) * 1000
        if on_stepped is not None:
            on_stepped(adapter, server_ms)
        return _record_step(episode_id, adapter, index, raw, result, server_ms, meta, on_recorded)
    except BaseException:
        # The adapter may now be ahead of the log: drop it, rebuild on demand.
        live_games().evict(episode_id)
        raise


def _record_step(
    episode_id: int,
    adapter: GameAdapter,
    index: int,
    raw: str,
    result: StepResult,
    server_ms: float,
    meta: JSONObject,
    on_recorded: OnRecorded | None = None,
) -> StepOutcome:
    now = timezone.now()
    fields: EpisodeFields = {
        "steps": index + 1,
        "progression": result.progression,
        "episode_return": adapter.episode_return,
    }
    if result.done:
        fields |= _end_fields(result.end_reason, result.end_detail, now)
    # Compare-and-swap: only the writer that saw ``steps == index`` wins.
    step = write_step(
        episode_id,
        index,
        fields,
        {
            "action": result.action[:255],
            "raw_input": raw,
            "valid": result.valid,
            "executed": result.executed,
            "reward": result.reward,
            "progression": result.progression,
            "done": result.done,
            "digest": adapter.digest(),
            "server_ms": server_ms,
            "meta": meta,
        },
    )
    if step is None:
        raise _LostRace()
    if on_recorded is not None:  # on commit, and before the event: callbacks run in order
        transaction.on_commit(lambda: on_recorded(step), robust=True)  # never fails a committed step
    emit_after_commit(episode_id, "step", index + 1, {"index": index})
    return StepOutcome(
        episode_id=episode_id,
        step=step,
        version=index + 1,
        status=fields.get("status", Episode.Status.RUNNING),
        progression=result.progression,
        episode_return=adapter.episode_return,
        done=result.done,
        end_reason=fields.get("end_reason", ""),
    )


def _end_fields(reason: EndReason | None, detail: str, now: datetime) -> EpisodeFields:
    return {
        "status": Episode.Status.FINISHED,
        "end_reason": (reason or EndReason.ERROR).value,
        "end_detail": detail[:255],
        "ended_at": now,
    }


def _outcome(episode: Episode, step: Step, duplicate: bool) -> StepOutcome:
    return StepOutcome(
        episode_id=episode.pk,
        step=step,
        version=step.index + 1,
        status=episode.status,
        progression=step.progression,
        episode_return=episode.episode_return,
        done=step.done,
        end_reason=episode.end_reason if step.done else "",
        duplicate=duplicate,
    )


# ----- end ------------------------------------------------------------------------
def do_end_episode(episode_id: int, *, reason: EndReason = EndReason.ABANDONED, detail: str = "") -> Episode:
    """End a running episode as it stands (abandoned, error); scored as it is."""
    with live_games().lock_for(episode_id), transaction.atomic():
        episode = _get_episode(episode_id, for_update=True)
        _require_running(episode)
        status = Episode.Status.ERROR if reason is EndReason.ERROR else Episode.Status.ABANDONED
        episode.status = status
        episode.end_reason = reason.value
        episode.end_detail = detail[:255]
        episode.ended_at = timezone.now()
        episode.save(update_fields=["status", "end_reason", "end_detail", "ended_at"])
        emit_after_commit(episode.pk, "ended", episode.steps, {"end_reason": reason.value})
    live_games().evict(episode_id)
    return episode


# ----- rebuild and verify --------------------------------------------------------------
def live_adapter(episode: Episode) -> GameAdapter:
    """The episode's adapter level with its log, rebuilt or caught up by replay.

    Call with the episode's lock held when the adapter will be stepped."""
    adapter = live_games().get(episode.pk)
    if adapter is None or adapter.steps > episode.steps:
        adapter = rebuild_adapter(episode)
    elif adapter.steps < episode.steps:
        _replay_steps(adapter, episode, start=adapter.steps)
    live_games().put(episode.pk, adapter)
    return adapter


def rebuild_adapter(episode: Episode, upto: int | None = None) -> GameAdapter:
    """A fresh adapter replayed from the episode's seed and action log."""
    if not episode.replayable:
        raise NotReplayable(f"episode {episode.pk} was imported and has no replayable log")
    adapter = make_adapter(episode.env, episode.task, episode.options)
    adapter.reset(episode.seed)
    _replay_steps(adapter, episode, start=0, stop=upto)
    return adapter


def _replay_steps(adapter: GameAdapter, episode: Episode, start: int, stop: int | None = None) -> None:
    steps = Step.objects.filter(episode=episode, index__gte=start).order_by("index")
    if stop is not None:
        steps = steps.filter(index__lt=stop)
    for executed, action, valid in steps.values_list("executed", "action", "valid").iterator(chunk_size=2000):
        adapter.replay(executed, action, valid)


@dataclass(frozen=True)
class Verification:
    episode_id: int
    ok: bool
    steps_checked: int
    message: str
    first_mismatch: int | None = None  # step index, -1 for the initial state


def do_verify_episode(episode: Episode) -> Verification:
    """Replay the log from the seed in a fresh adapter; digests and progression must match."""
    if not episode.replayable:
        return Verification(episode.pk, False, 0, "imported: not replayable")
    adapter = make_adapter(episode.env, episode.task, episode.options)
    try:
        report = _compare_replay(adapter, episode)
    finally:
        adapter.close()
    Episode.objects.filter(pk=episode.pk).update(verified_at=timezone.now(), verified_ok=report.ok)
    return report


def _compare_replay(adapter: GameAdapter, episode: Episode) -> Verification:
    reset_info = adapter.reset(episode.seed)
    if reset_info != episode.reset_info:
        return Verification(episode.pk, False, 0, f"reset differs: {reset_info} != {episode.reset_info}", -1)
    if adapter.digest() != episode.initial_digest:
        return Verification(episode.pk, False, 0, "initial state digest differs", -1)
    checked = 0
    rows = Step.objects.filter(episode=episode).order_by("index")
    if episode.status == Episode.Status.RUNNING:
        # The prefix this row described when it was read: steps and the row's
        # count commit together, and a game played meanwhile has logged more.
        rows = rows.filter(index__lt=episode.steps)
    # Plain tuples, not model instances: verification runs at replay speed.
    fields = ("index", "executed", "action", "valid", "digest", "progression", "done")
    for index, executed, action, valid, digest, progression, done in rows.values_list(*fields).iterator(
        chunk_size=2000
    ):
        if index != checked:
            return Verification(episode.pk, False, checked, f"step {checked} missing from the log", checked)
        result = adapter.replay(executed, action, valid)
        mismatch = _step_mismatch(adapter.digest(), result, digest, progression, done)
        if mismatch:
            return Verification(episode.pk, False, checked, f"step {index}: {mismatch}", index)
        checked += 1
    return _compare_totals(adapter, episode, checked)


def _step_mismatch(digest: str, result: StepResult, recorded_digest: str, progression: float, done: bool) -> str:
    if digest != recorded_digest:
        return "state digest differs"
    if not math.isclose(result.progression, progression, rel_tol=0, abs_tol=1e-12):
        return f"progression {result.progression} != recorded {progression}"
    if result.done != done:
        return f"done {result.done} != recorded {done}"
    return ""


def _compare_totals(adapter: GameAdapter, episode: Episode, checked: int) -> Verification:
    if checked != episode.steps:
        return Verification(episode.pk, False, checked, f"log has {checked} steps, episode says {episode.steps}")
    if not math.isclose(adapter.progression, episode.progression, rel_tol=0, abs_tol=1e-12):
        return Verification(episode.pk, False, checked, "final progression differs")
    replayed_end = adapter.end_reason.value if adapter.end_reason else ""
    if episode.status == Episode.Status.FINISHED and replayed_end != episode.end_reason:
        return Verification(episode.pk, False, checked, "end reason differs")
    return Verification(episode.pk, True, checked, "ok")


# ----- helpers ------------------------------------------------------------------------
def _get_episode(episode_id: int, for_update: bool = False) -> Episode:
    queryset = Episode.objects.select_for_update() if for_update else Episode.objects
    try:
        return queryset.get(pk=episode_id)
    except Episode.DoesNotExist:
        raise EpisodeNotFound(f"episode {episode_id} does not exist") from None


def _require_running(episode: Episode) -> None:
    if episode.status != Episode.Status.RUNNING:
        raise EpisodeNotRunning(f"episode {episode.pk} is {episode.status}")
