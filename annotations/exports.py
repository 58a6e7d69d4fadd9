"""Exports of annotated episodes: JSONL (one episode a line), CSV (one value a
row) and the records the JSON API pages through.

Only submitted work is exported (drafts are private to their annotator),
with the final labels (annotations.finals). Episodes come in batches so an
export of thousands of episodes runs in bounded memory.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from annotations.filters import EpisodeFilter, filter_episodes
from annotations.finals import EpisodeWork, FinalLabel, episode_work, final_episode_labels, final_step_labels
from annotations.models import QueueItem
from games.models import Episode, Step

logger = logging.getLogger(__name__)

BATCH = 100
# The key of the last line of an export that failed part-way (docs/annotations.md): the headers
# and a 200 went out with the first byte, so this line is how a client learns the file is incomplete.
ERROR_KEY = "export_error"
EPISODE_FIELDS = (
    "id",
    "env",
    "task",
    "seed",
    "player_kind",
    "agent",
    "nickname",
    "status",
    "end_reason",
    "progression",
    "steps",
)
STEP_FIELDS = ("index", "action", "raw_input", "valid", "reward", "progression", "done")
CSV_HEADER = (
    "episode_id",
    "env",
    "task",
    "player_kind",
    "agent",
    "end_reason",
    "progression",
    "scope",
    "step_index",
    "annotator",
    "source",
    "label",
    "value",
    "note",
)


def export_episodes(spec: EpisodeFilter) -> QuerySet[Episode]:
    """Episodes that were ever queued for annotation and match the filter."""
    queued = Exists(QueueItem.objects.filter(episode=OuterRef("pk")))
    return filter_episodes(spec).filter(queued).order_by("pk")


def episode_records(episodes: QuerySet[Episode], all_steps: bool = True) -> Iterator[dict[str, Any]]:
    yield from records_of(list(episodes.values_list("pk", flat=True)), all_steps)


def records_of(ids: Sequence[int], all_steps: bool = True) -> Iterator[dict[str, Any]]:
    """The records of these episodes, a batch at a time. Streamed exports list the ids
    before answering, so a bad query fails before the first byte."""
    for start in range(0, len(ids), BATCH):
        yield from _batch_records(ids[start : start + BATCH], all_steps)


def _batch_records(ids: Sequence[int], all_steps: bool) -> Iterator[dict[str, Any]]:
    episodes = {row["id"]: row for row in Episode.objects.filter(pk__in=ids).values(*EPISODE_FIELDS)}
    works = episode_work(ids)
    finals = final_episode_labels(ids)
    final_steps = final_step_labels(ids)
    for eid in ids:
        work = works[eid]
        yield {
            "episode": episodes[eid],
            "complete": work.complete,
            "annotators": [_annotator(c) for c in work.coders],
            "final": {code: _final(label) for code, label in sorted(finals[eid].items())},
            "steps": list(_steps(eid, work, final_steps[eid], all_steps)),
        }


def _annotator(coder: Any) -> dict[str, Any]:
    return {
        "annotator": coder.annotator,
        "assignment": coder.assignment_id,
        "submitted_at": coder.submitted_at.isoformat() if coder.submitted_at else None,
        "labels": dict(sorted(coder.values.items())),
        "note": coder.note,
    }


def _final(label: FinalLabel) -> dict[str, Any]:
    return {"value": label.value, "source": label.source, "annotators": label.annotators}


def _steps(eid: int, work: EpisodeWork, finals: dict[int, list[str]], all_steps: bool) -> Iterator[dict[str, Any]]:
    touched = set(finals)
    for coder in work.coders:
        touched.update(coder.steps, coder.notes)
    rows = Step.objects.filter(episode_id=eid).order_by("index")
    if not all_steps:
        rows = rows.filter(index__in=touched)
    for row in rows.values(*STEP_FIELDS).iterator(chunk_size=1000):
        index = row["index"]
        annotations = [
            {"annotator": c.annotator, "labels": sorted(c.steps.get(index, ())), "note": c.notes.get(index, "")}
            for c in work.coders
            if index in c.steps or index in c.notes
        ]
        yield {**row, "annotations": annotations, "final_labels": finals.get(index, [])}


def jsonl_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    yield _drain(buffer)
    for record in records:
        writer.writerows(_csv_rows(record))
        yield _drain(buffer)


def jsonl_error(message: str) -> str:
    return json.dumps({ERROR_KEY: message}) + "\n"


def csv_error(message: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([ERROR_KEY, *[""] * (len(CSV_HEADER) - 2), message])
    return buffer.getvalue()


def guarded(lines: Iterable[str], error_line: Callable[[str], str]) -> Iterator[str]:
    """The lines of a streamed export; a failure after the headers went out is logged and
    ends the file with an error line (a 500 can no longer be sent), never a silent cut."""
    sent = 0
    try:
        for line in lines:
            yield line
            sent += 1
    except Exception:
        logger.exception("annotation export failed after %d chunks", sent)
        yield error_line("the export failed part-way: this file is incomplete")


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_rows(record: dict[str, Any]) -> Iterator[list[Any]]:
    ep = record["episode"]
    head = [ep["id"], ep["env"], ep["task"], ep["player_kind"], ep["agent"], ep["end_reason"], ep["progression"]]
    for a in record["annotators"]:
        for code, value in a["labels"].items():
            yield [*head, "episode", "", a["annotator"], "annotator", code, value, ""]
        if a["note"]:
            yield [*head, "episode", "", a["annotator"], "annotator", "", "", a["note"]]
    for code, final in record["final"].items():
        yield [*head, "episode", "", "", final["source"], code, final["value"], ""]
    for step in record["steps"]:
        for a in step["annotations"]:
            for code in a["labels"]:
                yield [*head, "step", step["index"], a["annotator"], "annotator", code, "1", ""]
            if a["note"]:
                yield [*head, "step", step["index"], a["annotator"], "annotator", "", "", a["note"]]
        for code in step["final_labels"]:
            yield [*head, "step", step["index"], "", "final", code, "1", ""]
