"""TextWorld on the reference protocol: BALROG's own games, texts and episode ends."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from games.base import EndReason
from games.registry import PROTOCOL_BALROG, make_adapter
from games.textworld import tw_games
from games.textworld.reference import GAME_INDEX_OPTION, ReferenceTextWorldAdapter, log_options
from reference.logs import read_submission

SHARED = Path(settings.BASE_DIR).parent / "shared" / "data"
LOGS = SHARED / "balrog_reference_logs"
TASKS = ("treasure_hunter", "the_cooking_game", "coin_collector")


def reference(task: str = "coin_collector", **options: Any) -> ReferenceTextWorldAdapter:
    adapter = make_adapter("textworld", task, {"protocol": PROTOCOL_BALROG, **options})
    assert isinstance(adapter, ReferenceTextWorldAdapter)
    return adapter


# ----- the games ---------------------------------------------------------------
def test_it_lists_25_games_per_task_in_the_references_sorted_order() -> None:
    for task in TASKS:
        names = tw_games.game_names(task)
        assert len(names) == 25 and list(names) == sorted(names)
    assert tw_games.game_names("coin_collector")[:2] == ("level_220_seed_100.ulx", "level_220_seed_1171.ulx")
    assert tw_games.game_names("the_cooking_game")[1] == "cooking_item5_seed_11996.z8"


def test_it_plays_the_game_seed_mod_25_by_default_and_records_it() -> None:
    game = reference("treasure_hunter")
    facts = game.reset(27)
    assert game.options[GAME_INDEX_OPTION] == 2 and facts["game_file"] == "seed_14115.ulx"
    pinned = reference("treasure_hunter", tw_game_index=0)
    assert pinned.reset(27)["game_file"] == "seed_10033.ulx"
    with pytest.raises(ValueError):
        reference("treasure_hunter", tw_game_index=25).reset(0)


def test_it_shows_the_opening_text_without_the_objective() -> None:
    game = reference("treasure_hunter", tw_game_index=0)
    game.reset(0)
    observation = game.observation()
    assert observation.long_term.startswith("-= Lounge =-\nWell, here we are in a lounge.")
    assert observation.short_term == "" and "objective" not in observation.long_term.lower()


def test_it_keeps_jerichos_status_bar_on_the_cooking_games_only() -> None:
    cooking = reference("the_cooking_game", tw_game_index=0)
    cooking.reset(0)
    cooking.step("look")
    assert cooking.observation().long_term.endswith("-= Livingroom =-0/2")
    coin = reference("coin_collector", tw_game_index=0)
    coin.reset(0)
    coin.step("look")
    assert coin.observation().long_term.endswith("You should try going west.")


def test_it_accepts_any_text_and_sends_it_unchanged() -> None:
    game = reference("coin_collector", tw_game_index=0)
    game.reset(0)
    assert game.is_valid("") and game.is_valid("dance wildly")
    result = game.step("goal\ngo north")  # one line to the reference's Glulx game
    assert (result.valid, result.executed) == (True, ["goal\ngo north"])
    assert game.observation().long_term == "That's not a verb I recognise."


def test_it_ends_after_80_steps_with_balrogs_progression() -> None:
    game = reference("coin_collector", tw_game_index=0)
    game.reset(0)
    for _ in range(79):
        assert not game.step("wait").done
    result = game.step("wait")
    assert result.done and result.end_reason == EndReason.STEP_CAP and result.progression == 0.0


def test_it_ends_a_lost_game_with_the_references_end_screen() -> None:
    game = reference("treasure_hunter", tw_game_index=2)
    game.reset(0)
    game.step("go east")
    game.step("go north")
    result = game.step("take spork")
    text = game.observation().long_term
    assert result.done and result.end_reason == EndReason.LOST
    assert "\n\n" + " " * 30 + "*** You lost! ***\n" in text and text.endswith("command?\n>")


def test_it_replays_recorded_raw_actions_to_the_same_digests() -> None:
    live = reference("the_cooking_game", tw_game_index=3)
    live.reset(5)
    steps = [live.step(answer) for answer in ("look", "open fridge", "go east", "inventory")]
    again = reference("the_cooking_game", **live.options)
    again.reset(5)
    for step in steps:
        assert again.replay(step.executed).progression == step.progression
    assert again.digest() == live.digest()


def test_it_makes_glulx_framing_from_jerichos_answers() -> None:
    answer = "You can't go that way.\n\n\n>" + " " * 128 + "-= Lounge =-0/4"
    assert tw_games.glulx_feedback(answer) == "You can't go that way.\n\n"
    assert tw_games.glulx_feedback("\nI beg your pardon?\n\n>" + " " * 128) == "\nI beg your pardon?\n"
    assert tw_games.glulx_command("goal\ngo north") == "goal_go north"


# ----- the reference's own texts ----------------------------------------------------
def logged_episodes(archive: Path, task: str) -> Iterator[tuple[dict[str, Any], list[dict[str, str]]]]:
    for logged in read_submission(archive):
        if (logged.env, logged.task) == ("textworld", task):
            yield logged.summary, logged.rows


@pytest.mark.skipif(not LOGS.exists(), reason="needs ../shared/data")
@pytest.mark.parametrize(
    ("submission", "task"),
    [("20241115_naive-Qwen2.5-7B-it", "the_cooking_game"), ("20241030_naive-Llama-3.2-3B-Instruct", "coin_collector")],
)
def test_it_replays_the_2024_logs_of_a_task(submission: str, task: str) -> None:
    submitted = datetime.date(int(submission[:4]), int(submission[4:6]), int(submission[6:8]))
    same = total = same_progression = episodes = 0
    for summary, rows in logged_episodes(LOGS / f"{submission}.tar.xz", task):
        observations = [row["Observation"] for row in rows]
        game = reference(task, **log_options(task, summary["seed"], observations, submitted))
        game.reset(summary["seed"])
        for row in rows:
            game.step(row["Action"])
            same += game.observation().long_term == row["Observation"]
            total += 1
        episodes += 1
        same_progression += game.done and game.progression == pytest.approx(summary["progression"])
    assert episodes == 10 and same >= 0.99 * total and same_progression == episodes
