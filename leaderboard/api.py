"""The leaderboard as data: JSON for /api/leaderboard, CSV, a row in the
reference evaluator's ``summary.json`` layout, and the OpenAPI document."""

from __future__ import annotations

import csv
import io
from typing import Any

from agents.aggregation import Stat, SummaryFile, balrog_summary_json
from agents.models import EvaluationRun
from games.registry import ENVS, PROTOCOLS
from leaderboard.coverage import Coverage
from leaderboard.query import ALLOWED, DIRECTIONS
from leaderboard.services import SORT_KEYS, TABS, Entry

API_VERSION = "2"  # 2: protocol, ranked, apart and coverage per entry
BOARD_FIELDS = ("api_version", "data_version", "tab", "sort", "units", "games", "entries")
ENTRY_FIELDS = (
    "key", "kind", "name", "agent", "modality", "rank", "overall", "interval95", "episodes", "games",
    "verified", "imported", "synthetic", "protocol", "ranked", "apart", "coverage",
)  # fmt: skip


def stat_json(stat: Stat | None) -> dict[str, Any] | None:
    """A cell in BALROG's percent units (mean and SE x100)."""
    if stat is None or stat.n == 0:
        return None
    return {"mean": 100 * stat.mean, "se": 100 * stat.se, "episodes": stat.n}


def entry_json(entry: Entry) -> dict[str, Any]:
    interval = entry.interval
    return {
        "key": entry.key,
        "kind": entry.kind,
        "name": entry.name,
        "agent": entry.agent,
        "modality": entry.modality,
        "rank": entry.rank,
        "overall": stat_json(entry.summary.overall),
        "interval95": [100 * interval.low, 100 * interval.high] if interval else None,
        "episodes": entry.summary.episodes,
        "games": {env: stat_json(entry.summary.envs[env].stat) if env in entry.summary.envs else None for env in ENVS},
        "verified": entry.verified,
        "imported": entry.imported,
        "synthetic": entry.synthetic,
        "protocol": entry.protocol,
        "ranked": entry.ranked,
        "apart": entry.apart,
        "coverage": coverage_json(entry.coverage),
    }


def coverage_json(coverage: Coverage | None) -> dict[str, Any] | None:
    if coverage is None:
        return None
    return {
        "complete": coverage.complete,
        "envs": coverage.envs,
        "tasks": coverage.tasks,
        "total_tasks": coverage.total_tasks,
        "missing": list(coverage.missing),
    }


def board_json(entries: list[Entry], tab: str, sort: str, version: str) -> dict[str, Any]:
    return {
        "api_version": API_VERSION,
        "data_version": version,
        "tab": tab,
        "sort": sort,
        "units": "percent (BALROG progression x100)",
        "games": list(ENVS),
        "entries": [entry_json(entry) for entry in entries],
    }


CSV_HEADER = ["rank", "name", "agent", "modality", "overall", "overall_se", "low95", "high95", "episodes"]


def board_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    per_game = [f"{env}{suffix}" for env in ENVS for suffix in ("", "_se", "_n")]
    writer.writerow([*CSV_HEADER, *per_game, "verified", "imported"])
    for entry in entries:
        writer.writerow(_csv_row(entry))
    return out.getvalue()


def _csv_row(entry: Entry) -> list[Any]:
    overall, interval = entry.summary.overall, entry.interval
    row: list[Any] = [entry.rank or "", entry.name, entry.agent, entry.modality]
    row += [_pct(overall.mean), _pct(overall.se)] if overall.n else ["", ""]
    row += [_pct(interval.low), _pct(interval.high)] if interval else ["", ""]
    row.append(entry.summary.episodes)
    for stat in entry.cells:
        row += [_pct(stat.mean), _pct(stat.se), stat.n] if stat else ["", "", 0]
    return [*row, int(entry.verified), int(entry.imported)]


def _pct(value: float) -> str:
    return f"{100 * value:.4f}"


def submission_json(entry: Entry) -> SummaryFile:
    """The row as the reference evaluator's ``summary.json`` (percentages).
    Client and agent: those of the entry's first run (all runs of an entry
    share the model name and agent configuration); the API key variable
    name is never included."""
    client: dict[str, Any] = {}
    agent: dict[str, Any] = {}
    run = EvaluationRun.objects.filter(pk__in=entry.run_ids).select_related("endpoint").order_by("pk").first()
    if run is not None:
        client = run.endpoint.client_json() if run.endpoint else dict(run.meta.get("client") or {})
        client.pop("api_key_env", None)
        agent = dict(run.agent)
    return balrog_summary_json(entry.summary, client=client, agent=agent)


def _cell_schema() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "properties": {
            "mean": {"type": "number"},
            "se": {"type": "number", "minimum": 0},
            "episodes": {"type": "integer", "minimum": 1},
        },
        "required": ["mean", "se", "episodes"],
        "additionalProperties": False,
    }


def openapi_document(base_path: str) -> dict[str, Any]:
    """Hand-written OpenAPI 3.1 description of the leaderboard API."""
    entry = {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "kind": {"type": "string", "enum": ["model", "human", "player"]},
            "name": {"type": "string"},
            "agent": {"type": "string"},
            "modality": {"type": "string", "enum": ["LLM", "VLM", "human"]},
            "rank": {
                "type": ["integer", "null"],
                "description": "within the main ranking: 1 + the entries better with 95% confidence (Welch's t "
                "on the difference of overall scores), never above an entry scoring higher; null for entries "
                "listed apart",
            },
            "overall": _cell_schema(),
            "interval95": {
                "type": ["array", "null"],
                "items": {"type": "number"},
                "minItems": 2,
                "maxItems": 2,
                "description": "95% interval of the overall (Student's t, Welch-Satterthwaite degrees of freedom); "
                "null with too few episodes (an env with fewer than two)",
            },
            "episodes": {"type": "integer"},
            "games": {
                "type": "object",
                "properties": {env: _cell_schema() for env in ENVS},
                "required": list(ENVS),
                "additionalProperties": False,
            },
            "verified": {"type": "boolean"},
            "imported": {"type": "boolean"},
            "synthetic": {"type": "boolean"},
            "protocol": {"type": "string", "enum": list(PROTOCOLS)},
            "ranked": {
                "type": "boolean",
                "description": "in the main ranking: BALROG's protocol with its full coverage",
            },
            "apart": {"type": "string", "description": "why the entry is not ranked ('' when it is)"},
            "coverage": {
                "type": ["object", "null"],
                "properties": {
                    "complete": {"type": "boolean"},
                    "envs": {"type": "integer", "minimum": 0},
                    "tasks": {"type": "integer", "minimum": 0},
                    "total_tasks": {"type": "integer", "minimum": 1},
                    "missing": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["complete", "envs", "tasks", "total_tasks", "missing"],
                "additionalProperties": False,
            },
        },
        "required": list(ENTRY_FIELDS),
        "additionalProperties": False,
    }
    params = [
        {"name": "tab", "in": "query", "schema": {"type": "string", "enum": list(TABS), "default": "llm"}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORT_KEYS), "default": "rank"}},
        {
            "name": "dir",
            "in": "query",
            "description": "default: descending, except by name",
            "schema": {"type": "string", "enum": list(DIRECTIONS)},
        },
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "balrogweb leaderboard", "version": API_VERSION},
        "paths": {
            base_path: {
                "get": {
                    "summary": "The public leaderboard (BALROG aggregation, percent units)",
                    "parameters": params,
                    "responses": {
                        "200": {
                            "description": "the board",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "api_version": {"type": "string", "const": API_VERSION},
                                            "data_version": {"type": "string"},
                                            "tab": {"type": "string", "enum": list(TABS)},
                                            "sort": {"type": "string", "enum": list(SORT_KEYS)},
                                            "units": {"type": "string"},
                                            "games": {"type": "array", "items": {"type": "string", "enum": list(ENVS)}},
                                            "entries": {"type": "array", "items": entry},
                                        },
                                        "required": list(BOARD_FIELDS),
                                        "additionalProperties": False,
                                    }
                                }
                            },
                        },
                        "400": {
                            "description": "a parameter outside its enum: which one, and its allowed values",
                            "content": {"application/json": {"schema": _bad_query_schema()}},
                        },
                        "405": {"description": "a method other than GET or HEAD (the Allow header lists them)"},
                    },
                }
            }
        },
    }


def _bad_query_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "parameter": {"type": "string", "enum": list(ALLOWED)},
            "allowed": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["error", "parameter", "allowed"],
        "additionalProperties": False,
    }
