"""Playing one planned episode with a model, to its end; safe to run twice.

The runner thread observes (on the db pool), builds the prompt, waits for
the model, parses the answer and commits the step (on the db pool), until
the episode ends, the run is cancelled, the lease is lost or the worker
stops. A second runner of the same episode either finds the lease taken and
exits, or loses the step compare-and-swap and stops: never a duplicate or a
skipped step. A runner started after a crash resumes from the last
persisted step: the game is rebuilt by replay, the prompt history from the
steps' records.
"""

from __future__ import annotations

import json
import logging
from collections import deque

from django.conf import settings

from agents import leases
from agents.client import EndpointFailed, ModelClient
from agents.episodes import (
    EpisodeSetup,
    ModelTurn,
    Observed,
    do_commit_turn,
    do_prepare_episode,
    do_record_crash,
    end_with_error,
    finish,
    history_turns,
    observe,
)
from agents.models import ModelEndpoint
from agents.parsing import parse_answer, parse_reference, resolve
from agents.prompts import (
    CurrentTurn,
    Message,
    PastTurn,
    PromptInputs,
    build_messages,
    prompt_chars,
    prompt_digest,
    shown_observation,
)
from agents.runtime import LeaseKeeper, db_call, stop_requested
from balrogweb.runtime import ProcessSingleton
from games.registry import PROTOCOL_BALROG

logger = logging.getLogger(__name__)

MAX_ACTIONS_HEADER_CHARS = 16_000

_keeper = ProcessSingleton(
    "agents.lease_keeper", lambda: LeaseKeeper(leases.do_touch, settings.BALROG_AGENT_HEARTBEAT_SECONDS)
)


def lease_keeper() -> LeaseKeeper:
    """The process's lease keeper (one heartbeat thread for all its runners)."""
    return _keeper.get()


class ModelAgent:
    """The prompt side of a runner: the history and the messages of each step."""

    def __init__(self, setup: EpisodeSetup) -> None:
        self.setup = setup
        # balrogweb: one more turn than the prompt shows (the invalid-answer note of the
        # oldest shown observation depends on the turn before it); balrog: the reference's deque.
        self.history: deque[PastTurn] = deque(setup.history, maxlen=history_turns(setup.config, setup.protocol))
        self.reference = setup.protocol == PROTOCOL_BALROG

    def messages(self, turn: CurrentTurn) -> list[Message]:
        setup = self.setup
        return build_messages(
            PromptInputs(
                config=setup.config,
                instructions=setup.instructions,
                default_action=setup.default_action,
                history=tuple(self.history),
                current=turn,
                demos=setup.demos,
                protocol=setup.protocol,
            )
        )

    def shown(self, turn: CurrentTurn) -> CurrentTurn:
        """The observation as the model sees it: on the reference protocol, the
        feedback line after an invalid answer is part of the long-term text (and
        so of every later prompt that shows it, and of the log's ``obs``)."""
        if not self.reference:
            return turn
        previous = self.history[-1] if self.history and self.history[-1].index == turn.index - 1 else None
        text = shown_observation(turn.observation, previous, self.setup.config)
        return CurrentTurn(turn.index, text, turn.short_term, turn.image)

    def headers(self, observed: Observed) -> dict[str, str]:
        """Request headers. The development server also gets the valid actions
        (its scripted policies play from them); real providers get none."""
        if self.setup.endpoint.provider != ModelEndpoint.Provider.DEV:
            return {}
        actions = json.dumps(list(observed.actions), ensure_ascii=True)
        return {
            "X-Balrog-Episode": str(self.setup.episode_id),
            "X-Balrog-Step": str(observed.turn.index),
            "X-Balrog-Env": self.setup.env,
            "X-Balrog-Actions": actions if len(actions) <= MAX_ACTIONS_HEADER_CHARS else "[]",
        }

    def answer(self, observed: Observed, client: ModelClient) -> ModelTurn:
        turn = self.shown(observed.turn)
        messages = self.messages(turn)
        completion = client.complete(messages, self.headers(observed))
        strategy = self.setup.config.strategy
        if self.reference:  # the reference's parser; the game's exact validity decides
            parsed = parse_reference(strategy, completion.text)
            action = parsed.candidate
        else:
            parsed = parse_answer(strategy, completion.text)
            action = resolve(parsed.candidate, observed.actions)
        return ModelTurn(
            turn=turn,
            completion=completion,
            parsed=parsed,
            action=action,
            prompt_digest=prompt_digest(messages),
            messages=len(messages),
            prompt_chars=prompt_chars(messages),
        )

    def remember(self, past: PastTurn) -> None:
        self.history.append(past)


def run_model_episode(slot_id: int, client: ModelClient | None = None) -> str:
    """Play planned episode ``slot_id`` to its end (or resume it); returns why it stopped."""
    token = leases.new_token()
    setup = db_call(do_prepare_episode, slot_id, token)
    if setup is None:
        return "nothing to play"
    lease_keeper().hold(token)
    try:
        reason = _play(setup, token, client or ModelClient(setup.endpoint))
        db_call(leases.do_release, slot_id, token)  # whatever stopped it, the slot is free to claim
        return reason
    except Exception as exc:  # a bug or a lost database: the lease goes stale, the sweep retries (bounded)
        logger.exception("model episode %s (slot %s) crashed", setup.episode_id, slot_id)
        try:
            db_call(do_record_crash, slot_id, token, f"{type(exc).__name__}: {exc}"[:200])
        except Exception:
            logger.exception("could not record the crash of slot %s", slot_id)
        return "crashed"
    finally:
        lease_keeper().release(token)


def _play(setup: EpisodeSetup, token: str, client: ModelClient) -> str:
    agent = ModelAgent(setup)
    committed_up_to: int | None = None  # the index after this runner's last commit
    while True:
        if stop_requested():
            return "worker stopping"
        observed = db_call(observe, setup, token, committed_up_to)
        if observed.stop:
            if observed.stop == "episode ended":
                db_call(finish, setup, token)
            return observed.stop
        try:
            answer = agent.answer(observed, client)
        except EndpointFailed as exc:
            db_call(end_with_error, setup, token, exc.message)
            return "endpoint failed"
        committed = db_call(do_commit_turn, setup, token, answer)
        if committed.past is not None:
            agent.remember(committed.past)
            committed_up_to = committed.past.index + 1
        if committed.stop:
            return committed.stop
