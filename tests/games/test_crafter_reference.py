"""Crafter on the reference protocol: BALROG's texts, worlds and random stream."""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crafter
import numpy as np
import pytest
from django.conf import settings

from games.base import GameAdapter
from games.crafter.adapter import CrafterAdapter
from games.crafter.engine import ReproducibleCrafter
from games.crafter.refdescribe import long_term, place_phrase, short_term
from games.crafter.reference import (
    LOGS_FORMAT_ONLY,
    ReferenceCrafter,
    ReferenceCrafterAdapter,
    log_format_ok,
    log_options,
)
from games.registry import PROTOCOL_BALROG, make_adapter
from reference.logs import read_submission
from reference.prompts import feedback_prefix, instruction, valid_actions

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
LOGS = SHARED_DATA / "balrog_reference_logs"
DUSK = 148  # crafter renders noise from this step on (daylight < 0.5, until step 272)
STEPS_INTO_NIGHT = DUSK + 20
ACTION_NAMES = ReferenceCrafterAdapter.actions

def reference_adapter(**options: Any) -> GameAdapter:
    return make_adapter("crafter", "default", {"protocol": PROTOCOL_BALROG, **options})


@pytest.fixture
def adapter() -> Iterator[GameAdapter]:
    game = reference_adapter()
    game.reset(11)
    yield game
    game.close()


# ----- the golden cases and the logs --------------------------------------------------------
def logged_crafter_observations(archive: Path) -> list[str]:
    return [text for logged in read_submission(archive) if logged.env == "crafter" for text in logged.observations]


@pytest.mark.parametrize("submission", ["20241030_naive-Llama-3.2-3B-Instruct", "20241115_naive-Qwen2.5-7B-it"])
def test_it_finds_every_logged_observation_in_the_reference_format(submission: str) -> None:
    archive = LOGS / f"{submission}.tar.xz"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    texts = logged_crafter_observations(archive)
    assert len(texts) > 1000
    assert [text for text in texts if not log_format_ok(text)] == []


def test_it_checks_logs_for_format_only_with_default_options() -> None:
    assert LOGS_FORMAT_ONLY
    options = log_options("default", 3, ["You see nothing away from you."], datetime.date(2024, 11, 1))
    assert options == {"crafter_world_seed": None}


# ----- the format check ----------------------------------------------------------------------
def test_it_accepts_the_reference_texts_and_refuses_others() -> None:
    game = reference_adapter()
    balrogweb = CrafterAdapter("default")
    try:
        game.reset(4)
        balrogweb.reset(4)
        assert log_format_ok(game.observation().long_term)
        assert log_format_ok(feedback_prefix("Noop") + game.observation().long_term)
        assert not log_format_ok(balrogweb.observation().long_term)
        assert not log_format_ok(game.observation().long_term + "\n")
    finally:
        game.close()
        balrogweb.close()
    old_form = (  # the 2024 reference: "1 steps", its own invalid-action line
        "\n\nYour previous output action: 'Collect Wood' is not a valid action. Defaulted to action: Noop\n"
        "You see:\n- grass 1 steps to your west\n- cow 5 steps to your south-east\n\nYou face grass at your front."
    )
    assert log_format_ok(old_form)
    assert not log_format_ok(old_form.replace("- cow", "- grass"))  # a kind is listed once
    assert not log_format_ok(old_form.replace("south-east", "south-south"))


# ----- the texts ---------------------------------------------------------------------------
def test_it_words_places_like_the_reference() -> None:
    assert place_phrase(-3, -4) == "7 steps to your north-west"
    assert place_phrase(1, 0) == "1 step to your east"
    assert place_phrase(0, 2) == "2 steps to your south"
    assert place_phrase(0, 0) == "0 step to your "


def test_it_sees_nothing_when_the_reference_slice_wraps_at_the_world_edge() -> None:
    # A player 2 cells from the west edge: the slice starts at -2, which wraps to an empty one.
    semantic = np.full((64, 64), 2)
    semantic[2, 30] = 13
    text = long_term(semantic, (2, 30), (1, 0), sleeping=False, dead=False)
    assert text == "You see nothing away from you.\n\nYou face nothing at your front."


def test_it_puts_a_sleeping_line_four_newlines_above_the_sightings() -> None:
    semantic = np.full((64, 64), 2)
    semantic[30, 30] = 13
    semantic[31, 29] = 6
    text = long_term(semantic, (30, 30), (0, 1), sleeping=True, dead=False)
    assert text == (
        "You are sleeping, and will not be able take actions until energy is full.\n\n\n\n"
        "You see:\n- grass 1 step to your west\n- tree 2 steps to your north-east\n\nYou face grass at your front."
    )


def test_it_lists_vitals_and_held_items_by_crafters_names() -> None:
    inventory = {name: 0 for name in crafter.constants.items}
    inventory.update(health=9, food=7, drink=8, energy=9, wood=2, wood_pickaxe=1)
    assert short_term(inventory) == (
        "Your status:\n- health: 9/9\n- food: 7/9\n- drink: 8/9\n- energy: 9/9\n\n"
        "Your inventory:\n- wood: 2\n- wood_pickaxe: 1"
    )


# ----- actions, options, worlds -------------------------------------------------------------
def test_it_accepts_the_reference_actions_only(adapter: GameAdapter) -> None:
    assert adapter.action_space() == valid_actions("crafter", "default")
    assert not adapter.is_valid("noop") and not adapter.is_valid("Noop ")
    assert adapter.instructions() == instruction("crafter", "default")


def test_it_pins_the_world_seed_option() -> None:
    game = reference_adapter()
    assert game.options["crafter_world_seed"] is None
    with pytest.raises(ValueError):
        reference_adapter(crafter_world_seed="7")


def test_it_plays_the_world_of_the_world_seed_whatever_the_episode_seed() -> None:
    chosen, by_seed, balrogweb = reference_adapter(crafter_world_seed=5), reference_adapter(), CrafterAdapter("default")
    try:
        facts = chosen.reset(123)
        assert facts["crafter_world_seed"] == 5
        by_seed.reset(5)
        balrogweb.reset(5)
        assert chosen.observation() == by_seed.observation()
        assert facts["world_digest"] == balrogweb.reset(5)["world_digest"]
    finally:
        for game in (chosen, by_seed, balrogweb):
            game.close()


def test_it_replays_recorded_raw_actions_to_the_same_states() -> None:
    rng = random.Random(3)
    live, replayed = reference_adapter(), reference_adapter()
    try:
        live.reset(2)
        replayed.reset(2)
        for _ in range(STEPS_INTO_NIGHT):
            result = live.step(rng.choice(ACTION_NAMES))
            replayed.replay(result.executed, result.action)
            if live.done:
                break
        assert live.digest() == replayed.digest()
        assert live.observation() == replayed.observation()
    finally:
        live.close()
        replayed.close()


# ----- the random stream: what the reference's renders take from it ---------------------------
class SortedStockCrafter(crafter.Env):
    """Stock crafter as BALROG builds it, rendering every step, with only the
    balancing order made canonical (the one thing the reference leaves to
    memory addresses)."""

    def _balance_chunk(self, chunk: Any, objs: Any) -> None:
        super()._balance_chunk(chunk, sorted(objs, key=lambda obj: (int(obj.pos[0]), int(obj.pos[1]))))


def _rng_state(game: Any) -> tuple[Any, ...]:
    _, keys, position, *_ = game._world.random.get_state()
    return keys.tobytes(), int(position)


def test_it_draws_from_the_worlds_generator_as_the_references_renders_do() -> None:
    seed = 6
    stock = SortedStockCrafter(area=(64, 64), view=(9, 9), size=(256, 256), reward=True, seed=seed)
    ours = ReferenceCrafter()
    stock.reset()
    ours.reset_world(seed)
    rng = random.Random(0)
    actions = [0] + [rng.choice((0, 1, 2, 3, 4, 5)) for _ in range(STEPS_INTO_NIGHT)]
    image = stock.render()
    for action in actions:
        stock.step(action)
        image = stock.render()  # the wrapper's VLM image
        ours.step(action)
        assert _rng_state(ours) == _rng_state(stock)
        assert (ours.semantic_map() == stock._sem_view()).all()
    assert stock._world.daylight < 0.5
    assert (ours.render() == image).all()  # the night image, noise included


def test_it_differs_from_the_balrogweb_engine_only_after_dusk() -> None:
    ours, balrogweb = ReferenceCrafter(), ReproducibleCrafter()
    ours.reset_world(6)
    balrogweb.reset_world(6)
    for step in range(1, STEPS_INTO_NIGHT + 1):
        ours.step(0)
        balrogweb.step(0)
        same = _rng_state(ours) == _rng_state(balrogweb)
        assert same == (step < DUSK), step


def test_it_writes_json_options_for_replays() -> None:
    game = reference_adapter(crafter_world_seed=9)
    assert json.loads(json.dumps(game.options)) == {"protocol": PROTOCOL_BALROG, "crafter_world_seed": 9}
    assert isinstance(game, ReferenceCrafterAdapter)
