"""Baba Is AI on the reference protocol: baba@ad466e0's levels and rules, BALROG's texts."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from games.babaisai.reference import RESTART_NOTICE, ReferenceBabaIsAIAdapter, level_text, log_options
from games.babaisai.reference_levels import Builder, generate
from games.babaisai.reference_world import World, make_object, make_word
from games.base import EndReason
from games.registry import PROTOCOL_BALROG, make_adapter
from reference.golden import mask
from reference.logs import read_submission
from reference.prompts import default_action, valid_actions

SHARED = Path(settings.BASE_DIR).parent / "shared" / "data"
LOGS = SHARED / "balrog_reference_logs"
GOTO = "env/goto_win"
TWO_ROOM = "env/two_room-break_stop-goto_win"


def reference(task: str = GOTO) -> ReferenceBabaIsAIAdapter:
    adapter = make_adapter("babaisai", task, {"protocol": PROTOCOL_BALROG})
    assert isinstance(adapter, ReferenceBabaIsAIAdapter)
    return adapter


# ----- hand-built worlds -----------------------------------------------------------
def room(*rules: tuple[str, str, int, int]) -> Builder:
    """An empty 8x8 room with horizontal rules ``(subject, target, x, y)``."""
    builder = Builder(8, 8, np.random.RandomState(0))
    for subject, target, x, y in rules:
        builder.put_rule(subject, target, x, y)
    return builder


def play_on(world: World, task: str = GOTO) -> ReferenceBabaIsAIAdapter:
    """An adapter whose current level is ``world`` (its later levels come from seed 3)."""
    game = reference(task)
    game.reset(3)
    world.start()
    game.world = world
    text = level_text(world)
    assert text is not None
    game._text = text
    return game


def test_it_writes_rules_and_offsets_as_balrogs_wrapper() -> None:
    builder = room(("baba", "you", 1, 6), ("key", "win", 1, 1))
    builder.world.put(4, 3, make_object("baba"))
    builder.world.put(2, 5, make_object("fkey", "red"))
    builder.world.put(6, 3, make_object("fball", "blue"))
    game = play_on(builder.world)
    assert game.observation().long_term == (
        "Active rules:\nkey is win\nbaba is you\n\nObjects on the map:\n"
        "rule `key` 3 step to the left and 2 step up\n"
        "rule `is` 2 step to the left and 2 step up\n"
        "rule `win` 1 step to the left and 2 step up\n"
        "ball 2 steps to the right\n"
        "key 2 step to the left and 2 steps down\n"
        "rule `baba` 3 step to the left and 3 steps down\n"
        "rule `is` 2 step to the left and 3 steps down\n"
        "rule `you` 1 step to the left and 3 steps down"
    )
    assert game.observation().short_term == ""


def test_it_wins_with_the_references_reward_and_ends() -> None:
    builder = room(("baba", "you", 1, 6), ("key", "win", 1, 1))
    builder.world.put(3, 3, make_object("baba"))
    builder.world.put(5, 3, make_object("fkey"))
    game = play_on(builder.world)
    assert game.step("right").reward == 0.0
    result = game.step("right")
    assert result.reward == pytest.approx(1 - 0.9 * 2 / 100)
    assert (result.done, result.end_reason, result.progression) == (True, EndReason.WON, 1.0)


def test_it_reads_the_win_from_the_rules_before_the_move() -> None:
    # A "key" tile lies on a key; baba pushes it up into "key is win" and lands on the key:
    # the package tested the landing cell under the rules from before the move.
    builder = room(("baba", "you", 1, 6))
    builder.world.put(3, 1, make_word("is"))
    builder.world.put(4, 1, make_word("win"))
    builder.world.put(2, 2, make_object("fkey"))
    builder.world.put(2, 2, make_word("key"))
    builder.world.put(2, 3, make_object("baba"))
    game = play_on(builder.world)
    result = game.step("up")
    assert not result.done and "key is win" in game.observation().long_term
    game.step("down")
    assert game.step("up").end_reason == EndReason.WON


def test_it_stacks_the_new_object_of_a_noun_is_noun_rule_on_the_old() -> None:
    builder = room(("baba", "you", 1, 6), ("key", "ball", 1, 1))
    builder.world.put(4, 4, make_object("baba"))
    builder.world.put(5, 2, make_object("fkey", "red"))
    game = play_on(builder.world)
    game.step("left")
    kinds = [(thing.kind, thing.colour) for thing in game.world.cells[2 * 8 + 5]]
    assert kinds == [("fkey", "red"), ("fball", "green")]
    assert "key is ball" not in game.observation().long_term  # BALROG lists property rules only


def test_it_resets_to_a_new_level_when_is_you_breaks() -> None:
    builder = room(("baba", "you", 2, 2), ("key", "win", 2, 5))
    builder.world.put(2, 3, make_object("baba"))
    game = play_on(builder.world)
    game.step("up")  # pushes "baba" out of "baba is you"
    text = game.observation().long_term
    assert text.startswith(f"{RESTART_NOTICE}Active rules:\nkey is win\n\nObjects on the map:\ndefaultdict(<function ")
    nested = level_text(game.world)
    assert nested is not None and repr(nested) in text
    assert re.search(r"'image': <PIL\.Image\.Image image mode=RGB size=256x256 at 0x[0-9A-F]+>\}\)\Z", text)
    assert (game.done, game.frame()["layout"], game.frame()["notice"]) == (False, 2, RESTART_NOTICE)
    game.step("idle")
    assert not game.observation().long_term.startswith(RESTART_NOTICE)


def test_it_ends_a_win_that_broke_is_you_with_progression_zero() -> None:
    # The win move pushes "baba" out of "baba is you": the wrapper's reset zeroes its progression.
    builder = room(("key", "win", 2, 5))
    builder.world.put(2, 2, make_object("fkey"))
    builder.put_rule("baba", "you", 2, 2)
    builder.world.put(2, 3, make_object("baba"))
    game = play_on(builder.world)
    result = game.step("up")
    assert result.reward > 0 and result.done and result.progression == 0.0
    assert game.observation().long_term.startswith(RESTART_NOTICE)


def test_it_ends_at_the_hundredth_step() -> None:
    game = reference()
    game.reset(5)
    for _ in range(99):
        assert not game.step("idle").done
    result = game.step("idle")
    assert (result.done, result.end_reason, result.progression) == (True, EndReason.STEP_CAP, 0.0)


# ----- levels -----------------------------------------------------------------------------
def test_it_draws_from_its_own_stream_and_leaves_numpys_global_alone() -> None:
    np.random.seed(7)
    game = reference(TWO_ROOM)
    game.reset(7)
    assert np.random.random_sample() == np.random.RandomState(7).random_sample()  # the global stream is untouched
    assert game.world.encode() == generate(TWO_ROOM, np.random.RandomState(7)).encode()


def test_it_builds_the_two_room_layout() -> None:
    world = generate(TWO_ROOM, np.random.RandomState(1))
    assert (world.width, world.height) == (13, 9)
    assert [world.top(6, y).kind for y in range(1, 8)] == ["fwall"] * 7  # type: ignore[union-attr]
    first, *rest = world.rules_text().splitlines()
    assert first.endswith(" is win") and rest == ["wall is stop", "baba is you"]


def test_it_renders_the_full_grid_at_32_pixels_a_cell() -> None:
    for task, size in ((GOTO, (256, 256)), (TWO_ROOM, (416, 288))):
        game = reference(task)
        game.reset(2)
        assert Image.open(io.BytesIO(game.render_png())).size == size


def test_it_accepts_exactly_the_references_actions() -> None:
    game = reference()
    assert game.action_space() == valid_actions("babaisai", GOTO)
    assert game.default_action == default_action("babaisai")
    assert not game.is_valid("Up") and not game.is_valid("move up")


def test_it_replays_recorded_raw_actions_to_the_same_state() -> None:
    game, twin = reference(TWO_ROOM), reference(TWO_ROOM)
    game.reset(4)
    twin.reset(4)
    for action in ["up", "up", "left", "down", "right", "right", "idle", "up"]:
        twin.replay(game.step(action).executed)
        assert twin.digest() == game.digest()
        assert twin.observation() == game.observation()


def test_it_needs_no_options_to_replay_a_log() -> None:
    assert log_options(GOTO, 1, [], datetime.date(2024, 10, 30)) == {}


# ----- against the reference's own outputs (the golden cases: tests/reference) ----------
def logged_episodes(archive: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, str]]]]:
    for logged in read_submission(archive):
        if logged.env == "babaisai":
            yield logged.summary, logged.rows


@pytest.mark.skipif(not LOGS.exists(), reason="needs ../shared/data")
@pytest.mark.parametrize("submission", ["20241030_naive-Llama-3.2-3B-Instruct", "20241115_naive-Qwen2.5-7B-it"])
def test_it_replays_a_2024_submission_exactly(submission: str) -> None:
    # The 2024 evaluator logged the executed action and wrote no invalid-action line.
    submitted = datetime.datetime.strptime(submission[:8], "%Y%m%d").date()
    episodes = 0
    for summary, rows in logged_episodes(LOGS / f"{submission}.tar.xz"):
        assert log_options(summary["task"], summary["seed"], [], submitted) == {}
        game = reference(summary["task"])
        game.reset(summary["seed"])
        ours = []
        for row in rows:
            game.step(row["Action"])
            ours.append(mask(game.observation().long_term))
        assert ours == [mask(row["Observation"]) for row in rows], summary["task"]
        # The env says done on a win or at its own 100th step (counted from the last level's start).
        env_done = game.end_reason == EndReason.WON or game.world.step_count >= 100
        assert (game.progression, game.steps, env_done) == (
            summary["progression"],
            summary["num_steps"],
            summary.get("done", False),
        )
        assert game.episode_return == pytest.approx(summary["episode_return"])
        episodes += 1
    assert episodes == 120
