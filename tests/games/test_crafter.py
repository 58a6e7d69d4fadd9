"""The Crafter adapter, played for real.

Scripted play uses the two small bots of tests/support/crafter_bots.py:
``Bot`` gathers and crafts; ``Survivor`` lives long enough to reach the
2,000-step cap.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from crafter import constants

from games.base import EndReason, InvalidTask
from games.crafter import NOISE_BACKEND
from games.crafter.adapter import TEXTURE_FILES, CrafterAdapter
from games.crafter.describe import offset_phrase
from games.crafter.engine import ASSETS_DIR, MAP_VIEW, TEXTURE_ID, TEXTURES
from games.progression import CRAFTER_ACHIEVEMENT_COUNT
from tests.support.crafter_bots import MOVES, SURVIVAL_SEED, TABLE_WOOD, Bot, Survivor, new_adapter, survival_opening

REPO_ROOT = Path(__file__).resolve().parents[2]
BALROG_ACTIONS = [
    "Noop",
    "Move West",
    "Move East",
    "Move North",
    "Move South",
    "Do",
    "Sleep",
    "Place Stone",
    "Place Table",
    "Place Furnace",
    "Place Plant",
    "Make Wood Pickaxe",
    "Make Stone Pickaxe",
    "Make Iron Pickaxe",
    "Make Wood Sword",
    "Make Stone Sword",
    "Make Iron Sword",
]
FURNACE_STONE = constants.place["furnace"]["uses"]["stone"]
SCRIPTED_SEED = 4  # trees, water, cows, stone, coal and iron close to the start
# ----- helpers ------------------------------------------------------------------
class Recorder:
    """Steps an adapter and keeps what a log stores: executed raw actions and digests."""

    def __init__(self, adapter: CrafterAdapter) -> None:
        self.adapter = adapter
        self.executed: list[list[int | str]] = []
        self.digests = [adapter.digest()]
        self.progression: list[float] = []
        self._step = adapter.step
        adapter.step = self.step  # type: ignore[method-assign]

    def step(self, action: str):
        result = self._step(action)
        self.executed.append(list(result.executed))
        self.digests.append(self.adapter.digest())
        self.progression.append(result.progression)
        return result

    def log(self) -> dict:
        return {"env": "crafter", "task": "default", "seed": self.adapter.seed, "steps": self.executed}


def replay_in_new_process(log: dict, **env: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "games.replaycheck"],
        input=json.dumps(log),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=True,
    )
    result: dict = json.loads(completed.stdout)
    return result


def random_episode(seed: int) -> Recorder:
    adapter = new_adapter(seed)
    recorder = Recorder(adapter)
    rng = random.Random(seed)
    while not adapter.done:
        adapter.step(rng.choice(BALROG_ACTIONS))
    return recorder


@pytest.fixture(scope="module")
def survival_episode() -> Recorder:
    adapter = new_adapter(SURVIVAL_SEED)
    recorder = Recorder(adapter)
    survival_opening(adapter)
    survivor = Survivor(adapter)
    while not adapter.done:
        adapter.step(survivor.action())
    return recorder


# ----- catalogue ----------------------------------------------------------------
def test_it_offers_balrogs_one_task_and_17_actions() -> None:
    (task,) = CrafterAdapter.tasks()
    assert (task.env, task.task, task.step_cap, task.episodes_per_task) == ("crafter", "default", 2000, 10)
    adapter = CrafterAdapter("default")
    assert adapter.action_space() == BALROG_ACTIONS
    assert CrafterAdapter.default_action == "Noop"
    assert CrafterAdapter.engine_version() == "crafter-1.8.3+adapter-1"
    with pytest.raises(InvalidTask):
        CrafterAdapter("survival")


def test_it_binds_wasd_and_a_key_to_every_action() -> None:
    bindings = {binding.key: binding.action for binding in CrafterAdapter.key_bindings()}
    assert (bindings["w"], bindings["a"], bindings["s"], bindings["d"]) == (
        "Move North",
        "Move West",
        "Move South",
        "Move East",
    )
    assert (bindings[" "], bindings["Tab"], bindings["n"]) == ("Do", "Sleep", "Noop")
    assert set(bindings.values()) == set(BALROG_ACTIONS)
    assert all(binding.label for binding in CrafterAdapter.key_bindings())


def test_it_describes_the_rules_for_a_model() -> None:
    text = CrafterAdapter("default").instructions()
    assert all(f"- {action}:" in text for action in BALROG_ACTIONS)
    assert "place table" in text and "collect diamond" in text and "2000 steps" in text
    assert f"uses {TABLE_WOOD} wood" in text


# ----- play -----------------------------------------------------------------------
def test_it_counts_scripted_achievements_out_of_22() -> None:
    adapter = new_adapter(SCRIPTED_SEED)
    bot = Bot(adapter)

    def unlocked() -> set[str]:
        return set(adapter.hud()["achievements"])

    def expect(*names: str) -> None:
        assert set(names) <= unlocked()
        assert adapter.progression == len(unlocked()) / CRAFTER_ACHIEVEMENT_COUNT
        assert adapter.hud()["achievements_unlocked"] == len(unlocked())

    assert bot.work(bot.material("tree"), lambda: bot.count("wood") >= TABLE_WOOD + 5)
    expect("collect_wood")
    assert adapter.progression == 1 / 22
    assert bot.face_free()
    adapter.step("Place Table")
    expect("place_table")
    assert adapter.progression == 2 / 22
    adapter.step("Make Wood Pickaxe")
    adapter.step("Make Wood Sword")
    expect("make_wood_pickaxe", "make_wood_sword")
    assert adapter.progression == 4 / 22
    assert bot.work(bot.material("water"), lambda: "collect_drink" in unlocked())
    assert bot.work(bot.creature("Cow"), lambda: "eat_cow" in unlocked())
    assert bot.work(bot.material("grass"), lambda: bot.count("sapling") > 0)
    assert bot.face_free(("grass",))
    adapter.step("Place Plant")
    expect("collect_drink", "eat_cow", "collect_sapling", "place_plant")
    assert adapter.progression == 8 / 22
    assert bot.work(bot.material("stone"), lambda: bot.count("stone") >= FURNACE_STONE + 3)
    assert bot.face_free(("grass", "sand", "path", "water", "lava"))
    adapter.step("Place Stone")
    expect("collect_stone", "place_stone")
    assert bot.work(bot.material("table"), lambda: bot.toward(bot.material("table")) == "Do")
    adapter.step("Make Stone Pickaxe")
    adapter.step("Make Stone Sword")
    assert bot.face_free()
    adapter.step("Place Furnace")
    expect("make_stone_pickaxe", "make_stone_sword", "place_furnace")
    assert bot.work(bot.material("coal"), lambda: bot.count("coal") >= 1)
    assert bot.work(bot.material("iron"), lambda: bot.count("iron") >= 1)
    expect("collect_coal", "collect_iron")
    assert adapter.progression == 15 / 22
    assert not adapter.done and adapter.steps < 200


def test_it_executes_noop_for_an_invalid_answer() -> None:
    adapter = new_adapter(3)
    result = adapter.step("chop the tree please")
    assert (result.valid, result.action, result.executed) == (False, "Noop", [0])
    assert adapter.steps == 1 and not adapter.done


def test_it_rejects_a_raw_action_outside_crafters_17() -> None:
    adapter = new_adapter(3)
    with pytest.raises(ValueError):
        adapter.replay([17])


def test_it_names_the_closest_tree_and_what_the_player_faces() -> None:
    adapter = new_adapter(SCRIPTED_SEED)
    bot = Bot(adapter)
    x, y = bot.pos()
    width, height = MAP_VIEW
    trees = [
        (abs(dx) + abs(dy), dy, dx)
        for dx in range(-(width // 2), width // 2 + 1)
        for dy in range(-(height // 2), height // 2 + 1)
        if bot.cell(x + dx, y + dy)[0] == "tree"
    ]
    assert trees, "the scripted seed starts with a tree in view"
    _, dy, dx = min(trees)
    observation = adapter.observation()
    assert f"- tree {offset_phrase(dx, dy)}" in observation.long_term
    fx, fy = bot.facing()
    in_front = bot.cell(x + fx, y + fy)[0]
    assert f"in front of you: {in_front}." in observation.long_term
    assert observation.short_term == "Status: health 9/9, food 9/9, drink 9/9, energy 9/9.\nInventory: empty."
    bot.work(bot.material("tree"), lambda: bot.count("wood") >= 2)
    assert "Inventory: wood 2." in adapter.observation().short_term


def test_it_lists_creatures_with_their_offsets() -> None:
    adapter = new_adapter(SCRIPTED_SEED)
    bot = Bot(adapter)
    for _ in range(60):
        x, y = bot.pos()
        cows = [
            (int(obj.pos[0]) - x, int(obj.pos[1]) - y)
            for obj in bot.world.objects
            if type(obj).__name__ == "Cow" and abs(obj.pos[0] - x) <= 4 and abs(obj.pos[1] - y) <= 3
        ]
        if cows:
            break
        adapter.step(bot.toward(bot.creature("Cow")) or "Noop")
    assert cows, "a cow comes into view"
    text = adapter.observation().long_term
    assert all(f"- cow {offset_phrase(dx, dy)}" in text for dx, dy in cows)


def test_it_frames_the_map_window_with_crafter_textures() -> None:
    adapter = new_adapter(SCRIPTED_SEED)
    bot = Bot(adapter)
    frame = adapter.frame()
    json.dumps(frame)
    width, height = MAP_VIEW
    assert frame["view"] == [9, 7] and len(frame["materials"]) == len(frame["objects"]) == width * height
    assert frame["textures"] == TEXTURE_FILES and all((ASSETS_DIR / name).is_file() for name in TEXTURE_FILES)
    x, y = bot.pos()
    center = (height // 2) * width + width // 2
    assert TEXTURES[frame["objects"][center]] == "player-down" and frame["player"]["facing"] == "south"
    for row in range(height):
        for col in range(width):
            material = bot.cell(x + col - width // 2, y + row - height // 2)[0]
            assert TEXTURES[frame["materials"][row * width + col]] == material
    assert frame["vitals"] == {"health": 9, "food": 9, "drink": 9, "energy": 9}
    assert frame["items"][0] == [TEXTURE_ID["health"], 9] and len(frame["items"]) == 16
    assert (frame["player"]["x"], frame["player"]["y"]) == (32, 32)


def test_it_renders_a_png_without_disturbing_the_game() -> None:
    # From step ~148 it is night, and crafter's renderer draws noise, which
    # stock crafter takes from the world's RNG.
    drawn, plain = new_adapter(13), new_adapter(13)
    night_renders = 0
    for step in range(200):
        drawn.step("Noop")
        plain.step("Noop")
        if step >= 150 and step % 5 == 0:
            png = drawn.render_png()
            assert png.startswith(b"\x89PNG") and png == drawn.render_png()
            night_renders += drawn.frame()["daylight"] < 0.5
        assert drawn.digest() == plain.digest()
    assert night_renders >= 5


def test_it_reports_a_death_and_its_cause() -> None:
    recorder = random_episode(1)
    adapter = recorder.adapter
    assert adapter.end_reason == EndReason.DIED
    assert adapter.end_detail == "killed by a zombie"
    assert adapter.hud()["health"] == 0 and "You died." in adapter.observation().long_term


def test_it_reports_a_walk_into_lava() -> None:
    adapter = new_adapter(7)
    bot = Bot(adapter)
    for _ in range(30):
        action = bot.toward(bot.material("lava"))
        assert action is not None
        # Lava is open ground to the player: turning toward it already walks in.
        adapter.step(MOVES[bot.facing()] if action == "Do" else action)
        if adapter.done:
            break
    assert (adapter.end_reason, adapter.end_detail) == (EndReason.DIED, "walked into lava")
    assert adapter.steps < 30


def test_it_starts_a_new_episode_on_the_same_adapter_like_a_fresh_one() -> None:
    reused = random_episode(2).adapter
    facts = reused.reset(5)
    fresh = CrafterAdapter("default")
    assert fresh.reset(5) == facts
    assert facts["world_seed"] == hash((5, 1)) % (2**31 - 1)  # crafter.Env(seed=5)'s world
    for action in ["Move West", "Do", "Move North", "Do", "Sleep", "Noop"] * 5:
        reused.step(action)
        fresh.step(action)
        assert reused.digest() == fresh.digest()


# ----- determinism and the step cap ---------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 7])
def test_it_replays_a_random_episode_identically_in_a_new_process(seed: int) -> None:
    recorder = random_episode(seed)
    replayed = replay_in_new_process(recorder.log())
    assert replayed["digests"] == recorder.digests
    assert replayed["progression"] == recorder.progression
    assert replayed["end_reason"] == "died"


@pytest.mark.slow
def test_it_ends_a_long_survival_at_the_step_cap(survival_episode: Recorder) -> None:
    adapter = survival_episode.adapter
    assert (adapter.steps, adapter.end_reason, adapter.done) == (2000, EndReason.STEP_CAP, True)
    assert adapter.hud()["health"] > 0
    assert {"place_stone", "defeat_zombie", "wake_up"} <= set(adapter.hud()["achievements"])


@pytest.mark.slow
def test_it_replays_2000_steps_identically_in_a_new_process(survival_episode: Recorder) -> None:
    replayed = replay_in_new_process(survival_episode.log())
    assert len(replayed["digests"]) == 2001
    assert replayed["digests"] == survival_episode.digests
    assert replayed["progression"] == survival_episode.progression
    assert replayed["end_reason"] == "step_cap"


@pytest.mark.slow
def test_it_generates_the_same_worlds_without_numba() -> None:
    pytest.importorskip("numba")
    assert NOISE_BACKEND == "numba"
    seeds = [0, 1, 2]
    script = (
        "import json; from games.crafter import NOISE_BACKEND; from games.crafter.adapter import CrafterAdapter\n"
        "adapter = CrafterAdapter('default')\n"
        f"print(json.dumps([NOISE_BACKEND] + [adapter.reset(seed) for seed in {seeds}]))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "BALROG_CRAFTER_NUMBA": "0"},
        check=True,
    )
    backend, *facts = json.loads(completed.stdout)
    assert backend == "python"
    adapter = CrafterAdapter("default")
    assert facts == [adapter.reset(seed) for seed in seeds]
