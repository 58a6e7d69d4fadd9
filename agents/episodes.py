"""The database and env side of a model episode's runner.

Each function here runs on the bounded pool (``runtime.db_call``); the
runner thread only builds prompts and waits for the model. The step itself
goes through ``games.services.do_apply_action`` at the episode's current
index: applied at most once, so a second runner of the same episode loses
the compare-and-swap (``StepConflict``) and stops, and nothing is skipped.

What a step records (``Step.meta["model"]``), enough to rebuild the exact
messages sent (``rebuild_messages``) and to audit the call: the observation
shown (long- and short-term parts, image digest), the prompt's digest and
size, the candidate parsed from the answer and the reasoning before it, the
tokens, latency, attempts and errors of the call. ``Step.raw_input`` holds the
model's whole answer; ``Step.action`` the action executed; ``Step.valid``
whether the answer named a valid action.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from agents import leases
from agents.client import Completion
from agents.config import AgentConfig
from agents.endpoints import EndpointSettings
from agents.fewshot import choose_demonstrations, demonstration
from agents.models import EvaluationRun, RunEpisode
from agents.parsing import ParsedAnswer
from agents.prompts import (
    CurrentTurn,
    Demonstration,
    Message,
    PastTurn,
    PromptInputs,
    build_messages,
    image_digest,
    reference_history_turns,
)
from games.base import EndReason, GameAdapter
from games.jsontypes import JSONObject
from games.live import live_games
from games.models import Episode, Step
from games.registry import PROTOCOL_BALROG, PROTOCOL_BALROGWEB, adapter_class
from games.services import (
    EpisodeNotRunning,
    StepConflict,
    StepOutOfOrder,
    do_apply_action,
    do_end_episode,
    do_start_episode,
    live_adapter,
    rebuild_adapter,
)

logger = logging.getLogger(__name__)

MAX_LOGGED_ERRORS = 10


@dataclass(frozen=True)
class EpisodeSetup:
    """Everything a runner needs to play a planned episode, loaded once."""

    slot_id: int
    episode_id: int
    run_id: int
    env: str
    task: str
    endpoint: EndpointSettings
    config: AgentConfig
    instructions: str
    default_action: str
    demos: tuple[Demonstration, ...] = ()
    history: tuple[PastTurn, ...] = ()  # the turns before the current step, newest last
    protocol: str = PROTOCOL_BALROGWEB  # the run's: which prompts, parser and texts the episode plays


@dataclass(frozen=True)
class Observed:
    turn: CurrentTurn
    actions: tuple[str, ...] = ()
    stop: str = ""  # why the runner must stop instead ('' to play on)


@dataclass(frozen=True)
class Committed:
    past: PastTurn | None  # the turn as the history keeps it
    done: bool = False
    stop: str = ""


@dataclass(frozen=True)
class ModelTurn:
    """A model's answer to one observation, ready to commit."""

    turn: CurrentTurn
    completion: Completion
    parsed: ParsedAnswer
    action: str  # the candidate mapped onto the action space
    prompt_digest: str
    messages: int
    prompt_chars: int


# ----- start or resume ---------------------------------------------------------------------
def do_prepare_episode(slot_id: int, token: str) -> EpisodeSetup | None:
    """Claim the lease and load (or start) the episode; None when there is
    nothing to play (finished, cancelled, failed, or someone else plays it)."""
    slot = RunEpisode.objects.select_related("run__endpoint", "episode").get(pk=slot_id)
    if not _playable(slot) or not leases.do_claim(slot_id, token):
        return None
    try:
        episode = slot.episode or _start(slot, token)
    except _Superseded:
        return None
    except Exception as exc:  # the game could not start (missing assets, bad task): the slot fails
        logger.exception("planned episode %s could not start", slot_id)
        RunEpisode.objects.filter(pk=slot_id).update(error=f"could not start: {exc}"[:255])
        leases.do_release(slot_id, token)
        do_finish_run_if_done(slot.run_id)
        return None
    return _setup(slot, episode)


class _Superseded(Exception):
    """Another runner started the planned episode first."""


def _playable(slot: RunEpisode) -> bool:
    if slot.run.status != EvaluationRun.Status.RUNNING or slot.run.endpoint is None:
        return False
    if slot.episode is None:
        return not slot.error
    return slot.episode.is_running


def _start(slot: RunEpisode, token: str) -> Episode:
    """Start the game and attach it to the planned episode (with the
    instructions and demonstrations its prompts will show)."""
    run = slot.run
    config = run.agent_config
    episode = do_start_episode(
        env=slot.env,
        task=slot.task,
        seed=slot.seed,
        player_kind=Episode.PlayerKind.MODEL,
        agent=f"{run.model_name} {config.label()}",
        options={"protocol": run.protocol},
    )
    with live_games().lock_for(episode.pk):
        instructions = live_adapter(episode).instructions()
    demos = (
        choose_demonstrations(slot.env, slot.task, config.demo_episodes, protocol=run.protocol)
        if config.strategy == "few_shot"
        else []
    )
    meta = {**slot.meta, "instructions": instructions, "demos": demos, "max_demo_steps": config.demo_max_steps}
    claimed = RunEpisode.objects.filter(pk=slot.pk, runner=token, episode__isnull=True).update(
        episode=episode, meta=meta
    )
    if not claimed:  # lost the lease meanwhile: this episode was never played
        do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="superseded by another runner")
        raise _Superseded()
    slot.episode, slot.meta = episode, meta
    return episode


def _setup(slot: RunEpisode, episode: Episode) -> EpisodeSetup:
    run = slot.run
    assert run.endpoint is not None
    config = run.agent_config
    demo_steps = int(slot.meta.get("max_demo_steps", config.demo_max_steps))
    return EpisodeSetup(
        slot_id=slot.pk,
        episode_id=episode.pk,
        run_id=run.pk,
        env=slot.env,
        task=slot.task,
        endpoint=run.endpoint.settings(),
        config=config,
        instructions=str(slot.meta.get("instructions", "")),
        default_action=adapter_class(slot.env, run.protocol).default_action,
        demos=tuple(demonstration(pk, demo_steps) for pk in slot.meta.get("demos", [])),
        history=tuple(load_history(episode, config, before=episode.steps, protocol=run.protocol)),
        protocol=run.protocol,
    )


def history_turns(config: AgentConfig, protocol: str) -> int:
    """How many past turns a prompt can still show (the runner keeps as many)."""
    return reference_history_turns(config) if protocol == PROTOCOL_BALROG else config.max_text_history


def load_history(
    episode: Episode, config: AgentConfig, before: int, protocol: str = PROTOCOL_BALROGWEB
) -> list[PastTurn]:
    """The turns a prompt can still show before step ``before``, from the log
    (images re-rendered by replay for the ones a VLM prompt still shows)."""
    start = max(0, before - history_turns(config, protocol))
    rows = Step.objects.filter(episode=episode, index__gte=start, index__lt=before).order_by("index")
    turns = [_past_turn(row.index, row.meta, row.action, row.raw_input, row.valid) for row in rows]
    images_needed = max(0, config.max_image_history - 1)  # the current observation takes one
    for position in range(max(0, len(turns) - images_needed), len(turns)):
        turn = turns[position]
        adapter = rebuild_adapter(episode, upto=turn.index)
        try:
            turns[position] = PastTurn(
                turn.index, turn.observation, turn.action, turn.answer, turn.valid, adapter.render_png(), turn.output
            )
        finally:
            adapter.close()
    return turns


def _past_turn(index: int, meta: dict[str, Any], action: str, answer: str, valid: bool) -> PastTurn:
    model = meta.get("model", {}) if isinstance(meta, dict) else {}
    return PastTurn(
        index=index,
        observation=str(model.get("obs", "")),
        action=action,
        answer=answer,
        valid=valid,
        output=str(model.get("candidate", "")),
    )


# ----- one step ---------------------------------------------------------------------------------
def observe(setup: EpisodeSetup, token: str, expected: int | None = None) -> Observed:
    """The current observation, or why to stop (ended, cancelled, lease lost).

    ``expected`` is the step index this runner committed up to: when the live
    game is still at it, nothing needs reading (a cancel, a lost lease or
    another writer is caught by the next commit's checks)."""
    with live_games().lock_for(setup.episode_id):
        adapter = live_games().get(setup.episode_id)
        if adapter is not None and expected is not None and adapter.steps == expected and not adapter.done:
            return _observed(setup, adapter)
    slot = RunEpisode.objects.select_related("episode", "run").get(pk=setup.slot_id)
    episode = slot.episode
    stop = _stop_reason(slot, token)
    if stop or episode is None:
        return Observed(CurrentTurn(index=-1, observation=""), stop=stop or "no episode")
    with live_games().lock_for(episode.pk):
        return _observed(setup, live_adapter(episode))


def _observed(setup: EpisodeSetup, adapter: GameAdapter) -> Observed:
    """Read the game's state for the model (call with the episode's lock held)."""
    observation = adapter.observation()
    image = adapter.render_png() if setup.config.uses_images else None
    turn = CurrentTurn(adapter.steps, observation.long_term, observation.short_term, image)
    return Observed(turn, tuple(adapter.action_space()))


def _stop_reason(slot: RunEpisode, token: str) -> str:
    if slot.runner != token:
        return "lease lost"
    if slot.run.status != EvaluationRun.Status.RUNNING:
        return f"run {slot.run.status}"
    if slot.episode is None or not slot.episode.is_running:
        return "episode ended"
    return ""


def do_commit_turn(setup: EpisodeSetup, token: str, answer: ModelTurn) -> Committed:
    """Apply the answer's action as the next step (at most once) and count its tokens."""
    completion = answer.completion
    try:
        outcome = do_apply_action(
            setup.episode_id,
            index=answer.turn.index,
            action=answer.action,
            raw_input=completion.text,
            meta={"model": step_meta(answer)},
        )
    except (StepConflict, StepOutOfOrder, EpisodeNotRunning) as exc:
        # Another runner played this step, or the episode was ended (cancel):
        # this runner stops; the log holds exactly one answer per step.
        logger.info("episode %s: stopping at step %s: %s", setup.episode_id, answer.turn.index, exc)
        return Committed(None, stop=exc.code)
    step = outcome.step
    counted = RunEpisode.objects.filter(pk=setup.slot_id, runner=token).update(
        heartbeat_at=timezone.now(),
        calls=F("calls") + completion.attempts,
        input_tokens=F("input_tokens") + completion.input_tokens,
        output_tokens=F("output_tokens") + completion.output_tokens,
    )
    past = PastTurn(
        step.index,
        answer.turn.observation,
        step.action,
        step.raw_input,
        step.valid,
        answer.turn.image,
        output=answer.parsed.candidate,
    )
    if outcome.done:
        finish(setup, token)
        return Committed(past, done=True, stop="episode ended")
    return Committed(past, stop="" if counted else "lease lost")


def step_meta(answer: ModelTurn) -> JSONObject:
    completion = answer.completion
    return {
        "obs": answer.turn.observation,
        "short": answer.turn.short_term,
        "image": image_digest(answer.turn.image),
        "prompt": answer.prompt_digest,
        "messages": answer.messages,
        "prompt_chars": answer.prompt_chars,
        "candidate": answer.parsed.candidate,
        "reasoning": answer.parsed.reasoning or completion.reasoning,
        "format_ok": answer.parsed.marker_found,
        "in": completion.input_tokens,
        "out": completion.output_tokens,
        "latency_ms": round(completion.latency_ms, 1),
        "attempts": completion.attempts,
        "errors": list(completion.errors[-MAX_LOGGED_ERRORS:]),
        "finish": completion.finish_reason,
        "served_by": completion.model,
    }


# ----- the end ------------------------------------------------------------------------------------
def finish(setup: EpisodeSetup, token: str) -> None:
    """The episode ended: recount its totals from the log, free the lease, close the run if complete."""
    _close_slot(setup.slot_id, setup.run_id, token)


def _close_slot(slot_id: int, run_id: int, token: str) -> None:
    do_recount_totals(slot_id)
    leases.do_release(slot_id, token)
    do_finish_run_if_done(run_id)


def end_with_error(setup: EpisodeSetup, token: str, detail: str) -> None:
    with contextlib.suppress(EpisodeNotRunning):  # it ended meanwhile (cancelled, or finished by another runner)
        do_end_episode(setup.episode_id, reason=EndReason.ERROR, detail=detail)
    finish(setup, token)


def do_record_crash(slot_id: int, token: str, error: str) -> None:
    """An unexpected failure of the runner. While the episode is still to
    play, the lease is kept so it goes stale and the sweep retries; after
    BALROG_AGENT_MAX_CRASHES the episode ends in the error state instead of
    crashing forever. When the episode had already ended (the failure came
    while closing it, e.g. the database under load), no sweep would ever
    retry it (it is no open slot): it is closed here, run included."""
    RunEpisode.objects.filter(pk=slot_id).update(crashes=F("crashes") + 1)
    slot = RunEpisode.objects.select_related("episode").get(pk=slot_id)
    if slot.episode is not None and not slot.episode.is_running:
        _close_slot(slot_id, slot.run_id, token)
        return
    if slot.crashes < settings.BALROG_AGENT_MAX_CRASHES:
        return
    detail = f"the runner failed {slot.crashes} times; last: {error}"
    if slot.episode is not None and slot.episode.is_running:
        do_end_episode(slot.episode.pk, reason=EndReason.ERROR, detail=detail)
    elif slot.episode is None:
        RunEpisode.objects.filter(pk=slot_id).update(error=detail[:255])
    leases.do_release(slot_id, token)
    do_finish_run_if_done(slot.run_id)


def do_recount_totals(slot_id: int) -> None:
    """Token and call counts from the steps' records (exact even after a crash
    between a step's commit and the running totals' update)."""
    slot = RunEpisode.objects.get(pk=slot_id)
    if slot.episode_id is None:
        return
    calls = tokens_in = tokens_out = 0
    for meta in (
        Step.objects.filter(episode_id=slot.episode_id).values_list("meta", flat=True).iterator(chunk_size=2000)
    ):
        model = meta.get("model", {}) if isinstance(meta, dict) else {}
        calls += int(model.get("attempts", 0))
        tokens_in += int(model.get("in", 0))
        tokens_out += int(model.get("out", 0))
    RunEpisode.objects.filter(pk=slot_id).update(calls=calls, input_tokens=tokens_in, output_tokens=tokens_out)


def do_finish_run_if_done(run_id: int) -> bool:
    """Mark the run finished once none of its planned episodes is left to play."""
    if leases.open_slots().filter(run_id=run_id).exists():
        return False
    running = EvaluationRun.objects.filter(pk=run_id, status=EvaluationRun.Status.RUNNING)
    return running.update(status=EvaluationRun.Status.FINISHED, finished_at=timezone.now()) == 1


# ----- rebuilding what was sent -----------------------------------------------------------------------
def rebuild_messages(slot: RunEpisode, index: int) -> list[Message]:
    """The messages sent for step ``index``, rebuilt from the log alone."""
    if slot.episode is None:
        raise ValueError("this planned episode has not started")
    config = slot.run.agent_config
    protocol = slot.run.protocol
    step = Step.objects.get(episode=slot.episode, index=index)
    model = step.meta.get("model", {})
    image = _image_at(slot.episode, index) if config.uses_images else None
    demo_steps = int(slot.meta.get("max_demo_steps", config.demo_max_steps))
    inputs = PromptInputs(
        config=config,
        instructions=str(slot.meta.get("instructions", "")),
        default_action=adapter_class(slot.env, protocol).default_action,
        history=load_history(slot.episode, config, before=index, protocol=protocol),
        current=CurrentTurn(index, str(model.get("obs", "")), str(model.get("short", "")), image),
        demos=tuple(demonstration(pk, demo_steps) for pk in slot.meta.get("demos", [])),
        protocol=protocol,
    )
    return build_messages(inputs)


def _image_at(episode: Episode, version: int) -> bytes:
    adapter = rebuild_adapter(episode, upto=version)
    try:
        return adapter.render_png()
    finally:
        adapter.close()
