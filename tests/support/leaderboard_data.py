"""Leaderboard data built directly in the database: evaluation runs with
their planned episodes, human baselines and random-agent floors. Scores are
chosen by hand so every figure the board shows can be checked by hand."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from agents.config import AgentConfig
from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from games.models import Episode, Step
from play.models import PlayRecord

TASKS = {
    "babyai": "BabyAI-MixedTrainLocal-v0/goto",
    "crafter": "default",
    "textworld": "coin_collector",
    "babaisai": "env/goto_win",
    "minihack": "MiniHack-MazeWalk-9x9-v0",
    "nle": "NetHackChallenge-v0",
}
SECRET_ENV_VAR = "LB_TEST_SECRET_KEY_VARIABLE"
SECRET_EMAIL = "hidden-player@example.org"


def make_endpoint(name: str = "gpt-test", vision: bool = False) -> ModelEndpoint:
    return ModelEndpoint.objects.create(
        name=name, base_url="http://127.0.0.1:9/v1", model_id=f"{name}-id", api_key_env=SECRET_ENV_VAR,
        vision=vision, input_price_per_mtok=2.0, output_price_per_mtok=10.0,
    )  # fmt: skip


def make_run(
    model: str,
    strategy: str = "naive",
    images: int = 0,
    status: str = EvaluationRun.Status.FINISHED,
    endpoint: ModelEndpoint | None = None,
    published: bool | None = None,
) -> EvaluationRun:
    """A run; finished runs are published unless ``published`` says otherwise."""
    agent = AgentConfig(strategy=strategy, max_image_history=images).to_json()
    published = status == EvaluationRun.Status.FINISHED if published is None else published
    return EvaluationRun.objects.create(
        model_name=model, agent=agent, status=status, endpoint=endpoint, finished_at=timezone.now(),
        published=published, published_at=timezone.now() if published else None,
    )  # fmt: skip


def _episode(env: str, progression: float, seed: int, **fields: Any) -> Episode:
    fields.setdefault("status", Episode.Status.FINISHED)
    return Episode.objects.create(
        env=env, task=fields.pop("task", TASKS[env]), seed=seed, engine_version="test", progression=progression,
        steps=fields.pop("steps", 3), ended_at=timezone.now(), **fields,
    )  # fmt: skip


def add_steps(episode: Episode, digests: list[str], invalid: int = 0) -> None:
    Step.objects.bulk_create(
        Step(episode=episode, index=i, action="a", executed=[0], digest=digest, valid=i >= invalid)
        for i, digest in enumerate(digests)
    )


def model_episodes(
    run: EvaluationRun, env: str, scores: list[float], seeds: list[int] | None = None, **fields: Any
) -> list[Episode]:
    episodes = []
    start = RunEpisode.objects.filter(run=run, env=env).count()
    for offset, score in enumerate(scores):
        index = start + offset
        episode = _episode(
            env, score, seed=seeds[offset] if seeds else index, player_kind=Episode.PlayerKind.MODEL, **fields
        )
        RunEpisode.objects.create(
            run=run, env=env, task=episode.task, index=index, seed=episode.seed, episode=episode,
            input_tokens=1000, output_tokens=100,
        )  # fmt: skip
        episodes.append(episode)
    return episodes


def full_coverage(run: EvaluationRun, scores: dict[str, list[float]] | None = None) -> None:
    """Every reference task of every env with BALROG's episode count: task i of an env
    plays ``scores[env]`` (cycled), 0.0 where not given. Bulk-created: 255 episodes."""
    from leaderboard.coverage import reference_counts

    planned = [(env, task, n) for (env, task), n in reference_counts().items()]
    episodes = Episode.objects.bulk_create(
        Episode(
            env=env, task=task, seed=i, engine_version="test", steps=3, ended_at=timezone.now(),
            status=Episode.Status.FINISHED, player_kind=Episode.PlayerKind.MODEL,
            progression=_cycled((scores or {}).get(env), i),
        )
        for env, task, n in planned
        for i in range(n)
    )  # fmt: skip
    RunEpisode.objects.bulk_create(
        RunEpisode(run=run, env=e.env, task=e.task, index=e.seed, seed=e.seed, episode=e, input_tokens=10)
        for e in episodes
    )


def _cycled(values: list[float] | None, index: int) -> float:
    return values[index % len(values)] if values else 0.0


def human_episode(
    env: str, score: float, seed: int = 0, user: User | None = None, override: bool | None = None, **fields: Any
) -> Episode:
    episode = _episode(env, score, seed, player_kind=Episode.PlayerKind.HUMAN, user=user, nickname="", **fields)
    owner = f"u:{user.pk}" if user else "a:anonymous"
    PlayRecord.objects.create(
        episode=episode, owner=owner, env=env, task=episode.task, live=False, baseline_override=override
    )
    return episode


def random_episode(env: str, score: float, seed: int = 0) -> Episode:
    return _episode(env, score, seed, player_kind=Episode.PlayerKind.SCRIPTED, agent="random")


def player(name: str = "player") -> User:
    return User.objects.create_user(name, email=SECRET_EMAIL, password="pw-123456789")


def populate() -> None:
    """Every kind of entry the board answers with: models (published or not, running or
    finished, with images or without), humans and top players, a random floor."""
    alpha = make_run("alpha")
    model_episodes(alpha, "babyai", [1.0, 0.0, 0.5])
    model_episodes(alpha, "crafter", [0.25], replayable=False)
    model_episodes(make_run("vision", images=1), "nle", [0.1], verified_ok=True)
    model_episodes(make_run("hidden", published=False), "babyai", [1.0])
    model_episodes(make_run("busy", status=EvaluationRun.Status.RUNNING), "babyai", [1.0])
    for name in ("ann", "ben"):
        user = player(name)
        for seed in range(5):
            human_episode("babyai", seed / 4, seed=seed, user=user)
    random_episode("babyai", 0.1)
