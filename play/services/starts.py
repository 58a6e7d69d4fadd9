"""Starting, resuming and abandoning a human episode: one live episode per
player per task, seeds (random, or a model episode's), rate limits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from games.base import EndReason
from games.models import Episode
from games.services import (
    GameError,
    check_task,
    do_end_episode,
    do_start_episode,
)
from play.limits import creation_refusal
from play.models import PlayRecord
from play.services.players import (
    NICKNAME_MAX,
    Forbidden,
    Player,
    owns,
)

RANDOM_SEED_BOUND = 2**31


class PlayRefused(GameError):
    """Starting an episode is refused (rate limit, bad seed source)."""

    code = "refused"


class SeedRefused(PlayRefused):
    """The seed asked for is not there: no such model episode, or one of another task
    (the start form shows it next to the model episode field)."""


@dataclass(frozen=True)
class StartRequest:
    env: str
    task: str
    nickname: str = ""
    seed_from: int | None = None  # play the seed of this model episode


def live_episode_of(player: Player, env: str, task: str) -> Episode | None:
    """The player's running episode of this task, if any. A read: pages on
    GET call it; a record still marked live whose episode ended meanwhile is
    passed over here and released by the next start (``_release_ended``)."""
    if not player.keys:
        return None
    records = _live_records(player, env, task).filter(episode__status=Episode.Status.RUNNING)
    record = records.select_related("episode").order_by("-created_at").first()
    return record.episode if record is not None else None


def _live_records(player: Player, env: str, task: str) -> QuerySet[PlayRecord]:
    return PlayRecord.objects.filter(owner__in=player.keys, env=env, task=task, live=True)


def _release_ended(player: Player, env: str, task: str) -> None:
    """Records still marked live whose episode ended (an end another process
    wrote): released so the task's one-live-episode constraint admits a new one."""
    _live_records(player, env, task).exclude(episode__status=Episode.Status.RUNNING).update(live=False)


def do_start_or_resume(player: Player, request: StartRequest, client_ip: str | None) -> tuple[Episode, bool]:
    """(episode, resumed): the player's live episode of the task, or a new one.
    One live episode per player per task: a concurrent second start loses the
    database constraint and resumes the winner."""
    check_task(request.env, request.task)
    if not player.owner:
        raise PlayRefused("your browser session has no identity yet; reload the page")
    existing = live_episode_of(player, request.env, request.task)
    if existing is not None:
        return existing, True
    _release_ended(player, request.env, request.task)
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


def do_end_for_player(player: Player, episode_id: int) -> Episode:
    if not owns(player, episode_id):
        raise Forbidden("only the episode's player can abandon it")
    episode = do_end_episode(episode_id, reason=EndReason.ABANDONED, detail="by the player")  # after the reason
    PlayRecord.objects.filter(episode_id=episode_id).update(live=False)
    return episode


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
