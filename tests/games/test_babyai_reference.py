"""BabyAI on the reference protocol: the BALROG Minigrid fork's texts, image and worlds."""

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
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
from PIL import Image

from games.babyai.refdescribe import descriptions, long_term
from games.babyai.reference import FORK_NUM_DISTS, ReferenceBabyAIAdapter, log_options
from games.registry import PROTOCOL_BALROG, make_adapter
from reference.logs import read_submission
from reference.prompts import default_action, instruction, valid_actions

SHARED = Path(settings.BASE_DIR).parent / "shared" / "data"
LOGS = SHARED / "balrog_reference_logs"
GOTO = "BabyAI-MixedTrainLocal-v0/goto"
OPEN = "BabyAI-MixedTrainLocal-v0/open"
# The invalid-action line of the 2024 evaluator (its successor is reference.prompts.feedback_prefix).
FEEDBACK_2024 = re.compile(
    r"\A\n\nYour previous output action: '.*?' is not a valid action\. Defaulted to action: go forward\n", re.S
)


def reference(task: str = GOTO, **options: Any) -> ReferenceBabyAIAdapter:
    adapter = make_adapter("babyai", task, {"protocol": PROTOCOL_BALROG, **options})
    assert isinstance(adapter, ReferenceBabyAIAdapter)
    return adapter


# ----- the fork's descriptions --------------------------------------------------
def view(*cells: tuple[int, int, str, str, int]) -> np.ndarray:
    """A 7x7 encoded view, all empty, with ``(x, y, type, colour, state)`` cells."""
    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = OBJECT_TO_IDX["empty"]
    for x, y, kind, color, state in cells:
        image[x, y] = (OBJECT_TO_IDX[kind], COLOR_TO_IDX[color], state)
    return image


def test_it_reports_walls_ahead_left_and_right_first() -> None:
    image = view((3, 3, "wall", "grey", 0), (1, 6, "wall", "grey", 0), (4, 6, "wall", "grey", 0))
    assert long_term(image, None) == "a wall 3 steps forward\na wall 2 steps left\na wall 1 step right"


def test_it_reports_no_wall_behind_an_object_but_looks_past_unseen_cells() -> None:
    image = view((3, 4, "ball", "red", 0), (3, 2, "wall", "grey", 0), (2, 6, "wall", "grey", 0))
    image[1, 6] = 0  # unseen
    image[0, 6] = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
    assert long_term(image, None) == "a wall 1 step left\na red ball 2 steps forward"


def test_it_lists_objects_column_by_column_with_their_distances() -> None:
    image = view(
        (5, 6, "key", "blue", 0),
        (0, 2, "box", "yellow", 0),
        (0, 5, "ball", "green", 0),
        (3, 5, "door", "purple", 2),
        (4, 1, "door", "red", 0),
    )
    assert long_term(image, None).splitlines() == [
        "a yellow box 3 steps left and 4 steps forward",
        "a green ball 3 steps left and 1 step forward",
        "a locked purple door 1 step forward",
        "a open red door 1 step right and 5 steps forward",
        "a blue key 2 steps right",
    ]


def test_it_says_what_the_agent_carries_and_not_where() -> None:
    image = view((3, 6, "key", "yellow", 0))  # the fork draws the carried object on the agent
    assert descriptions(image, ("yellow", "key")) == ["You carry a yellow key"]
    assert long_term(image, ("yellow", "key")) == "You carry a yellow key"


# ----- the adapter ---------------------------------------------------------------
def test_it_pins_the_distractor_count_and_rejects_a_bad_one() -> None:
    assert reference().options["num_dists"] == 0
    with pytest.raises(ValueError):
        reference(num_dists=-1)
    crowded = reference(num_dists=FORK_NUM_DISTS)
    crowded.reset(3)
    assert crowded.reset(3)["num_dists"] == FORK_NUM_DISTS
    assert sum(obj is not None and obj.type != "wall" for obj in crowded.level.grid.grid) == FORK_NUM_DISTS + 1


def test_it_shows_the_agents_view_as_the_reference_image() -> None:
    game = reference(OPEN)
    game.reset(2)
    image = Image.open(io.BytesIO(game.render_png()))
    assert (image.size, image.mode) == ((112, 112), "RGB")
    expected = game.level.get_pov_render(tile_size=16)
    assert np.array_equal(np.asarray(image), expected)


def test_it_accepts_exactly_the_references_actions() -> None:
    game = reference()
    assert game.action_space() == valid_actions("babyai", GOTO)
    assert game.default_action == default_action("babyai")
    assert not game.is_valid("Go forward") and not game.is_valid("go forward ")


def test_it_gives_the_mission_and_no_short_term_text() -> None:
    game = reference()
    game.reset(5)
    assert game.mission() == game.level.mission
    assert game.instructions() == instruction("babyai", GOTO, game.level.mission)
    assert game.observation().short_term == ""
    assert "Mission" not in game.observation().long_term


def test_it_replays_recorded_raw_actions_to_the_same_texts() -> None:
    game, twin = reference(OPEN), reference(OPEN)
    game.reset(4)
    twin.reset(4)
    for answer in ("turn left", "go forward", "go forward", "pick up", "turn right", "toggle"):
        result = game.step(answer)
        twin.replay(result.executed, result.action, result.valid)
        assert (twin.observation(), twin.digest()) == (game.observation(), game.digest())


def test_it_plays_the_configured_count_after_balrogs_kwargs_fix() -> None:
    assert log_options(GOTO, 1, [], datetime.date(2025, 3, 1)) == {"num_dists": 0}


# ----- against the reference's own outputs -----------------------------------------
def logged_episodes(archive: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, str]]]]:
    for logged in read_submission(archive):
        if logged.env == "babyai":
            yield logged.summary, logged.rows


@pytest.mark.skipif(not LOGS.exists(), reason="needs ../shared/data")
@pytest.mark.parametrize("submission", ["20241030_naive-Llama-3.2-3B-Instruct", "20241115_naive-Qwen2.5-7B-it"])
def test_it_replays_a_2024_submission_exactly(submission: str) -> None:
    submitted = datetime.datetime.strptime(submission[:8], "%Y%m%d").date()
    episodes = 0
    for summary, rows in logged_episodes(LOGS / f"{submission}.tar.xz"):
        logged = [FEEDBACK_2024.sub("", row["Observation"]) for row in rows]
        game = reference(summary["task"], **log_options(summary["task"], summary["seed"], logged, submitted))
        game.reset(summary["seed"])
        ours = []
        for row in rows:
            game.step(row["Action"])
            ours.append(game.observation().long_term)
        assert ours == logged, summary["task"]
        assert (game.mission(), game.progression, game.steps, game.done) == (
            summary["mission"],
            summary["progression"],
            summary["num_steps"],
            summary["done"],
        )
        episodes += 1
    assert episodes == 50
