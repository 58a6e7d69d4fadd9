"""observe_cases and check_reference_logs from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reference.golden import read_cases
from tests.support.reference_data import CI_SUBMISSION, GOLDEN, need

ENVS_SAMPLED = ("babyai", "babaisai", "textworld")


def test_it_writes_what_the_reference_shows_for_each_case(tmp_path: Path) -> None:
    golden: dict[str, dict[str, Any]] = {}
    for case in read_cases(need(GOLDEN)):
        golden.setdefault(case["env"], case)
    wanted = [golden[env] for env in ENVS_SAMPLED]
    given = tmp_path / "in.jsonl"
    given.write_text(
        "".join(json.dumps({k: c[k] for k in ("env", "task", "seed", "knobs", "actions")}) + "\n" for c in wanted)
    )
    out = tmp_path / "out.jsonl"
    call_command("observe_cases", str(given), "--out", str(out), stdout=io.StringIO())
    written = [json.loads(line) for line in out.read_text().splitlines()]
    for mine, theirs in zip(written, wanted, strict=True):
        assert mine["instruction"] == theirs["instruction"]
        assert mine["observations"] == theirs["observations"]


def test_it_names_the_case_that_lacks_a_field(tmp_path: Path) -> None:
    given = tmp_path / "in.jsonl"
    given.write_text('{"env": "babyai", "task": "BabyAI-MixedTrainLocal-v0/goto", "seed": 1}\n{"env": "babyai"}\n')
    with pytest.raises(CommandError, match="case 2: missing task, seed"):
        call_command("observe_cases", str(given), "--out", str(tmp_path / "out.jsonl"), stdout=io.StringIO())


def test_it_refuses_an_unknown_task_clearly(tmp_path: Path) -> None:
    given = tmp_path / "in.jsonl"
    given.write_text('{"env": "babyai", "task": "no-such-task", "seed": 1, "actions": []}\n')
    with pytest.raises(CommandError, match=r"case 1 \(babyai/no-such-task seed 1\)"):
        call_command("observe_cases", str(given), "--out", str(tmp_path / "out.jsonl"), stdout=io.StringIO())


def test_it_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("check_reference_logs", str(tmp_path / "nowhere"), stdout=io.StringIO())


def test_it_prints_a_table_and_writes_the_json(tmp_path: Path) -> None:
    out, report = io.StringIO(), tmp_path / "report.json"
    call_command("check_reference_logs", str(need(CI_SUBMISSION)), "--env", "babyai", "--json", str(report), stdout=out)
    assert "BabyAI-MixedTrainLocal-v0/goto" in out.getvalue()
    data = json.loads(report.read_text())
    assert set(data["envs"]["babyai"]) >= {
        "episodes",
        "steps",
        "identical_steps",
        "first_identical",
        "progression_equal",
        "format_only",
    }
    assert data["envs"]["babyai"]["episodes"] == 50 and "BabyAI-MixedTrainLocal-v0/goto" in data["tasks"]


def test_it_checks_a_golden_file_by_its_name(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("check_reference_logs", str(need(GOLDEN)), "--env", "babyai", stdout=out)
    assert "25/25" in out.getvalue()
