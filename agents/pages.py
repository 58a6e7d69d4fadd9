"""What the agents pages show, as plain data (the views only render it)."""

from __future__ import annotations

from typing import TypedDict

from django.db.models import QuerySet
from django.urls import reverse

from agents.aggregation import Stat, Summary, reported_score
from agents.config import OWN_DEMONSTRATIONS
from agents.evaluation import RunProgress, run_progress, run_summary
from agents.models import EvaluationRun, RunEpisode
from games.jsontypes import JSONObject
from games.models import Episode, Step

MAX_TURNS_PER_REQUEST = 200
MAX_TEXT_CHARS = 20_000


def running_model_episodes(limit: int = 50) -> QuerySet[RunEpisode]:
    return (
        RunEpisode.objects.filter(episode__status=Episode.Status.RUNNING)
        .select_related("episode", "run")
        .order_by("-episode__last_activity_at")[:limit]
    )


def recent_runs(limit: int = 50) -> list[RunProgress]:
    runs = EvaluationRun.objects.select_related("endpoint").order_by("-pk")[:limit]
    return [run_progress(run) for run in runs]


def run_page_data(run: EvaluationRun) -> dict[str, object]:  # a template context
    summary = run_summary(run)
    return {
        "run": run,
        "progress": run_progress(run),
        "summary": summary,
        "summary_rows": summary_rows(summary),
        "planned": RunEpisode.objects.filter(run=run).select_related("episode").order_by("env", "task", "index"),
        "reference": _reference_summary(run),
        "own_demonstrations": bool(isinstance(run.meta, dict) and run.meta.get(OWN_DEMONSTRATIONS)),
    }


def _reference_summary(run: EvaluationRun) -> dict[str, float] | None:
    """The overall figure an imported folder's summary.json reported, if any."""
    summary = run.meta.get("summary") if isinstance(run.meta, dict) else None
    return reported_score(summary) if isinstance(summary, dict) else None


class SummaryRow(TypedDict):
    level: str  # env or task
    name: str
    mean: float  # percent
    se: float
    n: int


def summary_rows(summary: Summary) -> list[SummaryRow]:
    """One row per env then its tasks, in percent (as BALROG reports)."""
    rows: list[SummaryRow] = []
    for env, env_summary in summary.envs.items():
        rows.append(_row("env", env, env_summary.stat))
        rows.extend(_row("task", task, stat) for task, stat in env_summary.tasks.items())
    return rows


def _row(level: str, name: str, stat: Stat) -> SummaryRow:
    return {"level": level, "name": name, "mean": 100 * stat.mean, "se": 100 * stat.se, "n": stat.n}


def progress_json(run: EvaluationRun) -> JSONObject:
    progress = run_progress(run)
    summary = run_summary(run)
    return {
        "run": run.pk,
        "status": run.status,
        "planned": progress.planned,
        "done": progress.done,
        "cost": round(progress.cost, 4),
        "envs": [
            {
                "env": env.env,
                "planned": env.planned,
                "finished": env.finished,
                "failed": env.failed,
                "playing": env.playing,
                "percent_done": round(env.percent_done, 1),
                "mean_progression": env.mean_progression,
                "input_tokens": env.input_tokens,
                "output_tokens": env.output_tokens,
            }
            for env in progress.envs
        ],
        "overall": {"mean": summary.overall.mean, "se": summary.overall.se, "envs": summary.overall.n},
    }


def model_episode(episode_id: int) -> RunEpisode | None:
    return RunEpisode.objects.filter(episode_id=episode_id).select_related("episode", "run__endpoint").first()


def turns_json(slot: RunEpisode, since: int) -> JSONObject:
    """The model's turns from step ``since`` on (at most MAX_TURNS_PER_REQUEST), and the totals so far."""
    episode = slot.episode
    assert episode is not None
    rows = Step.objects.filter(episode=episode, index__gte=since).order_by("index")[:MAX_TURNS_PER_REQUEST]
    cost = slot.run.endpoint.settings().cost(slot.input_tokens, slot.output_tokens) if slot.run.endpoint else 0.0
    return {
        "episode": episode.pk,
        "status": episode.status,
        "end_reason": episode.end_reason,
        "end_detail": episode.end_detail,
        "steps": episode.steps,
        "progression": episode.progression,
        "totals": {
            "calls": slot.calls,
            "input_tokens": slot.input_tokens,
            "output_tokens": slot.output_tokens,
            "cost": round(cost, 6),
        },
        "turns": [
            _turn(step) for step in rows.only("episode", "index", "action", "raw_input", "valid", "reward", "meta")
        ],
    }


def _turn(step: Step) -> JSONObject:
    model = step.meta.get("model", {}) if isinstance(step.meta, dict) else {}
    return {
        "index": step.index,
        "prompt": reverse("agents:prompt", args=[step.episode_id, step.index]) if model else "",
        "answer": step.raw_input[:MAX_TEXT_CHARS],
        "reasoning": str(model.get("reasoning", ""))[:MAX_TEXT_CHARS],
        "candidate": model.get("candidate", ""),
        "action": step.action,
        "valid": step.valid,
        "reward": step.reward,
        "input_tokens": model.get("in", 0),
        "output_tokens": model.get("out", 0),
        "latency_ms": model.get("latency_ms", 0),
        "attempts": model.get("attempts", 1),
    }
