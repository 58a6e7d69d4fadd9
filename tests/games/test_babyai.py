"""BabyAI adapter: BALROG's five MixedTrainLocal families on upstream minigrid."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from games.babyai.adapter import ACTIONS, BabyAIAdapter
from games.babyai.bot import BabyAIBotPolicy
from games.base import AdapterStateError, EndReason, InvalidTask

REPO_ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("goto", "pickup", "open", "putnext", "pick_up_seq_go_to")
TASKS = [f"BabyAI-MixedTrainLocal-v0/{family}" for family in FAMILIES]
GOTO, PICKUP, OPEN, PUTNEXT, SEQ = TASKS


def play_with_bot(adapter: BabyAIAdapter, seed: int) -> None:
    adapter.reset(seed)
    bot = BabyAIBotPolicy(adapter)
    while not adapter.done:
        assert adapter.step(bot.next_action()).valid


def test_it_lists_balrogs_five_families_in_order() -> None:
    tasks = BabyAIAdapter.tasks()
    assert [t.task for t in tasks] == TASKS
    assert all(t.step_cap is None and t.episodes_per_task == 10 for t in tasks)
    with pytest.raises(InvalidTask):
        BabyAIAdapter("BabyAI-MixedTrainLocal-v0/swim")


def test_it_speaks_balrogs_actions_and_keys() -> None:
    adapter = BabyAIAdapter(GOTO)
    assert adapter.action_space() == ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"]
    assert adapter.default_action == "go forward"
    keys = {b.key: b.action for b in BabyAIAdapter.key_bindings()}
    assert keys == {
        "ArrowLeft": "turn left",
        "ArrowRight": "turn right",
        "ArrowUp": "go forward",
        " ": "pick up",
        "d": "drop",
        "t": "toggle",
    }


@pytest.mark.parametrize("task", TASKS)
def test_it_is_solved_by_the_babyai_bot(task: str) -> None:
    adapter = BabyAIAdapter(task)
    for seed in range(10):
        play_with_bot(adapter, seed)
        assert (adapter.progression, adapter.end_reason) == (1.0, EndReason.WON), seed
        assert 0 < adapter.episode_return < 1


@pytest.mark.parametrize("task", [OPEN, PUTNEXT])
def test_it_lets_the_bot_take_over_from_another_player(task: str) -> None:
    adapter = BabyAIAdapter(task)
    for seed in range(4):
        adapter.reset(seed)
        for action in ("turn right", "go forward", "go forward"):
            adapter.step(action)
        bot = BabyAIBotPolicy(adapter)
        for turn in range(200):
            if adapter.done:
                break
            # The bot is asked every turn; every fifth turn the player turns left instead.
            suggestion = bot.next_action()
            adapter.step("turn left" if turn % 5 == 4 else suggestion)
        assert adapter.end_reason == EndReason.WON, seed


def test_it_fixes_the_family_by_the_task_name() -> None:
    missions = {task: BabyAIAdapter(task).reset(5)["mission"] for task in TASKS}
    assert missions[GOTO].startswith("go to ")
    assert missions[PICKUP].startswith("pick up ")
    assert missions[OPEN].startswith("open ") and missions[OPEN].endswith("door")
    assert missions[PUTNEXT].startswith("put ") and " next to " in missions[PUTNEXT]
    assert ", then go to " in missions[SEQ] or " after you pick up " in missions[SEQ]


def test_it_uses_balrogs_room_sizes_and_step_limits() -> None:
    expected = {
        GOTO: ([8, 8], 64),
        PICKUP: ([8, 8], 64),
        OPEN: ([15, 8], 128),
        PUTNEXT: ([8, 8], 128),
        SEQ: ([8, 8], 128),
    }
    for task, (grid_size, max_steps) in expected.items():
        facts = BabyAIAdapter(task).reset(2)
        assert (facts["grid_size"], facts["max_steps"], facts["num_dists"]) == (grid_size, max_steps, 0)


def test_it_executes_go_forward_for_an_invalid_answer() -> None:
    adapter, reference = BabyAIAdapter(GOTO), BabyAIAdapter(GOTO)
    adapter.reset(1)
    reference.reset(1)
    result = adapter.step("jump over the wall")
    assert (result.valid, result.action, result.executed) == (False, "go forward", [ACTIONS.index("go forward")])
    reference.step("go forward")
    assert adapter.digest() == reference.digest()


def test_it_describes_a_known_layout_in_words_and_codes() -> None:
    adapter = BabyAIAdapter(OPEN)
    assert adapter.reset(3)["mission"] == "open the yellow door"
    text = adapter.observation().long_term
    assert text.splitlines() == [
        "Mission: open the yellow door",
        "You see:",
        "a wall 1 step right",
        "a locked yellow door 4 steps forward",
    ]
    frame = adapter.frame()
    assert (frame["width"], frame["height"], frame["agent"]) == (15, 8, {"x": 11, "y": 1, "dir": "west"})
    assert frame["grid"][1].split()[7] == "Dyl"  # the locked yellow door between the rooms
    assert frame["grid"][4].split()[13] == "Ky"  # its key, in the agent's room
    assert frame["view"][1][7:12] == "11111" and frame["view"][1][6] == "0"  # the door hides the far room
    assert frame["carrying"] is None and frame["mission"] == "open the yellow door"


def test_it_says_what_the_agent_carries() -> None:
    adapter = BabyAIAdapter(PICKUP)
    adapter.reset(0)
    assert "a green key 1 step right and 2 steps forward" in adapter.observation().long_term
    for action in ("turn right", "go forward", "turn left", "go forward"):
        adapter.step(action)
    assert "a green key 1 step forward" in adapter.observation().long_term
    result = adapter.step("pick up")
    assert result.end_reason == EndReason.WON
    assert "You are carrying a green key." in adapter.observation().long_term
    assert adapter.frame()["carrying"] == "green key"


def test_it_ends_at_the_envs_step_limit() -> None:
    adapter = BabyAIAdapter(GOTO)
    adapter.reset(4)
    while not adapter.done:
        adapter.step("turn left")  # objects never start next to the agent: never reaches one
    assert (adapter.steps, adapter.end_reason, adapter.progression) == (64, EndReason.STEP_CAP, 0.0)


def test_it_rebuilds_the_same_layout_from_a_seed_and_others_from_other_seeds() -> None:
    first, second = BabyAIAdapter(PUTNEXT), BabyAIAdapter(PUTNEXT)
    assert first.reset(7) == second.reset(7)
    assert (first.frame(), first.observation(), first.digest()) == (
        second.frame(),
        second.observation(),
        second.digest(),
    )
    layouts = set()
    for seed in range(8):
        first.reset(seed)
        layouts.add((first.level.mission, tuple(first.frame()["grid"]), first.digest()))
    assert len(layouts) == 8


def test_it_refuses_actions_out_of_order_or_out_of_range() -> None:
    adapter = BabyAIAdapter(GOTO)
    with pytest.raises(AdapterStateError):
        adapter.step("go forward")
    adapter.reset(0)
    with pytest.raises(ValueError):
        adapter.replay([6])


def test_it_renders_a_png_and_explains_the_game() -> None:
    adapter = BabyAIAdapter(SEQ)
    adapter.reset(0)
    assert adapter.render_png().startswith(b"\x89PNG\r\n\x1a\n")
    instructions = adapter.instructions()
    assert "pick up the green key, then go to the yellow key" in instructions
    assert all(action in instructions for action in ACTIONS)
    assert adapter.hud()["max_steps"] == 128


class Recording:
    """A live episode as the service records it: the reset facts, each step's
    executed raw actions, and the digest and progression after each step."""

    def __init__(self, task: str, seed: int) -> None:
        self.adapter = BabyAIAdapter(task)
        self.reset = self.adapter.reset(seed)
        self.digests = [self.adapter.digest()]
        self.steps: list[list[int | str]] = []
        self.progression: list[float] = []

    def step(self, action: str) -> None:
        result = self.adapter.step(action)
        self.steps.append(result.executed)
        self.digests.append(self.adapter.digest())
        self.progression.append(result.progression)

    def replay_elsewhere(self) -> dict[str, object]:
        adapter = self.adapter
        log: dict[str, object] = {
            "env": "babyai",
            "task": adapter.task,
            "seed": adapter.seed,
            "options": {},
            "steps": self.steps,
        }
        done = subprocess.run(
            [sys.executable, "-m", "games.replaycheck"],
            input=json.dumps(log),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=True,
            timeout=120,
        )
        replayed: dict[str, object] = json.loads(done.stdout)
        return replayed


@pytest.mark.slow
def test_it_replays_identically_in_a_fresh_process() -> None:
    won = Recording(OPEN, 12)
    bot = BabyAIBotPolicy(won.adapter)
    while not won.adapter.done:
        won.step(bot.next_action())
    capped = Recording(SEQ, 3)
    rng = random.Random(3)
    capped.step("pick up")
    while not capped.adapter.done:
        capped.step(rng.choice(["turn left", "turn right", "go forward", "drop", "toggle"]))
    assert won.adapter.end_reason == EndReason.WON and capped.adapter.end_reason == EndReason.STEP_CAP

    for recording in (won, capped):
        replayed = recording.replay_elsewhere()
        assert replayed["reset"] == recording.reset
        assert replayed["digests"] == recording.digests
        assert replayed["progression"] == recording.progression
        assert replayed["end_reason"] == recording.adapter.end_reason
