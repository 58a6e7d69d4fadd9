"""Baba Is AI: engine rules, level generators, and the adapter, by real play."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from games.babaisai import planner
from games.babaisai.adapter import BabaIsAIAdapter
from games.babaisai.describe import RESTART_NOTICE, observation_text
from games.babaisai.engine import (
    ACTIONS,
    CODE_TOKEN,
    DOWN,
    IDLE,
    LEFT,
    RIGHT,
    UP,
    Engine,
    token_code,
    word_code,
)
from games.babaisai.levels import STEP_CAP, TASK_FAMILIES, generate
from games.base import EndReason, InvalidTask

REPO_ROOT = Path(__file__).resolve().parents[2]

# balrog/config/config.yaml, tasks.babaisai_tasks, in its order.
BALROG_TASKS = [
    "env/make_win-distr_obj_rule",
    "env/goto_win-distr_obj_rule",
    "env/goto_win",
    "env/goto_win-distr_obj",
    "env/goto_win-distr_rule",
    "env/goto_win-distr_obj-irrelevant_rule",
    "env/make_win-distr_obj",
    "env/make_win-distr_rule",
    "env/make_win",
    "env/make_win-distr_obj-irrelevant_rule",
    "env/two_room-goto_win",
    "env/two_room-goto_win-distr_obj_rule",
    "env/two_room-goto_win-distr_rule",
    "env/two_room-goto_win-distr_obj",
    "env/two_room-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-goto_win-distr_win_rule",
    "env/two_room-break_stop-goto_win-distr_obj_rule",
    "env/two_room-break_stop-goto_win-distr_obj",
    "env/two_room-break_stop-goto_win-distr_rule",
    "env/two_room-break_stop-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-break_stop-goto_win",
    "env/two_room-maybe_break_stop-goto_win-distr_obj_rule",
    "env/two_room-maybe_break_stop-goto_win",
    "env/two_room-maybe_break_stop-goto_win-distr_obj",
    "env/two_room-maybe_break_stop-goto_win-distr_rule",
    "env/two_room-maybe_break_stop-goto_win-distr_obj-irrelevant_rule",
    "env/two_room-make_win-distr_obj_rule",
    "env/two_room-make_win-distr_rule",
    "env/two_room-make_win",
    "env/two_room-make_win-distr_obj-irrelevant_rule",
    "env/two_room-make_win-distr_obj",
    "env/two_room-make_win-distr_win_rule",
    "env/two_room-break_stop-make_win-distr_obj_rule",
    "env/two_room-break_stop-make_win-distr_rule",
    "env/two_room-break_stop-make_win",
    "env/two_room-break_stop-make_win-distr_obj-irrelevant_rule",
    "env/two_room-break_stop-make_win-distr_obj",
    "env/two_room-make_you",
    "env/two_room-make_you-make_win",
    "env/two_room-make_wall_win",
]

# One character per thing for hand-drawn maps: objects in lower case, words in upper case.
LEGEND = {
    "#": "border",
    "b": "baba",
    "w": "wall",
    "o": "ball",
    "k": "key",
    "d": "door",
    "B": "word:baba",
    "W": "word:wall",
    "O": "word:ball",
    "K": "word:key",
    "D": "word:door",
    "=": "word:is",
    "Y": "word:you",
    "V": "word:win",
    "S": "word:stop",
    "P": "word:push",
    "X": "word:defeat",
}


def draw(*rows: str) -> Engine:
    engine = Engine(len(rows[0]), len(rows))
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char != ".":
                engine.put(x, y, token_code(LEGEND[char]))
    engine.refresh_rules()
    return engine


def picture(engine: Engine) -> list[str]:
    """The map back in LEGEND characters (top of each cell)."""
    inverse = {token_code(token): char for char, token in LEGEND.items()}
    return [
        "".join(inverse.get(engine.top(engine.index(x, y)), ".") for x in range(engine.width))
        for y in range(engine.height)
    ]


def rules(engine: Engine) -> set[str]:
    return {rule.text for rule in engine.rules}


# ----- rules ------------------------------------------------------------------------
def test_it_reads_rules_left_to_right_and_top_to_bottom() -> None:
    engine = draw(
        "#######",
        "#B=Y.K#",
        "#....=#",
        "#b.o.V#",
        "#######",
    )
    assert rules(engine) == {"baba is you", "key is win"}


def test_it_lets_one_tile_serve_several_rules() -> None:
    # The "is" at (2, 2) reads across and down; "baba" at (1, 2) starts a rule each way.
    engine = draw(
        "#######",
        "#.O...#",
        "#B=Y..#",
        "#=V...#",
        "#V..b.#",
        "#######",
    )
    assert [rule.text for rule in engine.rules] == ["baba is you", "ball is win", "baba is win"]


def test_it_ignores_broken_reversed_and_incomplete_rows() -> None:
    engine = draw(
        "########",
        "#B.=Y.b#",
        "#Y=B..o#",
        "#=V....#",
        "#O=....#",
        "########",
    )
    # a gap, "you is baba", "is win" with nothing before, "ball is" with nothing after
    assert engine.rules == ()


def test_it_reparses_rules_after_every_move() -> None:
    engine = draw(
        "#######",
        "#B=Y..#",
        "#.....#",
        "#O=.Vb#",
        "#.....#",
        "#######",
    )
    assert rules(engine) == {"baba is you"}
    engine.step(LEFT)  # shoves "win" next to "is"
    assert picture(engine)[3] == "#O=Vb.#"
    assert rules(engine) == {"baba is you", "ball is win"}
    engine.step(UP)
    engine.step(LEFT)
    engine.step(DOWN)  # shoves "win" down and out of the row
    assert picture(engine)[3:5] == ["#O=b..#", "#..V..#"]
    assert rules(engine) == {"baba is you"}


# ----- movement --------------------------------------------------------------------------
def test_it_pushes_a_chain_of_tiles_while_the_far_end_is_free() -> None:
    engine = draw(
        "########",
        "#bOK=..#",
        "#B=Y...#",
        "########",
    )
    engine.step(RIGHT)
    assert picture(engine)[1] == "#.bOK=.#"
    engine.step(RIGHT)
    assert picture(engine)[1] == "#..bOK=#"
    engine.step(RIGHT)  # the chain now meets the border
    assert picture(engine)[1] == "#..bOK=#"


def test_it_moves_nothing_when_a_chain_meets_the_border_or_a_stop_object() -> None:
    engine = draw(
        "########",
        "#..bOK=#",
        "#B=Y...#",
        "#W=SbOw#",
        "########",
    )
    before = picture(engine)
    engine.step(RIGHT)  # row 1 against the border, row 3 against a stop wall
    assert picture(engine) == before


def test_it_walks_over_objects_that_have_no_property() -> None:
    engine = draw(
        "#######",
        "#b.o.k#",
        "#B=Y..#",
        "#######",
    )
    engine.step(RIGHT)
    engine.step(RIGHT)
    assert picture(engine)[1] == "#..b.k#"  # baba stands on the ball
    engine.step(RIGHT)
    assert picture(engine)[1] == "#..obk#"


def test_it_pushes_objects_under_a_push_rule_and_stops_at_stop_objects() -> None:
    engine = draw(
        "########",
        "#bo.w..#",
        "#B=Y...#",
        "#O=P...#",
        "#W=S...#",
        "########",
    )
    engine.step(RIGHT)
    assert picture(engine)[1] == "#.bow..#"
    engine.step(RIGHT)  # the ball is against a stop wall: nothing moves
    assert picture(engine)[1] == "#.bow..#"


def test_it_moves_every_you_object_once_in_row_major_order() -> None:
    engine = draw(
        "#######",
        "#.b.b.#",
        "#B=Y..#",
        "#######",
    )
    engine.step(RIGHT)  # the first baba lands where the loop has not been yet, and is not moved again
    assert picture(engine)[1] == "#..b.b#"
    engine.step(LEFT)
    assert picture(engine)[1] == "#.b.b.#"


# ----- winning, defeat, transformation, you transfer --------------------------------------------
def test_it_wins_when_a_you_object_steps_onto_a_win_object() -> None:
    engine = draw(
        "#######",
        "#b.k..#",
        "#B=Y..#",
        "#K=V..#",
        "#######",
    )
    assert not engine.step(RIGHT).won
    assert engine.step(RIGHT).won


def test_it_wins_when_a_push_makes_the_you_object_win() -> None:
    engine = draw(
        "########",
        "#B=Y...#",
        "#.=b...#",
        "#V.....#",
        "########",
    )
    assert rules(engine) == {"baba is you"}
    assert engine.step(LEFT).won  # "is" slides under "baba": "baba is win" while baba is you
    assert rules(engine) == {"baba is you", "baba is win"}


def test_it_destroys_a_you_object_that_touches_defeat() -> None:
    engine = draw(
        "########",
        "#bk.b..#",
        "#B=Y...#",
        "#K=X...#",
        "########",
    )
    event = engine.step(RIGHT)  # the first baba lands on the key; the second walks on
    assert event == (False, False)
    assert engine.cells[engine.index(2, 1)] == [token_code("key")]
    assert engine.you_cells() == [engine.index(5, 1)]
    engine.step(LEFT)
    engine.step(LEFT)
    assert engine.step(LEFT).died  # the last one
    assert engine.you_cells() == []


def test_it_turns_objects_into_another_kind_under_noun_is_noun() -> None:
    engine = draw(
        "########",
        "#b.o.o.#",
        "#B=Y...#",
        "#.O=K..#",
        "########",
    )
    assert "ball is key" in rules(engine)
    engine.step(IDLE)  # idle changes nothing
    assert picture(engine)[1] == "#b.o.o.#"
    engine.step(RIGHT)
    assert picture(engine)[1] == "#.bk.k.#"


def test_it_transfers_you_when_a_push_replaces_the_noun_of_the_you_rule() -> None:
    engine = draw(
        "#########",
        "#..b..k.#",
        "#..K....#",
        "#..B=Y..#",
        "#.......#",
        "#########",
    )
    assert engine.you_cells() == [engine.index(3, 1)]
    engine.step(DOWN)  # "key" shoves "baba" down and out: "key is you" in one move
    assert rules(engine) == {"key is you"}
    assert engine.you_cells() == [engine.index(6, 1)]
    engine.step(LEFT)  # now the key moves and baba stays
    assert picture(engine)[1:3] == ["#....k..#", "#..b....#"]


def test_it_blocks_the_middle_wall_only_while_wall_is_stop() -> None:
    engine = draw(
        "#########",
        "#...w...#",
        "#W=Sw...#",
        "#.b.w.o.#",
        "#B=Yw...#",
        "#O=Vw...#",
        "#########",
    )
    engine.step(RIGHT)
    engine.step(RIGHT)
    assert engine.you_cells() == [engine.index(3, 3)]  # the wall at (4, 3) stops baba
    engine.step(UP)  # shoves "stop" up: the rule is broken
    assert rules(engine) == {"baba is you", "ball is win"}
    engine.step(DOWN)
    engine.step(RIGHT)
    assert engine.cells[engine.index(4, 3)] == [token_code("wall"), token_code("baba")]
    engine.step(RIGHT)
    assert engine.step(RIGHT).won


# ----- the planner's searches ----------------------------------------------------------------
def test_it_finds_a_sokoban_push_around_obstacles() -> None:
    engine = draw(
        "########",
        "#B=Y...#",
        "#......#",
        "#.K..b.#",
        "#......#",
        "#.=V...#",
        "########",
    )
    box, goal = engine.find(word_code("key"))[0], engine.index(1, 5)
    path = planner.push_path(engine, box, goal, engine.you_cells()[0])
    assert path is not None
    for action in path:
        engine.step(action)
    assert rules(engine) == {"baba is you", "key is win"}


# ----- levels ---------------------------------------------------------------------------------
def test_it_lists_balrogs_forty_tasks_in_order() -> None:
    tasks = BabaIsAIAdapter.tasks()
    assert [info.task for info in tasks] == BALROG_TASKS
    assert all(info.step_cap == STEP_CAP == 100 and info.episodes_per_task == 3 for info in tasks)
    assert all(info.title and info.description for info in tasks)


def test_it_refuses_an_unknown_task() -> None:
    with pytest.raises(InvalidTask):
        BabaIsAIAdapter("env/you_win")


def test_it_draws_the_same_level_from_the_same_seed_and_others_from_others() -> None:
    for task in ("env/make_win-distr_obj_rule", "env/two_room-break_stop-make_win", "env/two_room-make_you"):
        first, again = generate(task, random.Random(7)), generate(task, random.Random(7))
        assert (first.engine.encode(), first.solution) == (again.engine.encode(), again.solution)
        layouts = {generate(task, random.Random(seed)).engine.encode() for seed in range(30)}
        assert len(layouts) >= 25


def _objects(engine: Engine) -> list[tuple[str, int, int]]:
    """(kind, x, y) of every object but baba and the middle walls."""
    found = []
    for index, stack in enumerate(engine.cells):
        for code in stack:
            token = CODE_TOKEN[code]
            kind = token.split(":")[0]
            if kind in ("ball", "key", "door"):
                found.append((kind, *engine.xy(index)))
    return found


def _words(engine: Engine) -> list[str]:
    return [CODE_TOKEN[c].split(":")[1] for stack in engine.cells for c in stack if CODE_TOKEN[c].startswith("word:")]


def _expected_word_count(task: str) -> int:
    family = TASK_FAMILIES[task]
    count = 6  # baba is you, X is win
    count += 0 if family.layout == "one_room" else 3  # wall is stop
    count += 1 if family.layout == "make_you" or family.distractor_rule else 0
    count += 3 if family.distractor_win_rule else 0
    return count


@pytest.mark.parametrize("task", BALROG_TASKS)
def test_it_lays_out_each_family_like_the_baba_package(task: str) -> None:
    family = TASK_FAMILIES[task]
    for seed in range(25):
        level = generate(task, random.Random(seed))
        engine = level.engine
        active = rules(engine)
        objects = _objects(engine)
        kinds_on_map = {kind for kind, _, _ in objects}
        goal = level.target_plan.rsplit("goto[", 1)[1].rstrip("]")
        assert (engine.width, engine.height) == ((8, 8) if family.layout == "one_room" else (13, 9))
        assert "baba is you" in active
        assert len(_words(engine)) == _expected_word_count(task)
        win_rules = {text.split()[0] for text in active if text.endswith(" is win")}
        if family.layout == "make_wall_win" or family.break_win:
            assert goal not in win_rules
        else:
            assert goal in win_rules
        assert len(win_rules - kinds_on_map) == (1 if family.distractor_win_rule else 0)
        if family.layout != "one_room":
            assert ("wall is stop" in active) == (not family.stop_broken)
        assert len(objects) == (2 if family.distractor_obj or family.layout == "make_you" else 1)
        if family.layout == "two_room" and family.target_area != "anywhere":
            goal_x = next(x for kind, x, _ in objects if kind == goal)
            assert (goal_x > engine.width // 2) == (family.target_area == "right_anywhere")
        # Nouns of kinds that are not on the map: the irrelevant tile, the distractor
        # win rule's noun, and the distractor tile when its object is left out.
        absent = [w for w in _words(engine) if w in ("ball", "key", "door") and w not in kinds_on_map]
        lone_tile = family.distractor_rule and not family.distractor_obj and not family.irrelevant_rule
        assert len(absent) == family.irrelevant_rule + family.distractor_win_rule + lone_tile


@pytest.mark.slow
def test_it_generates_a_winnable_level_for_200_seeds_of_every_family() -> None:
    """Every family, seeds 0..199: the generator's plan, replayed through a fresh
    adapter reset, wins within the step cap (solvability proven by play)."""
    started = time.perf_counter()
    for task in BALROG_TASKS:
        adapter = BabaIsAIAdapter(task)
        for seed in range(200):
            adapter.reset(seed)
            result = None
            for action in adapter.solution():
                result = adapter.step(action)
            assert result is not None and result.end_reason is EndReason.WON, (task, seed)
            assert result.progression == 1.0 and adapter.steps <= STEP_CAP
    elapsed = time.perf_counter() - started
    print(f"8000 levels generated and won in {elapsed:.1f} s")


# ----- the adapter ---------------------------------------------------------------------------------
def test_it_rewards_a_win_as_baba_is_ai_does() -> None:
    adapter = BabaIsAIAdapter("env/two_room-break_stop-make_win")
    adapter.reset(3)
    plan = adapter.solution()
    for action in plan[:-1]:
        assert not adapter.step(action).done
    result = adapter.step(plan[-1])
    assert result.end_reason is EndReason.WON and result.progression == 1.0
    assert result.reward == pytest.approx(1 - 0.9 * len(plan) / 100)


def test_it_wins_make_you_as_the_object_that_became_you() -> None:
    adapter = BabaIsAIAdapter("env/two_room-make_you")
    adapter.reset(8)
    you_kind = adapter.reset(8)["target_plan"].split("make[")[1].split(" is you")[0]
    seen_rules = []
    for action in adapter.solution():
        adapter.step(action)
        seen_rules.append(set(adapter.hud()["rules"]))
    assert "baba is you" in seen_rules[0] and f"{you_kind} is you" not in seen_rules[0]
    assert f"{you_kind} is you" in seen_rules[-1] and "baba is you" not in seen_rules[-1]
    assert adapter.end_reason is EndReason.WON
    (player,) = adapter.engine.you_cells()
    assert CODE_TOKEN[adapter.engine.top(player)].startswith(you_kind + ":")


def test_it_ends_at_the_step_cap_with_no_progression() -> None:
    adapter = BabaIsAIAdapter("env/goto_win")
    adapter.reset(0)
    for _ in range(STEP_CAP - 1):
        assert not adapter.step("idle").done
    result = adapter.step("idle")
    assert (result.done, result.end_reason, result.progression, adapter.episode_return) == (
        True,
        EndReason.STEP_CAP,
        0.0,
        0.0,
    )


def test_it_executes_idle_for_an_invalid_answer() -> None:
    adapter = BabaIsAIAdapter("env/goto_win")
    adapter.reset(1)
    before = adapter.digest()
    result = adapter.step("Let me think... up")
    assert (result.valid, result.action, result.executed) == (False, "idle", [0])
    assert adapter.digest() == before and adapter.steps == 1


def _break_baba_is_you(adapter: BabaIsAIAdapter) -> list[str]:
    """In a make_you level, walk above the "you" tile and shove it down."""
    engine = adapter.engine
    above_you = engine.find(word_code("you"))[0] - engine.width
    path = planner.walk_path(engine, engine.you_cells()[0], {above_you})
    assert path is not None
    return [ACTIONS[action] for action in (*path, DOWN)]


def test_it_starts_a_new_layout_when_no_you_object_is_left() -> None:
    adapter = BabaIsAIAdapter("env/two_room-make_you")
    adapter.reset(4)
    first_layout = adapter.engine.encode()
    moves = _break_baba_is_you(adapter)
    for action in moves[:-1]:
        adapter.step(action)
    result = adapter.step(moves[-1])
    assert (result.done, result.reward) == (False, 0.0)
    assert adapter.observation().long_term.startswith(RESTART_NOTICE + "\nActive rules:\n")
    assert adapter.frame()["layout"] == 2 and adapter.hud()["layout_steps"] == 0
    assert adapter.engine.encode() != first_layout and "baba is you" in rules(adapter.engine)
    adapter.step("idle")
    assert not adapter.observation().long_term.startswith(RESTART_NOTICE)
    assert adapter.steps == len(moves) + 1


def test_it_ends_the_episode_when_defeat_destroys_the_last_you_object() -> None:
    adapter = BabaIsAIAdapter("env/goto_win")
    adapter.reset(0)
    adapter.engine = draw(  # a level no task generates: defeat is only reachable by such a map
        "#######",
        "#bk...#",
        "#B=Y..#",
        "#K=X..#",
        "#######",
    )
    result = adapter.step("right")
    assert (result.end_reason, result.reward, result.progression) == (EndReason.DIED, -1.0, 0.0)


def test_it_describes_the_map_as_balrog_does() -> None:
    engine = draw(
        "#######",
        "#B=Y..#",
        "#..o..#",
        "#.b..K#",
        "#######",
    )
    assert observation_text(engine) == (
        "Active rules:\n"
        "baba is you\n"
        "\n"
        "Objects on the map:\n"
        "rule `baba` 1 step to the left and 2 step up\n"
        "rule `is` 2 step up\n"
        "rule `you` 1 step to the right and 2 step up\n"
        "ball 1 step to the right and 1 step up\n"
        "rule `key` 3 steps to the right"
    )
    assert observation_text(engine, with_rules=False).startswith("Objects on the map:\nrule `baba`")


def test_it_shows_people_the_grid_rules_and_a_png() -> None:
    adapter = BabaIsAIAdapter("env/two_room-make_win-distr_obj_rule")
    adapter.reset(2)
    frame = adapter.frame()
    assert json.loads(json.dumps(frame)) == frame
    assert (len(frame["grid"]), len(frame["grid"][0])) == (9, 13)
    assert frame["grid"][0][0] == ["border"] and frame["grid"][1][6] == ["wall:grey"]
    assert frame["rules"] == [rule.text for rule in adapter.engine.rules]
    assert frame["player"] is not None
    x, y = frame["player"]
    assert frame["grid"][y][x][-1] == "baba:white"
    png = adapter.render_png()
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (13 * 32, 9 * 32)
    assert {b.key: b.action for b in adapter.key_bindings()} == {
        "ArrowUp": "up",
        "ArrowRight": "right",
        "ArrowDown": "down",
        "ArrowLeft": "left",
        " ": "idle",
    }


def test_it_replays_identically_in_a_fresh_process() -> None:
    """A log that breaks "baba is you" (a new layout from the seeded stream),
    then wins the new layout, replays to the same digests in a new process."""
    task, seed = "env/two_room-make_you-make_win", 4
    adapter = BabaIsAIAdapter(task)
    reset_info = adapter.reset(seed)
    steps: list[list[int | str]] = []
    digests, progression = [adapter.digest()], []

    def play(action: str) -> None:
        result = adapter.step(action)
        steps.append(result.executed)
        digests.append(adapter.digest())
        progression.append(result.progression)

    for action in _break_baba_is_you(adapter):
        play(action)
    assert adapter.frame()["layout"] == 2
    play("not an action")
    for action in adapter.solution():
        play(action)
    assert adapter.end_reason is EndReason.WON

    log = {"env": "babaisai", "task": task, "seed": seed, "options": {}, "steps": steps}
    completed = subprocess.run(
        [sys.executable, "-m", "games.replaycheck"],
        input=json.dumps(log),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )
    replayed = json.loads(completed.stdout)
    assert replayed["reset"] == reset_info
    assert replayed["digests"] == digests
    assert replayed["progression"] == progression
    assert replayed["end_reason"] == "won"
