"""Synthetic leaderboard data, for benchmarks only.

Rows are marked so they can never pass for real results: model names and
human nicknames start with ``synthetic:`` (the board badges them), the
runs' name says so, and generation refuses to run on the embedded default
database or the documented production database name. Bulk inserts use
PostgreSQL's COPY through psycopg.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from agents.config import AgentConfig
from agents.models import EvaluationRun
from balrogweb.profile import is_postgresql
from games.registry import ENVS
from leaderboard.services import SYNTHETIC_PREFIX

PRODUCTION_DATABASE_NAMES = frozenset({"balrogweb"})
SYNTHETIC_TASKS = {env: [f"{SYNTHETIC_PREFIX}{env}-task-{i}" for i in range(3)] for env in ENVS}
# Per env: the chance of progression 1 (binary games) or the scale of a fractional score.
BINARY_ENVS = frozenset({"babyai", "babaisai", "minihack"})


class Refused(Exception):
    pass


@dataclass(frozen=True)
class Plan:
    episodes: int
    steps_per_episode: int
    models: int = 20
    human_share: float = 0.12
    random_share: float = 0.03
    seed: int = 0


def check_allowed(confirmed: bool) -> None:
    if not confirmed:
        raise Refused("synthetic data is for benchmarks only: pass --i-know-this-is-synthetic")
    if settings.PROFILE.sqlite or not is_postgresql(connection):
        raise Refused("refusing to write synthetic rows to the embedded default database; set DATABASE_URL")
    if connection.settings_dict["NAME"] in PRODUCTION_DATABASE_NAMES:
        raise Refused(f"refusing to write synthetic rows to {connection.settings_dict['NAME']!r}; use a bench database")


def do_synthesize(plan: Plan, progress: Callable[[str], None]) -> int:
    rng = random.Random(plan.seed)
    runs = _make_runs(plan.models)
    user, _ = User.objects.get_or_create(username="synthetic-bench-player")
    first_id = _next_id("games_episode")
    episodes = list(_episode_rows(plan, rng, first_id, runs, user.pk))
    progress(f"{len(episodes)} episodes planned")
    _copy("games_episode", EPISODE_COLUMNS, (row.values for row in episodes))
    _copy("agents_runepisode", SLOT_COLUMNS, _slot_rows(episodes))
    progress("episodes and run slots written")
    _copy("games_step", STEP_COLUMNS, _step_rows(episodes, plan.steps_per_episode, rng))
    progress(f"{len(episodes) * plan.steps_per_episode} steps written")
    _reset_sequences()
    return len(episodes)


def _make_runs(count: int) -> list[EvaluationRun]:
    runs = []
    for i in range(count):
        strategy = "cot" if i % 4 == 1 else "naive"
        config = AgentConfig(strategy=strategy, max_image_history=1 if i % 4 == 3 else 0)
        runs.append(
            EvaluationRun.objects.create(
                name="synthetic benchmark data (not a real result)",
                model_name=f"{SYNTHETIC_PREFIX}model-{i:02d}",
                agent=config.to_json(),
                envs=list(ENVS),
                status=EvaluationRun.Status.FINISHED,
                finished_at=datetime.now(UTC),
                published=True,
                published_at=datetime.now(UTC),
            )
        )
    return runs


EPISODE_COLUMNS = (
    "id", "env", "task", "seed", "options", "reset_info", "level_source", "engine_version", "protocol_version",
    "replayable", "player_kind", "user_id", "nickname", "agent", "status", "steps", "progression",
    "episode_return", "end_reason", "end_detail", "initial_digest", "started_at", "last_activity_at", "ended_at",
    "verified_at", "verified_ok", "meta",
)  # fmt: skip
SLOT_COLUMNS = (
    "run_id", "env", "task", "index", "seed", "episode_id", "replaced", "error", "runner", "crashes", "calls",
    "input_tokens", "output_tokens", "meta",
)  # fmt: skip
STEP_COLUMNS = (
    "episode_id", "index", "action", "raw_input", "valid", "executed", "reward", "progression", "done", "digest",
    "server_ms", "created_at", "meta",
)  # fmt: skip


@dataclass(frozen=True)
class EpisodeRow:
    values: tuple[Any, ...]
    run_id: int | None
    index: int

    @property
    def pk(self) -> int:
        return int(self.values[0])

    @property
    def progression(self) -> float:
        return float(self.values[16])


def _episode_rows(
    plan: Plan, rng: random.Random, first_id: int, runs: list[EvaluationRun], user_id: int
) -> Iterator[EpisodeRow]:
    now = datetime.now(UTC)
    skill = {run.pk: rng.uniform(0.05, 0.6) for run in runs}
    for i in range(plan.episodes):
        env = ENVS[i % len(ENVS)]
        task = SYNTHETIC_TASKS[env][(i // len(ENVS)) % 3]
        draw = rng.random()
        run = None
        if draw < plan.human_share:
            kind, agent, nickname, user, level = "human", "", f"{SYNTHETIC_PREFIX}human", user_id, 0.7
        elif draw < plan.human_share + plan.random_share:
            kind, agent, nickname, user, level = "scripted", "random", "", None, 0.02
        else:
            run = runs[i % len(runs)]
            kind, agent, nickname, user, level = "model", "", "", None, skill[run.pk]
        score = _score(env, level, rng)
        values = (
            first_id + i, env, task, i // len(ENVS), "{}", "{}", "synthetic", "synthetic", 1, True, kind, user,
            nickname, agent, "finished", plan.steps_per_episode, score, score, "done", "", "", now, now, now, now,
            rng.random() < 0.9, '{"synthetic": true}',
        )  # fmt: skip
        yield EpisodeRow(values, run.pk if run else None, i)


def _score(env: str, level: float, rng: random.Random) -> float:
    if env in BINARY_ENVS:
        return 1.0 if rng.random() < level else 0.0
    return round(min(1.0, max(0.0, rng.gauss(level, 0.15))) * 22) / 22


def _slot_rows(episodes: list[EpisodeRow]) -> Iterator[tuple[Any, ...]]:
    for row in episodes:
        if row.run_id is not None:
            yield (row.run_id, row.values[1], row.values[2], row.index, row.values[3], row.pk, "[]", "", "", 0,
                   100, 150_000, 5_000, "{}")  # fmt: skip


def _step_rows(episodes: list[EpisodeRow], steps: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    for row in episodes:
        reached = rng.randrange(steps) if steps else 0
        for index in range(steps):
            progression = row.progression if index >= reached else 0.0
            yield (row.pk, index, "north", "", index % 17 != 0, "[0]", 0.0, progression, index == steps - 1,
                   f"{row.pk:016x}{index:016x}", 0.1, now, "{}")  # fmt: skip


def _copy(table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]] | Any) -> None:
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    raw.commit()


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return int(cursor.fetchone()[0])


def _reset_sequences() -> None:
    with connection.cursor() as cursor:
        for table in ("games_episode", "agents_runepisode", "games_step"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cursor.execute("ANALYZE games_episode; ANALYZE agents_runepisode; ANALYZE games_step")
