"""Who may manage evaluation runs; running scripted-baseline episodes (no model endpoint needed)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from agents.scripted import make_scripted_agent
from games.live import live_games
from games.models import Episode
from games.services import do_apply_action, do_start_episode, live_adapter

MANAGE_RUNS = "agents.manage_evaluationrun"


def can_manage_runs(user: User | AnonymousUser) -> bool:
    """Start, cancel and resume evaluation runs (and so their model episodes): they spend model
    budget, so being staff is not enough; annotators and reviewers are staff accounts too.
    Superusers have every permission."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(MANAGE_RUNS))


def check_manage_runs(user: User | AnonymousUser) -> None:
    if not can_manage_runs(user):
        raise PermissionDenied("managing evaluation runs needs the agents.manage_evaluationrun permission")


def do_start_scripted_episode(env: str, task: str, seed: int, agent: str) -> Episode:
    return do_start_episode(env=env, task=task, seed=seed, player_kind=Episode.PlayerKind.SCRIPTED, agent=agent)


def do_play_scripted_episode(episode_id: int, max_steps: int | None = None) -> Episode:
    """Play (or resume) a scripted episode to its end; safe to call twice.

    Resumes from the last persisted step: the adapter is rebuilt by replay
    and each step is applied at its index, so a second run after a crash
    neither repeats nor skips a step."""
    episode = Episode.objects.get(pk=episode_id)
    index, played = episode.steps, 0
    adapter = live_adapter(episode) if episode.is_running else None
    agent = make_scripted_agent(episode.agent, adapter, episode.seed) if adapter else None
    while agent is not None and adapter is not None and (max_steps is None or played < max_steps):
        outcome = do_apply_action(episode_id, index=index, action=agent.next_action())
        index, played = outcome.version, played + 1
        if outcome.done:
            break
        if live_games().get(episode_id) is not adapter:  # evicted and rebuilt: follow it
            episode.refresh_from_db()
            adapter = live_adapter(episode)
            agent = make_scripted_agent(episode.agent, adapter, episode.seed)
    episode.refresh_from_db()
    return episode
