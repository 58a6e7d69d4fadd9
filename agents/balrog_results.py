"""Result folders in the reference evaluator's layout: import and export.

The layout (balrog/evaluator.py and balrog/utils.py of balrog-ai/BALROG)::

    <dir>/<env>/<task>/<task>_run_NN.json   one per episode
    <dir>/<env>/<task>/<task>_run_NN.csv    its steps: Step, Action, Reasoning, Observation, Reward, Done
    <dir>/<env>/<env>_summary.json          the env's aggregates
    <dir>/summary.json                      the overall aggregates

(BabyAI task names contain a slash, so their files sit one folder deeper,
exactly as the reference's path joins put them.) An episode JSON holds: task,
action_frequency, input_tokens, output_tokens, done (when the game ended it),
episode_return, num_steps, failed_candidates, progression, process_num,
seed, agent, client. The CSV's Observation is the long-term observation
*after* the step (the note about an invalid answer included); Reasoning is
the chain of thought (empty for the naive strategies).

Imported episodes are marked ``replayable=False``: they have no action log
to replay, only what the files say. Every file of the folder is kept as it
was read (an episode's JSON and CSV in ``Episode.meta["balrog_files"]``, every
other file, summaries, README and skipped episodes included, in
``EvaluationRun.meta["files"]``), so exporting an import writes the folder
back file for file: the same names and the same bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from django.db import transaction

from agents.aggregation import balrog_summary_json, env_summary_json, summarize
from agents.config import STRATEGIES, AgentConfig
from agents.evaluation import finished_scores
from agents.models import EvaluationRun, RunEpisode
from agents.prompts import PastTurn, invalid_note, shown_observation
from games.jsontypes import JSONObject
from games.models import Episode, Step
from games.registry import PROTOCOL_BALROG, adapter_class
from games.services import GameError, check_task, rebuild_adapter

CSV_HEADER = ["Step", "Action", "Reasoning", "Observation", "Reward", "Done"]
CSV_ESCAPE = "˘"  # the reference writer's escape character
RUN_FILE = re.compile(r"^(?P<stem>.+)_run_(?P<index>\d+)\.json$")
IMPORTED_ENGINE = "balrog-reference-results"
EPISODE_KEYS = (
    "task",
    "action_frequency",
    "input_tokens",
    "output_tokens",
    "episode_return",
    "num_steps",
    "failed_candidates",
    "progression",
    "seed",
)


class ResultsError(ValueError):
    pass


def run_path(root: Path, env: str, task: str, index: int, suffix: str) -> Path:
    return root / env / task / f"{task}_run_{index:02d}{suffix}"


# ----- import ------------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    run: EvaluationRun | None
    imported: int = 0
    skipped: list[str] = field(default_factory=list)


def stored_file(data: bytes) -> dict[str, str]:
    """A file's bytes as JSON: its text when it is UTF-8 (and has no NUL, which
    PostgreSQL's jsonb refuses), else base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        return {"text": text}
    return {"base64": base64.b64encode(data).decode("ascii")}


def file_bytes(stored: Mapping[str, str]) -> bytes:
    if "base64" in stored:
        return base64.b64decode(stored["base64"])
    return str(stored["text"]).encode("utf-8")


def _kept_files(root: Path, imported: set[Path]) -> dict[str, dict[str, str]]:
    """Every file of the folder that no imported episode keeps, by path relative to it."""
    return {
        path.relative_to(root).as_posix(): stored_file(path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and path not in imported
    }


def do_import_results(root: Path, model_name: str, strategy: str | None = None) -> ImportReport:
    if not root.is_dir():
        raise ResultsError(f"{root} is not a folder")
    files = sorted(_episode_files(root))
    if not files:
        raise ResultsError(f"no <env>/<task>/<task>_run_NN.json files under {root}")
    digest = _digest(files)
    existing = EvaluationRun.objects.filter(source=EvaluationRun.Source.IMPORTED, meta__digest=digest).first()
    if existing is not None:
        raise ResultsError(f"these results were already imported as run {existing.pk}")
    report = ImportReport(None)
    kept: set[Path] = set()
    with transaction.atomic():
        report.run = _imported_run(root, model_name, strategy, files, digest)
        for env, path in files:
            reason = _import_episode(report.run, env, path, root)
            if reason:
                report.skipped.append(f"{path.relative_to(root)}: {reason}")
            else:
                report.imported += 1
                kept.update((path, path.with_suffix(".csv")))
        report.run.envs = sorted({slot.env for slot in report.run.planned.all()})
        report.run.meta = {**report.run.meta, "files": _kept_files(root, kept)}
        report.run.save(update_fields=["envs", "meta"])
    return report


def _episode_files(root: Path) -> Iterator[tuple[str, Path]]:
    for env_dir in root.iterdir():
        if env_dir.is_dir():
            for path in env_dir.rglob("*.json"):
                if RUN_FILE.match(path.name) and not path.name.endswith("_summary.json"):
                    yield env_dir.name, path


def _digest(files: list[tuple[str, Path]]) -> str:
    sha = hashlib.sha256()
    for env, path in files:
        sha.update(env.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def _imported_run(
    root: Path, model_name: str, strategy: str | None, files: list[tuple[str, Path]], digest: str
) -> EvaluationRun:
    first = json.loads(files[0][1].read_text())
    agent = first.get("agent") if isinstance(first.get("agent"), dict) else {}
    summary_file = root / "summary.json"
    return EvaluationRun.objects.create(
        name=f"imported from {root.name}"[:128],
        model_name=model_name[:128],
        agent=_agent_config(agent, strategy).to_json(),
        envs=[],
        source=EvaluationRun.Source.IMPORTED,
        protocol=PROTOCOL_BALROG,  # played by the reference evaluator itself
        status=EvaluationRun.Status.FINISHED,
        meta={
            "digest": digest,
            "agent": agent,
            "client": first.get("client") if isinstance(first.get("client"), dict) else {},
            # read as the reference wrote it: "average_progress" (earlier exports here: "Final score")
            "summary": json.loads(summary_file.read_text()) if summary_file.is_file() else None,
        },
    )


class StepRow(TypedDict):
    """The Step columns a results file shows (``values()`` of them)."""

    index: int
    action: str
    valid: bool
    raw_input: str
    reward: float
    done: bool
    meta: dict[str, Any]  # a JSONField: what the step recorded (model turn, imported CSV row)


# A CSV row of the reference's: Step, Action, Reasoning, Observation, Reward, Done.
CsvRow = list[int | str | float | bool]


def _agent_config(agent: dict[str, Any], strategy: str | None) -> AgentConfig:
    kind = strategy or str(agent.get("type", "naive"))
    history = agent.get("max_text_history", agent.get("max_history", 16))
    try:
        return AgentConfig(
            strategy=kind if kind in STRATEGIES else "naive",
            max_text_history=int(history),
            max_image_history=int(agent.get("max_image_history", 0)),
            max_cot_history=int(agent.get("max_cot_history", 1)),
        )
    except (TypeError, ValueError):
        return AgentConfig(strategy=kind if kind in STRATEGIES else "naive")


def _import_episode(run: EvaluationRun, env: str, path: Path, root: Path) -> str:
    """Import one episode file; returns why it was skipped ('' when imported)."""
    match = RUN_FILE.match(path.name)
    assert match is not None
    log = json.loads(path.read_text())
    task = str(log.get("task") or "")
    try:
        check_task(env, task)
    except GameError as exc:
        return exc.message
    index = int(match["index"])
    if RunEpisode.objects.filter(run=run, env=env, task=task, index=index).exists():
        return "a second file for the same episode"
    episode = Episode.objects.create(
        env=env,
        task=task,
        seed=int(log.get("seed") or 0),
        engine_version=IMPORTED_ENGINE,
        replayable=False,
        options={"protocol": PROTOCOL_BALROG},
        protocol=PROTOCOL_BALROG,
        player_kind=Episode.PlayerKind.MODEL,
        agent=f"{run.model_name} {run.agent_config.label()}"[:128],
        status=Episode.Status.FINISHED,
        steps=int(log.get("num_steps") or 0),
        progression=float(log.get("progression") or 0.0),
        episode_return=float(log.get("episode_return") or 0.0),
        end_detail="imported from a BALROG result folder",
        meta={
            "balrog": {key: value for key, value in log.items() if key != "task"},
            "balrog_files": _episode_files_kept(path, root),
        },
    )
    _import_steps(episode, path.with_suffix(".csv"))
    RunEpisode.objects.create(
        run=run,
        env=env,
        task=task,
        index=index,
        seed=episode.seed,
        episode=episode,
        input_tokens=int(log.get("input_tokens") or 0),
        output_tokens=int(log.get("output_tokens") or 0),
    )
    return ""


def _episode_files_kept(path: Path, root: Path) -> dict[str, dict[str, str]]:
    kept = {"json": {"path": path.relative_to(root).as_posix(), **stored_file(path.read_bytes())}}
    csv_path = path.with_suffix(".csv")
    if csv_path.is_file():
        kept["csv"] = {"path": csv_path.relative_to(root).as_posix(), **stored_file(csv_path.read_bytes())}
    return kept


def _import_steps(episode: Episode, csv_path: Path) -> None:
    if not csv_path.is_file():
        return
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, escapechar=CSV_ESCAPE))
    Step.objects.bulk_create(
        Step(
            episode=episode,
            index=int(row.get("Step") or position),
            action=(row.get("Action") or "")[:255],
            raw_input=row.get("Reasoning") or "",
            executed=[],
            reward=_float(row.get("Reward")),
            done=(row.get("Done") or "").strip() == "True",
            digest="",
            meta={"balrog_csv": {"observation": row.get("Observation") or "", "reasoning": row.get("Reasoning") or ""}},
        )
        for position, row in enumerate(rows)
    )


def _float(text: str | None) -> float:
    try:
        return float(text or 0.0)
    except ValueError:
        return 0.0


# ----- export ----------------------------------------------------------------------------------------------
def export_results(run: EvaluationRun, root: Path) -> int:
    """Write the run's finished episodes and summaries; returns the episodes written.
    An imported run's kept files are written back as they were read."""
    slots = RunEpisode.objects.filter(run=run, episode__status=Episode.Status.FINISHED).select_related("episode")
    client, agent = _configs(run)
    written = 0
    for slot in slots.order_by("env", "task", "index"):
        assert slot.episode is not None
        if _write_kept(root, slot.episode.meta.get("balrog_files")):
            written += 1
            continue
        log = episode_log(slot, client, agent)
        _write_json(run_path(root, slot.env, slot.task, slot.index, ".json"), log)
        _write_csv(run_path(root, slot.env, slot.task, slot.index, ".csv"), step_rows(slot))
        written += 1
    if _write_kept(root, run.meta.get("files") if isinstance(run.meta, dict) else None):
        return written
    summary = summarize(finished_scores(run))
    for env, env_summary in summary.envs.items():
        _write_json(root / env / f"{env}_summary.json", env_summary_json(env_summary))
    _write_json(root / "summary.json", balrog_summary_json(summary, client, agent))
    return written


def _write_kept(root: Path, kept: object) -> bool:
    """Write files kept at import ({name: {"path"?, "text" | "base64"}}); False when there are none."""
    if not isinstance(kept, dict) or not kept:
        return False
    for name, stored in kept.items():
        path = root / str(stored.get("path", name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file_bytes(stored))
    return True


def _configs(run: EvaluationRun) -> tuple[JSONObject, JSONObject]:
    if run.source == EvaluationRun.Source.IMPORTED:
        return dict(run.meta.get("client") or {}), dict(run.meta.get("agent") or {})
    config = run.agent_config
    agent: JSONObject = {
        "type": config.strategy,
        "max_text_history": config.max_text_history,
        "max_image_history": config.max_image_history,
        "max_cot_history": config.max_cot_history,
        "feedback_on_invalid_action": config.feedback_on_invalid,
        "icl_episodes": config.demo_episodes if config.strategy == "few_shot" else 0,
    }
    return (run.endpoint.client_json() if run.endpoint else {}), agent


def episode_log(slot: RunEpisode, client: JSONObject, agent: JSONObject) -> JSONObject:
    episode = slot.episode
    assert episode is not None
    imported = episode.meta.get("balrog") if not episode.replayable else None
    if isinstance(imported, dict):
        return {"task": episode.task, **imported}
    steps = Step.objects.filter(episode=episode).order_by("index").values_list("action", "valid", "raw_input", "meta")
    frequency: Counter[str] = Counter()
    failed: list[str] = []
    for action, valid, raw_input, meta in steps.iterator(chunk_size=2000):
        frequency[action] += 1
        if not valid:
            failed.append(str(meta.get("model", {}).get("candidate", raw_input)))
    log: JSONObject = {
        "task": episode.task,
        "action_frequency": dict(frequency),
        "input_tokens": slot.input_tokens,
        "output_tokens": slot.output_tokens,
        "done": True,
        "episode_return": episode.episode_return,
        "num_steps": episode.steps,
        "failed_candidates": failed,
        "progression": episode.progression,
        "process_num": None,
        "seed": episode.seed,
        "agent": agent,
        "client": client,
    }
    return log


def step_rows(slot: RunEpisode) -> list[CsvRow]:
    episode = slot.episode
    assert episode is not None
    rows: list[StepRow] = list(
        Step.objects.filter(episode=episode)
        .order_by("index")
        .values("index", "action", "valid", "raw_input", "reward", "done", "meta")
    )
    if not episode.replayable:
        return [_imported_row(row) for row in rows]
    config = slot.run.agent_config
    if slot.run.protocol == PROTOCOL_BALROG:
        return _reference_rows(episode, rows, config)
    default = adapter_class(episode.env).default_action
    observations_after = [str(row["meta"].get("model", {}).get("obs", "")) for row in rows[1:]]
    observations_after.append(_final_observation(episode) if rows else "")
    table: list[CsvRow] = []
    for row, after in zip(rows, observations_after, strict=True):
        note = invalid_note(default) if not row["valid"] and config.feedback_on_invalid else ""
        reasoning = row["raw_input"] if config.is_cot else ""
        table.append([row["index"], row["action"], reasoning, note + after, row["reward"], row["done"]])
    return table


def _reference_rows(episode: Episode, rows: list[StepRow], config: AgentConfig) -> list[CsvRow]:
    """The rows as the reference writes them: Action is the parsed answer (not the
    action executed), Observation the long-term text shown next, its feedback line
    included (the next step's recorded ``obs``; after the last step, rebuilt)."""
    models = [row["meta"].get("model", {}) for row in rows]
    observations_after = [str(model.get("obs", "")) for model in models[1:]]
    if rows:
        last = PastTurn(rows[-1]["index"], "", rows[-1]["action"], "", rows[-1]["valid"])
        observations_after.append(shown_observation(_final_observation(episode), last, config))
    table: list[CsvRow] = []
    for row, model, after in zip(rows, models, observations_after, strict=True):
        reasoning = row["raw_input"] if config.is_cot else ""
        output = str(model.get("candidate", row["action"]))
        table.append([row["index"], output, reasoning, after, row["reward"], row["done"]])
    return table


def _imported_row(row: StepRow) -> CsvRow:
    stored = row["meta"].get("balrog_csv", {})
    return [
        row["index"],
        row["action"],
        stored.get("reasoning", ""),
        stored.get("observation", ""),
        row["reward"],
        row["done"],
    ]


def _final_observation(episode: Episode) -> str:
    adapter = rebuild_adapter(episode)
    try:
        return adapter.observation().long_term
    finally:
        adapter.close()


def _write_json(path: Path, data: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4))


def _write_csv(path: Path, rows: list[CsvRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, escapechar=CSV_ESCAPE, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
