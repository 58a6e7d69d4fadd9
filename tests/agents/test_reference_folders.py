"""Interop with the reference's own result folders (a public BALROG submission,
../shared/data/balrog_reference_logs, skipped where absent): an import shows its
score, publishes on request, and exports back file for file, byte for byte."""

from __future__ import annotations

import json
import tarfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from agents.aggregation import balrog_summary_json, reported_score, summarize
from agents.evaluation import run_summary
from agents.models import EvaluationRun

pytestmark = pytest.mark.django_db(transaction=True)
LOGS = Path(settings.BASE_DIR).parent / "shared" / "data" / "balrog_reference_logs"
SUBMISSION = "20241115_naive-Qwen2.5-7B-it"


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def reference_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The submission's top-level files and its BabyAI folder (nested task paths)."""
    archive = LOGS / f"{SUBMISSION}.tar.xz"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    target = tmp_path_factory.mktemp("reference")
    with tarfile.open(archive, "r:xz") as tar:
        wanted = [
            member
            for member in tar.getmembers()
            if member.isfile() and (member.name.count("/") == 1 or member.name.startswith(f"{SUBMISSION}/babyai/"))
        ]
        tar.extractall(target, members=wanted, filter="data")
    return target / SUBMISSION


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_it_exports_an_imported_reference_folder_file_for_file(reference_folder: Path, tmp_path: Path) -> None:
    out = command("import_balrog_results", str(reference_folder), "--model", "Qwen2.5-7B-it")
    run = EvaluationRun.objects.get()
    assert f"run {run.pk}: imported 50 episodes of babyai" in out
    command("export_balrog_results", str(run.pk), str(tmp_path / "out"))
    exported, original = tree(tmp_path / "out"), tree(reference_folder)
    assert sorted(exported) == sorted(original)  # README.md, metadata.yaml and the summaries too
    assert [name for name in original if exported[name] != original[name]] == []


def test_it_shows_an_imported_run_s_reported_score(reference_folder: Path) -> None:
    command("import_balrog_results", str(reference_folder), "--model", "Qwen2.5-7B-it")
    run = EvaluationRun.objects.get()
    reported = json.loads((reference_folder / "summary.json").read_text())
    html = Client().get(reverse("agents:run", args=[run.pk])).content.decode()
    assert 'id="run-reference-score"' in html
    assert f"<strong>{reported['average_progress']:.2f}</strong>" in html  # 7.80, the reference's overall
    assert "balrog protocol" in html
    babyai = json.loads((reference_folder / "babyai" / "babyai_summary.json").read_text())
    ours = run_summary(run).envs["babyai"].stat
    assert 100 * ours.mean == pytest.approx(babyai["progression_percentage"])
    assert 100 * ours.se == pytest.approx(babyai["standard_error"])


def test_it_publishes_an_import_on_request(reference_folder: Path) -> None:
    out = command("import_balrog_results", str(reference_folder), "--model", "Qwen2.5-7B-it", "--publish")
    run = EvaluationRun.objects.get()
    assert run.published and run.published_at is not None and "published on the leaderboard" in out
    superuser = Client()
    superuser.force_login(User.objects.create_superuser("admin", password="pw-12345678"))
    html = superuser.get(reverse("agents:run", args=[run.pk])).content.decode()
    assert "Unpublish" in html


def test_it_reads_the_overall_under_either_key() -> None:
    assert reported_score({"average_progress": 7.5, "standard_error": 1.25}) == {"score": 7.5, "se": 1.25}
    assert reported_score({"Final score": 37.5, "standard_error": 12.5}) == {"score": 37.5, "se": 12.5}
    assert reported_score({"environments": {}}) is None
    written = balrog_summary_json(summarize([]))
    assert "average_progress" in written and "Final score" not in written


def test_the_overall_is_the_reference_s_unweighted_mean_of_env_means(reference_folder: Path) -> None:
    """The reference's summary.json: overall = unweighted mean of the env means, SE = sqrt(sum SE^2) / n_envs."""
    reported = json.loads((reference_folder / "summary.json").read_text())
    envs = reported["environments"]
    mean = sum(env["progression_percentage"] for env in envs.values()) / len(envs)
    se = sum(env["standard_error"] ** 2 for env in envs.values()) ** 0.5 / len(envs)
    assert reported["average_progress"] == pytest.approx(mean)
    assert reported["standard_error"] == pytest.approx(se)
