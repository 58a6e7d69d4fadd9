"""TextWorld adapter: BALROG's three tasks on games generated offline.

Game generation costs seconds per game (treasure_hunter ~10-20 s), so every
test points the settings at one temporary data dir for the session, with a
pool of one game per task (generated on demand by the first reset).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from games.base import EndReason, InvalidTask
from games.registry import make_adapter
from games.textworld import pool
from games.textworld.adapter import (
    BLOCKED_MESSAGE,
    MAX_COMMAND_BYTES,
    TextWorldAdapter,
    clean_command,
    clean_feedback,
    is_blocked,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TASKS = ("treasure_hunter", "the_cooking_game", "coin_collector")


@pytest.fixture(scope="session")
def game_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the session: games generated on demand at the first
    reset of a task are reused by later tests."""
    return tmp_path_factory.mktemp("games")


@pytest.fixture
def data_dir(game_data_dir: Path, settings) -> Path:
    settings.BALROG_GAME_DATA_DIR = game_data_dir
    settings.BALROG_TEXTWORLD_POOL_SIZE = 1
    return game_data_dir


@pytest.fixture
def coin(data_dir: Path) -> Iterator[TextWorldAdapter]:
    adapter = TextWorldAdapter("coin_collector")
    adapter.reset(0)
    yield adapter
    adapter.close()


def test_it_lists_balrogs_three_tasks_with_an_80_step_cap() -> None:
    tasks = TextWorldAdapter.tasks()
    assert [t.task for t in tasks] == list(TASKS)
    assert all(t.step_cap == 80 and t.episodes_per_task == 10 for t in tasks)
    assert TextWorldAdapter.default_action == "help"
    assert TextWorldAdapter.accepts_free_text
    assert TextWorldAdapter.key_bindings() == []
    assert TextWorldAdapter.engine_version().startswith("textworld-1.7")
    with pytest.raises(InvalidTask):
        TextWorldAdapter("zork")


def test_it_cleans_commands_and_the_games_text() -> None:
    assert clean_command("  go\tnorth\x07\n ") == "go north"
    assert clean_command("\x00\x1b") == ""
    assert is_blocked("save") and is_blocked("look. RESTORE") and is_blocked("transcripts")
    assert not is_blocked("take safe") and not is_blocked("go north")
    raw = "\nYou pick it up.\n\n\n\n>" + " " * 40 + "-= Still Study =-1/4"
    assert clean_feedback(raw) == "You pick it up."


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_it_is_won_by_the_games_walkthrough(task: str, data_dir: Path) -> None:
    adapter = make_adapter("textworld", task)
    assert isinstance(adapter, TextWorldAdapter)
    reset = adapter.reset(0)
    assert reset["game_index"] == 0 and reset["game_file"].startswith(f"{task}-")
    walkthrough = adapter.walkthrough()
    if task == "treasure_hunter":
        assert len(walkthrough) == 20  # BALROG kept only 20-command treasure hunts
    results = [adapter.step(command) for command in walkthrough]
    assert all(r.valid for r in results)
    assert results[-1].done and adapter.end_reason == EndReason.WON
    assert adapter.progression == 1.0
    assert adapter.hud()["score"] == adapter.hud()["max_score"] == adapter.episode_return > 0
    adapter.close()


@pytest.mark.slow
def test_it_ends_lost_when_the_cook_eats_an_ingredient(data_dir: Path) -> None:
    adapter = TextWorldAdapter("the_cooking_game")
    adapter.reset(0)
    for command in adapter.walkthrough():
        adapter.step(command)
        if command.startswith("take "):
            break
    food = command.removeprefix("take ").split(" from ")[0]
    result = adapter.step(f"eat {food}")
    assert result.done and result.end_reason == EndReason.LOST
    assert 0 < result.progression < 1  # score / max_score as it stands at the end
    assert adapter.frame()["lost"]


def test_it_executes_help_for_an_empty_or_oversized_answer(coin: TextWorldAdapter) -> None:
    for answer in ("", "  \x07 ", "look " * 40):
        result = coin.step(answer)
        assert not result.valid and result.action == "help" and result.executed == ["help"]
        assert "Available commands" in coin.observation().long_term
    assert coin.is_valid("x" * MAX_COMMAND_BYTES) and not coin.is_valid("x" * (MAX_COMMAND_BYTES + 1))


def test_it_accepts_free_text(coin: TextWorldAdapter) -> None:
    result = coin.step("dance\twildly\x07 with joy")
    assert result.valid and result.executed == ["dance wildly with joy"]
    assert "dance wildly with joy" not in coin.action_space()
    assert coin.observation().long_term == "That's not a verb I recognise."
    assert coin.frame()["command"] == "dance wildly with joy"


def test_it_answers_file_and_restart_commands_itself(
    coin: TextWorldAdapter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the interpreter would write save and transcript files here
    before = coin.state_bytes()
    for command in ("save", "look. restore", "restart", "script on"):
        result = coin.step(command)
        assert result.valid and result.executed == [command]
        assert coin.observation().long_term == BLOCKED_MESSAGE
    assert list(tmp_path.iterdir()) == []
    assert coin.hud()["moves"] == 0 and coin.state_bytes() != before


def test_it_shows_the_objective_score_and_commands(coin: TextWorldAdapter) -> None:
    observation = coin.observation()
    assert observation.long_term.startswith("-= ")  # the banner and objective are cut, as in BALROG
    assert "TextWorld" not in observation.long_term
    assert observation.short_term.startswith("Objective: ") and "Score: 0 out of 1" in observation.short_term
    frame = coin.frame()
    assert frame["command"] is None and frame["max_score"] == 1 and frame["moves"] == 0
    assert set(frame["admissible"]) >= {"look", "inventory"} and "take" in frame["verbs"]
    assert coin.action_space() == frame["admissible"]
    assert json.loads(json.dumps(frame)) == frame
    strict = TextWorldAdapter("coin_collector", {"balrog_text": True})
    strict.reset(0)
    assert strict.observation().short_term == "" and strict.observation().long_term == observation.long_term
    strict.close()


def test_it_renders_a_png_and_digests_the_state(coin: TextWorldAdapter) -> None:
    png = coin.render_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    first = coin.digest()
    coin.step(coin.walkthrough()[0])
    assert coin.digest() != first
    assert json.loads(coin.state_bytes())[1] == coin.observation().long_term


@pytest.mark.slow
def test_it_picks_the_game_by_seed_modulo_pool_size_generating_missing_ones(data_dir: Path, settings) -> None:
    settings.BALROG_TEXTWORLD_POOL_SIZE = 2
    adapter = TextWorldAdapter("coin_collector")
    assert pool.find_game("coin_collector", 1) is None
    facts = [adapter.reset(seed) for seed in (0, 1, 2, 3, -1)]
    assert [f["game_index"] for f in facts] == [0, 1, 0, 1, 1]
    assert facts[0]["game_file"] == facts[2]["game_file"] != facts[1]["game_file"] == facts[3]["game_file"]
    assert facts[0]["game_digest"] == facts[2]["game_digest"] != facts[1]["game_digest"]
    assert [f["generator"]["seed"] for f in facts[:2]] == [1, 2]
    adapter.close()
    settings.BALROG_TEXTWORLD_POOL_SIZE = 1
    pinned = TextWorldAdapter("coin_collector", {"pool_size": 2})
    assert pinned.reset(3)["game_file"] == facts[1]["game_file"]
    pinned.close()


@pytest.mark.slow
def test_it_prepares_idempotently_and_regenerates_identical_games(data_dir: Path, tmp_path: Path, settings) -> None:
    TextWorldAdapter.prepare("coin_collector")
    game = pool.find_game("coin_collector", 0)
    assert game is not None
    stamp, digest = game.stat().st_mtime_ns, pool.game_digest(game)
    assert "0 generated" in TextWorldAdapter.prepare("coin_collector")
    assert game.stat().st_mtime_ns == stamp

    # A run interrupted after the .json was written (and a stale temp dir)
    # leaves no game: prepare makes it again, byte for byte.
    settings.BALROG_GAME_DATA_DIR = tmp_path
    copy = tmp_path / "textworld" / "coin_collector"
    shutil.copytree(game.parent, copy)
    (copy / game.name).unlink()
    (copy / ".tmp-left-over").mkdir()
    os.utime(copy / ".tmp-left-over", (0, 0))
    assert pool.find_game("coin_collector", 0) is None
    assert "1 generated" in TextWorldAdapter.prepare("coin_collector")
    assert pool.game_digest(copy / game.name) == digest
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in game.parent.iterdir())


@pytest.mark.slow
def test_it_remembers_rejected_candidates_past_the_listed_seeds(
    tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.BALROG_GAME_DATA_DIR = tmp_path
    # Small level-5 coin games (quick to make), no listed seeds, and a walkthrough
    # filter none of them meets (they all have 5 commands).
    coin = pool.SPECS["coin_collector"]
    spec = dataclasses.replace(coin, settings={"level": 5}, tag="L5", seeds=(), walkthrough_length=6)
    monkeypatch.setitem(pool.SPECS, "coin_collector", spec)
    monkeypatch.setattr(pool, "FALLBACK_ATTEMPTS", 2)
    with pytest.raises(pool.GenerationError):
        pool.ensure_game("coin_collector", 3)
    markers = sorted(p.name for p in (tmp_path / "textworld" / "coin_collector").iterdir())
    assert markers == [f"{spec.file_stem(seed)}.rejected" for seed in spec.candidate_seeds(3)]

    def generate_again(spec: pool.GameSpec, seed: int, directory: Path) -> pool.GenerationResult:
        raise AssertionError(f"seed {seed} was generated again")

    monkeypatch.setattr(pool, "generate_into_pool", generate_again)
    with pytest.raises(pool.GenerationError):
        pool.ensure_game("coin_collector", 3)  # decided once: the markers answer


@pytest.mark.slow
def test_it_replays_identically_in_a_fresh_process(coin: TextWorldAdapter, data_dir: Path) -> None:
    reset = coin.reset(7)
    digests, progression, executed = [coin.digest()], [], []
    answers = ["", "goal", "dance", "save", *coin.walkthrough()]
    for answer in answers:
        result = coin.step(answer)
        executed.append(result.executed)
        digests.append(coin.digest())
        progression.append(result.progression)
        if result.done:
            break
    assert coin.end_reason == EndReason.WON
    log = {"env": "textworld", "task": "coin_collector", "seed": 7, "options": {}, "steps": executed}
    env = {**os.environ, "BALROG_GAME_DATA_DIR": str(data_dir), "BALROG_TEXTWORLD_POOL_SIZE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "games.replaycheck"],
        input=json.dumps(log),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    replayed = json.loads(done.stdout)
    assert replayed["reset"] == reset
    assert replayed["digests"] == digests
    assert replayed["progression"] == progression
    assert replayed["end_reason"] == "won"
