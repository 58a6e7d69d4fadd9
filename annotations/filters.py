"""The episode filter shared by queues, exports and the API.

Only ended, replayable episodes are candidates: a running episode has no
final story to explain and an imported one has no log to replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotations.models import Assignment, QueueItem
from balrogweb.ids import parse_id
from games.models import Episode

OUTCOMES: dict[str, str] = {
    "": "any outcome",
    "failed": "failed (ended without a win)",
    "won": "won",
    "died": "died",
    "lost": "lost",
    "step_cap": "hit the step cap",
    "no_progress": "stopped for no progress",
    "abandoned": "abandoned",
    "error": "error",
}
ENDED = (Episode.Status.FINISHED, Episode.Status.ABANDONED, Episode.Status.ERROR)


@dataclass(frozen=True)
class EpisodeFilter:
    env: str = ""
    task: str = ""
    player_kind: str = ""  # human, model, scripted; "" any
    agent: str = ""  # Episode.agent contains this
    model: str = ""  # the evaluation run's model name contains this
    run: int | None = None  # the evaluation run's id
    outcome: str = ""  # a key of OUTCOMES
    unlabelled: bool = False  # in no queue yet: neither labelled nor waiting for labels
    labelled: bool = False  # has at least one submitted assignment (exports)
    queue: int | None = None  # in this queue (exports)

    @classmethod
    def from_mapping(cls, data: Any) -> EpisodeFilter:
        """From query parameters or a queue's stored filters; unknown keys are ignored."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = data.get(field.name)
            if raw in (None, ""):
                continue
            if field.name in ("run", "queue"):
                values[field.name] = parse_id(raw, field.name)  # BadId: a ValueError with a readable message
            elif field.name in ("unlabelled", "labelled"):
                values[field.name] = raw is True or str(raw).lower() in ("1", "true", "on", "yes")
            else:
                values[field.name] = str(raw).strip()
        if values.get("outcome", "") not in OUTCOMES:
            raise ValueError(f"unknown outcome {values['outcome']!r}")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, False)}


PLAYER_KINDS = {"human": "people's", "model": "models'", "scripted": "scripted agents'"}
ORDER_WORDS = {"oldest": "oldest first", "newest": "newest first", "random": "in random order"}


def describe(stored: dict[str, Any]) -> str:
    """A queue's stored filters as a sentence, e.g. "models' nle episodes of run 7 that
    failed (ended without a win), oldest first, at most 20"."""
    who = PLAYER_KINDS.get(str(stored.get("player_kind", "")), "")
    what = " ".join(part for part in (who, str(stored.get("env", "")), "episodes") if part)
    parts = [what[0].upper() + what[1:]]
    if stored.get("task"):
        parts.append(f"of task {stored['task']}")
    if stored.get("run"):
        parts.append(f"of run {stored['run']}")
    if stored.get("model"):
        parts.append(f"by a model named like “{stored['model']}”")
    if stored.get("agent"):
        parts.append(f"by an agent named like “{stored['agent']}”")
    if stored.get("outcome"):
        parts.append(f"that ended: {OUTCOMES.get(str(stored['outcome']), stored['outcome'])}")
    if stored.get("unlabelled"):
        parts.append("in no queue before")
    sentence = " ".join(parts)
    tail = [ORDER_WORDS.get(str(stored.get("order", "")), "")]
    if stored.get("limit"):
        tail.append(f"at most {stored['limit']}")
    return ", ".join([sentence, *[part for part in tail if part]])


def filter_episodes(spec: EpisodeFilter) -> QuerySet[Episode]:
    episodes = Episode.objects.filter(status__in=ENDED, replayable=True)
    exact = {"env": spec.env, "task": spec.task, "player_kind": spec.player_kind}
    episodes = episodes.filter(**{k: v for k, v in exact.items() if v})
    if spec.agent:
        episodes = episodes.filter(agent__icontains=spec.agent)
    if spec.model:
        episodes = episodes.filter(run_episode__run__model_name__icontains=spec.model)
    if spec.run is not None:
        episodes = episodes.filter(run_episode__run_id=spec.run)
    episodes = episodes.filter(_outcome_q(spec.outcome))
    if spec.unlabelled:
        episodes = episodes.exclude(Exists(QueueItem.objects.filter(episode=OuterRef("pk"))))
    if spec.labelled:
        submitted = Assignment.objects.filter(item__episode=OuterRef("pk"), status=Assignment.Status.SUBMITTED)
        episodes = episodes.filter(Exists(submitted))
    if spec.queue is not None:
        episodes = episodes.filter(Exists(QueueItem.objects.filter(episode=OuterRef("pk"), queue_id=spec.queue)))
    return episodes


def _outcome_q(outcome: str) -> Q:
    if not outcome:
        return Q()
    if outcome == "failed":
        return ~Q(end_reason="won")
    return Q(end_reason=outcome)
