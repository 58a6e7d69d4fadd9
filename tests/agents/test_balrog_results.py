"""BALROG result folders: export from our episodes, import the reference
layout, and an export of an import writes the same files back."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.balrog_results import CSV_ESCAPE
from agents.evaluation import run_summary
from agents.models import EvaluationRun
from agents.runner import run_model_episode
from games.models import Episode
from tests.support.games import BABYAI_TASK
from tests.support.runs import slots

pytestmark = pytest.mark.django_db(transaction=True)
PICKUP = "BabyAI-MixedTrainLocal-v0/pickup"


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def files(root: Path) -> dict[str, object]:
    """Every file under root: JSON parsed, CSV as rows."""
    result: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix == ".json":
            result[str(path.relative_to(root))] = json.loads(path.read_text())
        elif path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                result[str(path.relative_to(root))] = list(csv.reader(handle, escapechar=CSV_ESCAPE))
    return result


@pytest.fixture
def played_run(make_endpoint, make_run) -> EvaluationRun:
    run = make_run(make_endpoint("drift"), tasks=(BABYAI_TASK, PICKUP), episodes=2, strategy="cot", seed_base=20)
    for slot in slots(run):
        run_model_episode(slot.pk)
    run.refresh_from_db()
    return run


def test_it_exports_the_reference_layout(played_run: EvaluationRun, tmp_path: Path) -> None:
    assert "wrote 4 episodes" in command("export_balrog_results", str(played_run.pk), str(tmp_path))
    # BabyAI task names hold a slash: the files sit one folder deeper, as the reference writes them
    log_path = tmp_path / "babyai" / BABYAI_TASK / f"{BABYAI_TASK}_run_01.json"
    log = json.loads(log_path.read_text())
    slot = slots(played_run)[1]
    assert slot.episode is not None
    assert {"task", "action_frequency", "input_tokens", "output_tokens", "episode_return", "num_steps",
            "failed_candidates", "progression", "seed", "agent", "client"} <= set(log)
    assert (log["task"], log["seed"], log["num_steps"]) == (BABYAI_TASK, 21, slot.episode.steps)
    assert sum(log["action_frequency"].values()) == slot.episode.steps
    assert log["input_tokens"] == slot.input_tokens and log["agent"]["type"] == "cot"
    invalid = slot.episode.step_set.filter(valid=False).count()
    assert len(log["failed_candidates"]) == invalid
    with log_path.with_suffix(".csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, escapechar=CSV_ESCAPE))
    assert rows[0] == ["Step", "Action", "Reasoning", "Observation", "Reward", "Done"]
    assert len(rows) == slot.episode.steps + 1 and rows[-1][-1] == "True"
    second = slot.episode.step_set.get(index=1)
    assert rows[1][3].endswith(second.meta["model"]["obs"])  # the observation after step 0 is the one step 1 saw
    summary = json.loads((tmp_path / "summary.json").read_text())
    expected = run_summary(played_run)
    assert summary["average_progress"] == pytest.approx(100 * expected.overall.mean)
    assert json.loads((tmp_path / "babyai" / "babyai_summary.json").read_text())["episodes_played"] == 4


def test_an_export_of_an_import_writes_the_same_files(played_run: EvaluationRun, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    command("export_balrog_results", str(played_run.pk), str(first))
    out = command("import_balrog_results", str(first), "--model", "drifty")
    imported = EvaluationRun.objects.get(source="imported")
    assert f"run {imported.pk}: imported 4 episodes of babyai" in out
    assert imported.model_name == "drifty" and imported.agent_config.strategy == "cot"
    episode = Episode.objects.filter(run_episode__run=imported).first()
    assert episode is not None and not episode.replayable and episode.step_set.count() == episode.steps
    command("export_balrog_results", str(imported.pk), str(second))
    assert files(second) == files(first)
    assert run_summary(imported) == run_summary(played_run)
    with pytest.raises(CommandError, match="already imported"):
        command("import_balrog_results", str(first), "--model", "drifty")


def test_it_imports_a_reference_folder(tmp_path: Path) -> None:
    task_dir = tmp_path / "crafter" / "default"
    task_dir.mkdir(parents=True)
    for index, progression in enumerate([0.5, 0.25]):
        log = {"task": "default", "action_frequency": {"Noop": 3}, "input_tokens": 100, "output_tokens": 7,
               "done": True, "episode_return": 1.0, "num_steps": 3, "failed_candidates": ["jump"],
               "progression": progression, "process_num": "ForkProcess-1", "seed": 1234 + index,
               "agent": {"type": "robust_cot", "max_history": 16}, "client": {"model_id": "some-model"}}
        (task_dir / f"default_run_{index:02d}.json").write_text(json.dumps(log))
    # the older column order (Observation second): read by header names
    with (task_dir / "default_run_00.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, escapechar=CSV_ESCAPE)
        writer.writerow(["Step", "Observation", "Action", "Reasoning", "Reward", "Done"])
        writer.writerows([[0, "a tree", "Noop", "think", 0.0, False], [1, "a cow", "Noop", "", 0.0, False],
                          [2, "night", "Noop", "", 1.0, True]])
    (tmp_path / "nle" / "NoSuchTask").mkdir(parents=True)
    (tmp_path / "nle" / "NoSuchTask" / "NoSuchTask_run_00.json").write_text(json.dumps({"task": "NoSuchTask"}))
    (tmp_path / "summary.json").write_text(json.dumps({"Final score": 37.5, "standard_error": 12.5}))
    out = command("import_balrog_results", str(tmp_path), "--model", "ref-model")
    assert "imported 2 episodes of crafter" in out and "skipped nle/NoSuchTask/NoSuchTask_run_00.json" in out
    run = EvaluationRun.objects.get()
    assert run.agent_config.strategy == "robust_cot" and run.meta["summary"]["Final score"] == 37.5
    summary = run_summary(run)
    assert summary.overall.mean == pytest.approx(0.375) and summary.overall.se == pytest.approx(0.125 / 2**0.5)
    first = slots(run)[0]
    assert first.episode is not None and first.seed == 1234 and first.input_tokens == 100
    step = first.episode.step_set.get(index=0)
    assert (step.action, step.raw_input, step.meta["balrog_csv"]["observation"]) == ("Noop", "think", "a tree")
    assert first.episode.step_set.get(index=2).done


def test_it_refuses_a_folder_without_results(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no <env>/<task>"):
        command("import_balrog_results", str(tmp_path), "--model", "x")
