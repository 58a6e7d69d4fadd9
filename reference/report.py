"""Tables and targets for the fidelity checks (logs and golden cases).

The targets are issue 22's: what the reference reproduces of itself. A check
under its target fails (``check_reference_logs`` exits 1, CI fails).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from reference.golden import CaseComparison, GoldenReport
from reference.logs import EpisodeCheck, LogReport

T = TypeVar("T")

#: minimum share of logged observations identical / of episodes with equal progression
LOG_TARGETS: dict[str, float] = {
    "babyai": 0.99,
    "babaisai": 0.99,
    "minihack": 0.99,
    "textworld": 0.99,
    "nle": 0.98,
}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def log_totals(checks: Iterable[EpisodeCheck]) -> dict[str, Any]:
    checks = list(checks)
    return {
        "episodes": len(checks),
        "steps": sum(c.steps for c in checks),
        "identical_steps": sum(c.identical_steps for c in checks),
        "first_identical": sum(c.first_identical for c in checks),
        "progression_equal": sum(c.progression_equal for c in checks),
        "format_only": sum(c.format_only for c in checks),
        "errors": sum(bool(c.error) for c in checks),
    }


def _grouped(items: Iterable[T], key: str) -> dict[str, list[T]]:
    """Items by an attribute (env or task), in first-seen order."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(getattr(item, key), []).append(item)
    return groups


def _table(header: str, items: Iterable[T], row: Callable[[str, list[T]], str]) -> list[str]:
    """A header, then a row per env, each followed by a row per task of it."""
    rows = [header]
    for env, of_env in _grouped(items, "env").items():
        rows.append(row(env, of_env))
        rows += [row("  " + task, of_task) for task, of_task in _grouped(of_env, "task").items()]
    return rows


def log_report_json(report: LogReport) -> dict[str, Any]:
    return {
        "submission": report.submission,
        "date": report.submitted.isoformat(),
        "feedback_line": report.feedback,
        "protocol": report.protocol,
        "seconds": round(report.seconds, 1),
        "envs": {env: log_totals(c) for env, c in _grouped(report.episodes, "env").items()},
        "tasks": {task: log_totals(c) for task, c in _grouped(report.episodes, "task").items()},
        "differences": [
            {"episode": c.name, "error": c.error, **(c.first_difference or {})}
            for c in report.episodes
            if c.error or (c.first_difference and not c.format_only)
        ],
    }


def log_failures(report: LogReport) -> list[str]:
    failures = []
    for env, checks in _grouped(report.episodes, "env").items():
        target = LOG_TARGETS.get(env)
        totals = log_totals(checks)
        if target is None or totals["format_only"]:
            continue
        steps = _share(totals["identical_steps"], totals["steps"])
        progression = _share(totals["progression_equal"], totals["episodes"])
        if steps < target or progression < target:
            failures.append(
                f"{env}: {steps:.1%} of observations identical, {progression:.1%} of episodes with equal "
                f"progression (target {target:.0%} each)"
            )
    return failures


def log_rows(report: LogReport) -> list[str]:
    header = f"{'env / task':64} {'episodes':>8} {'observations identical':>24} {'progression equal':>18}"
    return _table(header, report.episodes, lambda label, checks: _log_row(label, log_totals(checks)))


def _log_row(label: str, totals: dict[str, Any]) -> str:
    steps = f"{totals['identical_steps']}/{totals['steps']} ({_share(totals['identical_steps'], totals['steps']):.1%})"
    if totals["format_only"]:
        return f"{label:64} {totals['episodes']:>8} {steps + ' format only':>24} {'-':>18}"
    progression = f"{totals['progression_equal']}/{totals['episodes']}"
    errors = f"  errors: {totals['errors']}" if totals["errors"] else ""
    return f"{label:64} {totals['episodes']:>8} {steps:>24} {progression:>18}{errors}"


@dataclass
class _GoldenTotals:
    cases: int = 0
    identical_cases: int = 0
    texts: int = 0
    identical_texts: int = 0
    instruction_equal: int = 0
    format_only: int = 0
    errors: int = 0


def golden_totals(cases: Iterable[CaseComparison]) -> dict[str, int]:
    totals = _GoldenTotals()
    for case in cases:
        totals.cases += 1
        totals.identical_cases += case.matches
        totals.texts += case.texts
        totals.identical_texts += case.identical
        totals.instruction_equal += case.instruction_equal
        totals.format_only += case.format_only
        totals.errors += bool(case.error)
    return dict(totals.__dict__)


def golden_report_json(report: GoldenReport) -> dict[str, Any]:
    return {
        "envs": {env: golden_totals(c) for env, c in _grouped(report.cases, "env").items()},
        "tasks": {task: golden_totals(c) for task, c in _grouped(report.cases, "task").items()},
        "differences": [
            {"env": c.env, "task": c.task, "seed": c.seed, "error": c.error, **(c.first_difference or {})}
            for c in report.cases
            if not c.matches
        ],
    }


def golden_failures(report: GoldenReport) -> list[str]:
    return [
        f"{env}: {totals['identical_cases']}/{totals['cases']} golden cases identical (target: all)"
        for env, totals in ((env, golden_totals(c)) for env, c in _grouped(report.cases, "env").items())
        if totals["identical_cases"] < totals["cases"]
    ]


def golden_rows(report: GoldenReport) -> list[str]:
    header = f"{'env / task':64} {'cases identical':>16} {'texts identical':>18}"
    return _table(header, report.cases, lambda label, cases: _golden_row(label, golden_totals(cases)))


def _golden_row(label: str, totals: dict[str, int]) -> str:
    cases = f"{totals['identical_cases']}/{totals['cases']}"
    texts = f"{totals['identical_texts']}/{totals['texts']}"
    errors = f"  errors: {totals['errors']}" if totals["errors"] else ""
    return f"{label:64} {cases:>16} {texts:>18}{errors}"
