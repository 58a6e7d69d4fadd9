"""Replaying BALROG's own logged episodes reproduces what it logged."""

from __future__ import annotations

import json
import tarfile
from datetime import date
from pathlib import Path

import pytest

from reference.logs import LogError, check_submission, read_submission, submission_date
from reference.report import log_failures, log_report_json
from tests.support.reference_data import CI_SUBMISSION, need


def test_it_reads_the_date_from_the_submission_name() -> None:
    assert submission_date(Path("x/20241115_naive-Qwen2.5-7B-it.tar.xz")) == date(2024, 11, 15)
    assert submission_date(Path("results"), date(2025, 3, 1)) == date(2025, 3, 1)
    with pytest.raises(LogError, match="pass --date"):
        submission_date(Path("results"))


def test_it_refuses_what_is_not_a_result_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(LogError, match=r"no <env>/<task>/<task>_run_NN\.json"):
        list(read_submission(tmp_path))
    broken = tmp_path / "broken.tar.xz"
    broken.write_bytes(b"not xz")
    with pytest.raises(LogError, match=r"not a readable \.tar\.xz"):
        list(read_submission(broken))


def test_it_reads_a_folder_and_its_archive_alike(tmp_path: Path) -> None:
    with tarfile.open(need(CI_SUBMISSION), "r:xz") as archive:
        members = [m for m in archive.getmembers() if "/babyai/" in m.name and "goto_run_0" in m.name]
        archive.extractall(tmp_path, members=members, filter="data")
    folder = next(tmp_path.iterdir())
    from_folder = [(e.env, e.task, e.seed, len(e.rows)) for e in read_submission(folder)]
    assert len(from_folder) == 10 and all(rows > 0 for *_, rows in from_folder)
    assert {task for _, task, _, _ in from_folder} == {"BabyAI-MixedTrainLocal-v0/goto"}


def test_it_reproduces_a_whole_november_2024_submission() -> None:
    report = check_submission(need(CI_SUBMISSION))
    data = log_report_json(report)
    assert sum(totals["episodes"] for totals in data["envs"].values()) == 255
    assert data["envs"]["crafter"]["format_only"] == 10  # its worlds were not seeded: format only
    assert log_failures(report) == [], json.dumps(data["differences"][:3], indent=1)[:4000]
