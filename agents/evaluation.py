"""Evaluation runs: BALROG's protocol for one endpoint and one agent config.

A run plans ``episodes_per_task`` episodes (BALROG's count per env unless
overridden) of every task of its envs; planned episode ``i`` plays seed
``seed_base + i``, so two models on the same run settings meet the same
levels. Episodes are dispatched after the run's rows commit: to the
endpoint's Celery queue, or to the in-process local runner on the embedded
default. Cancel ends the episodes in play (scored as abandoned, left out of
the summary); resume plays what is left, replacing episodes that ended in
error or were cancelled. The summary is ``agents.aggregation`` over the
finished episodes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from agents import broker, leases, runtime
from agents.aggregation import EpisodeScore, Summary, summarize
from agents.config import OWN_DEMONSTRATIONS, AgentConfig, uses_own_demonstrations
from agents.episodes import do_finish_run_if_done
from agents.models import EvaluationRun, ModelEndpoint, RunEpisode
from agents.runtime import local_runner
from balrogweb.celery import app as celery_app
from balrogweb.errors import ServiceError
from games.base import EndReason, TaskInfo
from games.jsontypes import JSONObject
from games.models import Episode
from games.registry import DEFAULT_PROTOCOL, ENVS, PROTOCOLS, UnknownEnv, adapter_class
from games.services import EpisodeNotRunning, do_end_episode

logger = logging.getLogger(__name__)

MAX_EPISODES_PER_TASK = 1000
SWEEP_BATCH = 1000
RUN_MODEL_EPISODE_TASK = "agents.run_model_episode"  # agents.tasks.run_model_episode_task


class RunError(ServiceError, ValueError):
    """A run that cannot start or change as asked (the form or the CLI says why)."""

    code = "run_refused"


@dataclass(frozen=True)
class RunRequest:
    endpoint: ModelEndpoint
    config: AgentConfig
    envs: tuple[str, ...]
    tasks: tuple[str, ...] = ()  # only these tasks of the envs (empty: all)
    episodes_per_task: int | None = None  # None: BALROG's count per env
    seed_base: int = 0
    name: str = ""
    user: Any = None
    protocol: str = DEFAULT_PROTOCOL  # games.registry.PROTOCOLS


def planned_tasks(request: RunRequest) -> list[tuple[TaskInfo, int]]:
    """(task, episodes) of the run, in BALROG's order; raises RunError on a bad request."""
    if not request.envs:
        raise RunError("choose at least one env")
    if request.protocol not in PROTOCOLS:
        raise RunError(f"unknown protocol {request.protocol!r}; known: {', '.join(PROTOCOLS)}")
    if request.config.uses_images and not request.endpoint.vision:
        raise RunError(f"{request.endpoint.name} is text-only: set max_image_history to 0 or use a vision endpoint")
    count = request.episodes_per_task
    if count is not None and not 1 <= count <= MAX_EPISODES_PER_TASK:
        raise RunError(f"episodes per task must be in 1..{MAX_EPISODES_PER_TASK}")
    plan = [(info, count or info.episodes_per_task) for env in request.envs for info in _tasks_of(env)]
    if request.tasks:
        unknown = set(request.tasks) - {info.task for info, _ in plan}
        if unknown:
            raise RunError(f"unknown tasks for {', '.join(request.envs)}: {', '.join(sorted(unknown))}")
        plan = [(info, n) for info, n in plan if info.task in request.tasks]
    return plan


def _tasks_of(env: str) -> list[TaskInfo]:
    try:
        return adapter_class(env).tasks()
    except UnknownEnv:
        raise RunError(f"unknown env {env!r}; known: {', '.join(ENVS)}") from None


def do_start_run(request: RunRequest) -> EvaluationRun:
    plan = planned_tasks(request)
    with transaction.atomic():
        run = EvaluationRun.objects.create(
            name=request.name[:128],
            endpoint=request.endpoint,
            model_name=request.endpoint.name,
            agent=request.config.to_json(),
            protocol=request.protocol,
            envs=list(dict.fromkeys(info.env for info, _ in plan)),
            seed_base=request.seed_base,
            created_by=request.user if getattr(request.user, "is_authenticated", False) else None,
            meta=_run_meta(request),
        )
        slots = RunEpisode.objects.bulk_create(
            RunEpisode(run=run, env=info.env, task=info.task, index=i, seed=request.seed_base + i)
            for info, count in plan
            for i in range(count)
        )
        do_dispatch_after_commit(run, [slot.pk for slot in slots])
    return run


def _run_meta(request: RunRequest) -> JSONObject:
    own = uses_own_demonstrations(request.config.strategy, request.protocol)
    return {OWN_DEMONSTRATIONS: True} if own else {}


def do_dispatch_after_commit(run: EvaluationRun, slot_ids: Sequence[int]) -> None:
    queue = run.endpoint.queue if run.endpoint else settings.BALROG_AGENT_QUEUE
    ids = list(slot_ids)
    transaction.on_commit(lambda: do_dispatch(ids, queue))


def do_dispatch(slot_ids: Sequence[int], queue: str) -> None:
    """Hand planned episodes to runners: Celery workers on ``queue``, or the
    local runner where tasks would run inside the caller (embedded default)."""
    if not slot_ids:
        return
    RunEpisode.objects.filter(pk__in=slot_ids).update(dispatched_at=timezone.now())
    if settings.PROFILE.tasks_in_process:
        from agents.runner import run_model_episode

        ensure_local_sweep()
        for slot_id in slot_ids:
            local_runner().submit(run_model_episode, slot_id)
        return
    # By name (agents.tasks.run_model_episode_task): the task module imports this one.
    for slot_id in slot_ids:
        celery_app.send_task(RUN_MODEL_EPISODE_TASK, args=[slot_id], queue=queue)


def do_cancel_run(run_id: int) -> EvaluationRun:
    """Stop a run: its episodes in play end as abandoned (not counted)."""
    run = EvaluationRun.objects.get(pk=run_id)
    if run.status != EvaluationRun.Status.RUNNING:
        raise RunError(f"run {run_id} is {run.status}")
    EvaluationRun.objects.filter(pk=run_id).update(status=EvaluationRun.Status.CANCELLED, finished_at=timezone.now())
    running = Episode.objects.filter(run_episode__run_id=run_id, status=Episode.Status.RUNNING)
    for episode_id in running.values_list("pk", flat=True):
        try:
            do_end_episode(episode_id, reason=EndReason.ABANDONED, detail="the evaluation run was cancelled")
        except EpisodeNotRunning:
            continue  # it ended meanwhile
    run.refresh_from_db()
    return run


def do_resume_run(run_id: int) -> int:
    """Play what is left of a run; returns how many planned episodes were dispatched."""
    run = EvaluationRun.objects.select_related("endpoint").get(pk=run_id)
    if run.source != EvaluationRun.Source.LIVE or run.endpoint is None:
        raise RunError("an imported run cannot be resumed")
    with transaction.atomic():
        EvaluationRun.objects.filter(pk=run_id).update(status=EvaluationRun.Status.RUNNING, finished_at=None)
        for slot in RunEpisode.objects.select_for_update(of=("self",)).filter(run=run).select_related("episode"):
            _reopen(slot)
        todo = list(leases.open_slots().filter(run_id=run_id).values_list("pk", flat=True))
        do_dispatch_after_commit(run, todo)
    return len(todo)


def _reopen(slot: RunEpisode) -> None:
    """A planned episode that failed or was cancelled gets a fresh start."""
    episode = slot.episode
    failed = episode is not None and episode.status in (Episode.Status.ERROR, Episode.Status.ABANDONED)
    if not failed and not slot.error:
        return
    replaced = [*slot.replaced, episode.pk] if episode is not None else slot.replaced
    RunEpisode.objects.filter(pk=slot.pk).update(
        episode=None, replaced=replaced, error="", crashes=0, runner="", heartbeat_at=None, meta={}
    )


def ensure_local_sweep() -> None:
    """On the embedded default no worker sweeps: this process does (after a
    restart, the first page view resumes the episodes it was playing)."""
    if settings.PROFILE.tasks_in_process:
        runtime.ensure_sweeper(do_recover_stale)


def do_recover_stale() -> list[int]:
    """Dispatch again the open episodes whose runner died (stale heartbeat)
    or whose dispatch never started, and close the runs left with nothing to
    play; safe to run anywhere, any number of times."""
    finish_runs_left_open()
    now = timezone.now()
    stale = list(leases.stale_slots(now).select_related("run__endpoint")[:SWEEP_BATCH])
    stale += lost_in_broker(now, {slot.pk for slot in stale})
    by_queue: dict[str, list[int]] = defaultdict(list)
    for slot in stale:
        if slot.run.endpoint is not None and leases.do_take_for_redispatch(slot, now):
            by_queue[slot.run.endpoint.queue].append(slot.pk)
    for queue, ids in by_queue.items():
        do_dispatch(ids, queue)
    return [pk for ids in by_queue.values() for pk in ids]


def lost_in_broker(now: datetime, known: set[int]) -> list[RunEpisode]:
    """Slots dispatched over BALROG_AGENT_PICKUP_SECONDS ago, never started,
    whose message the broker no longer holds (a Redis restart lost it): about
    a minute's wait, not BALROG_AGENT_REQUEUE_SECONDS. A message in flight
    between the queue and a worker may look lost: its double exits at once."""
    waiting = [
        slot
        for slot in leases.unpicked_slots(now).select_related("run__endpoint")[:SWEEP_BATCH]
        if slot.pk not in known and slot.run.endpoint is not None
    ]
    if not waiting:
        return []
    held = broker.held_slots({slot.run.endpoint.queue for slot in waiting if slot.run.endpoint is not None})
    if held is None:
        return []
    lost = [slot for slot in waiting if slot.pk not in held]
    if lost:
        logger.warning("model episodes dispatched but not in the broker (lost messages): %s", [s.pk for s in lost])
    return lost


def finish_runs_left_open() -> list[int]:
    """Mark finished the running runs with no open episode left. A runner
    closes its run after the last episode ends; one killed between that
    episode's end and the close (or failing again while recording its crash)
    leaves the run "running" with no open episode, which the stale-lease
    sweep never looks at."""
    left_open = EvaluationRun.objects.filter(status=EvaluationRun.Status.RUNNING).exclude(
        pk__in=leases.open_slots().values("run_id")
    )
    # do_finish_run_if_done checks again per run: a resume may have reopened it since.
    closed = [run_id for run_id in left_open.values_list("pk", flat=True) if do_finish_run_if_done(run_id)]
    if closed:
        logger.warning("closed runs left running with nothing to play: %s", closed)
    return closed


# ----- progress and results ---------------------------------------------------------------
@dataclass
class EnvProgress:
    env: str
    planned: int = 0
    finished: int = 0
    failed: int = 0  # error, cancelled, or could not start
    playing: int = 0  # started, not ended
    progression_sum: float = 0.0
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def done(self) -> int:
        return self.finished + self.failed

    @property
    def percent_done(self) -> float:
        return 100.0 * self.done / self.planned if self.planned else 0.0

    @property
    def mean_progression(self) -> float:
        return self.progression_sum / self.finished if self.finished else 0.0


@dataclass
class RunProgress:
    run: EvaluationRun
    envs: list[EnvProgress] = field(default_factory=list)
    cost: float = 0.0

    @property
    def planned(self) -> int:
        return sum(env.planned for env in self.envs)

    @property
    def done(self) -> int:
        return sum(env.done for env in self.envs)

    @property
    def resumable(self) -> bool:
        """A resume would play something: episodes left, or failed ones to replace."""
        return self.run.source == EvaluationRun.Source.LIVE and (
            self.done < self.planned or any(env.failed for env in self.envs)
        )


def run_progress(run: EvaluationRun) -> RunProgress:
    """Counts per env in one grouped query (the progress page polls it)."""
    envs = {env: EnvProgress(env) for env in run.envs}
    groups = (
        RunEpisode.objects.filter(run=run)
        .values("env", "episode__status")
        .annotate(
            slots=Count("id"),
            failed_to_start=Count("id", filter=Q(episode__isnull=True) & ~Q(error="")),
            progression=Sum("episode__progression"),
            steps=Sum("episode__steps"),
            tokens_in=Sum("input_tokens"),
            tokens_out=Sum("output_tokens"),
        )
    )
    for group in groups:
        _count(envs.setdefault(group["env"], EnvProgress(group["env"])), group)
    progress = RunProgress(run, list(envs.values()))
    if run.endpoint is not None:
        endpoint = run.endpoint.settings()
        progress.cost = sum(endpoint.cost(env.input_tokens, env.output_tokens) for env in progress.envs)
    return progress


def _count(env: EnvProgress, group: Mapping[str, Any]) -> None:
    slots, status = group["slots"], group["episode__status"]
    env.planned += slots
    env.input_tokens += group["tokens_in"] or 0
    env.output_tokens += group["tokens_out"] or 0
    if status is None:  # not started
        env.failed += group["failed_to_start"]
    elif status == Episode.Status.FINISHED:
        env.finished += slots
        env.progression_sum += group["progression"] or 0.0
        env.steps += group["steps"] or 0
    elif status == Episode.Status.RUNNING:
        env.playing += slots
    else:
        env.failed += slots


def finished_scores(run: EvaluationRun) -> list[EpisodeScore]:
    slots = RunEpisode.objects.filter(run=run, episode__status=Episode.Status.FINISHED).select_related("episode")
    return [
        EpisodeScore(
            env=slot.env,
            task=slot.task,
            progression=slot.episode.progression,
            steps=slot.episode.steps,
            input_tokens=slot.input_tokens,
            output_tokens=slot.output_tokens,
        )
        for slot in slots
        if slot.episode is not None
    ]


def run_summary(run: EvaluationRun) -> Summary:
    return summarize(finished_scores(run))
