"""MiniHack (env key ``minihack``): BALROG's eight tasks, Boxoban levels
generated offline, and replays in a fresh process."""

from __future__ import annotations

import io
import os
import random
import zipfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from games.base import EndReason, InvalidTask
from games.nethack import boxoban
from games.nethack.minihack import BALROG_KWARGS, MiniHackAdapter
from games.progression import UnitRewardProgression
from tests.support.replays import play_and_record, replay_in_fresh_process

TASKS = [
    "MiniHack-Boxoban-Hard-v0",
    "MiniHack-Boxoban-Medium-v0",
    "MiniHack-MazeWalk-9x9-v0",
    "MiniHack-MazeWalk-15x15-v0",
    "MiniHack-Corridor-R3-v0",
    "MiniHack-CorridorBattle-Dark-v0",
    "MiniHack-Quest-Easy-v0",
    "MiniHack-Quest-Medium-v0",
]
CARDINAL = {"north": (0, -1), "south": (0, 1), "west": (-1, 0), "east": (1, 0)}
WALKABLE = set(".>{#<@")


@pytest.fixture(scope="module")
def levels_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A game data dir with both generated Boxoban sets, for the whole module
    (the env var reaches the replay subprocesses)."""
    data_dir = tmp_path_factory.mktemp("games")
    previous = os.environ.get("BALROG_GAME_DATA_DIR")
    os.environ["BALROG_GAME_DATA_DIR"] = str(data_dir)
    with override_settings(BALROG_GAME_DATA_DIR=data_dir):
        for task in boxoban.TASK_LEVEL_SETS:
            MiniHackAdapter.prepare(task)
        yield data_dir
    if previous is None:
        del os.environ["BALROG_GAME_DATA_DIR"]
    else:
        os.environ["BALROG_GAME_DATA_DIR"] = previous


def bfs_step(rows: list[str], cursor: list[int], visited: set[tuple[int, int]]) -> str:
    """Next cardinal move towards the stairs if they are on the map, else
    towards the nearest floor square not stood on yet (the rest is unknown)."""
    grid = rows[1:22]
    start = (cursor[1], cursor[0] - 1)
    visited.add(start)

    def at(cell: tuple[int, int]) -> str:
        x, y = cell
        return grid[y][x] if 0 <= y < len(grid) and 0 <= x < len(grid[y]) else " "

    came_from: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}
    queue, seen = deque([start]), {start}
    stairs = frontier = None
    while queue:
        cell = queue.popleft()
        if at(cell) == ">":
            stairs = cell
            break
        if frontier is None and cell not in visited:
            frontier = cell
        for move, (dx, dy) in CARDINAL.items():
            ahead = (cell[0] + dx, cell[1] + dy)
            if ahead not in seen and at(ahead) in WALKABLE:
                seen.add(ahead)
                came_from[ahead] = (cell, move)
                queue.append(ahead)
    target = stairs or frontier
    assert target is not None, "nowhere left to explore"
    while came_from[target][0] != start:
        target = came_from[target][0]
    return came_from[target][1]


# ----- catalogue ------------------------------------------------------------------
def test_it_lists_balrogs_eight_tasks_with_a_100_step_cap() -> None:
    infos = MiniHackAdapter.tasks()
    assert [info.task for info in infos] == TASKS
    assert {(info.step_cap, info.episodes_per_task) for info in infos} == {(100, 5)}
    assert MiniHackAdapter.default_action == "north"
    assert BALROG_KWARGS["max_episode_steps"] == 100 and BALROG_KWARGS["character"] == "@"
    with pytest.raises(InvalidTask):
        MiniHackAdapter("MiniHack-River-v0")


def test_it_offers_balrogs_actions_that_the_task_has(levels_dir: Path) -> None:
    boxes = MiniHackAdapter("MiniHack-Boxoban-Medium-v0")
    maze = MiniHackAdapter("MiniHack-MazeWalk-9x9-v0")
    quest = MiniHackAdapter("MiniHack-Quest-Easy-v0")
    try:
        assert boxes.action_space() == ["north", "east", "south", "west"]
        assert maze.action_space()[4:] == ["northeast", "southeast", "southwest", "northwest"]
        assert {"far north", "down", "pickup", "zap", "pray", "search", "more"} <= set(quest.action_space())
        assert "inventory" not in quest.action_space()  # not in BALROG's MiniHack set
        # keys: every MiniHack key on the class, only the task's own on an adapter
        assert {b.action for b in boxes.key_bindings()} == set(boxes.action_space())
        # the play page's controls, known without an env, match the adapter's own
        assert {b.action for b in MiniHackAdapter.task_key_bindings(boxes.task)} == set(boxes.action_space())
        assert MiniHackAdapter.task_key_bindings(maze.task) == MiniHackAdapter.key_bindings()
        assert {b.key for b in MiniHackAdapter.key_bindings()} >= {"y", "K", ",", "Enter"}
        assert "zap: zap a wand" in quest.instructions() and "stairs down" in quest.instructions()
        assert "boulders onto the fountains" in boxes.instructions()
        assert isinstance(boxes.make_tracker(), UnitRewardProgression)
    finally:
        for adapter in (boxes, maze, quest):
            adapter.close()


# ----- playing ----------------------------------------------------------------------
def test_it_scores_a_maze_walked_by_breadth_first_search() -> None:
    maze = MiniHackAdapter("MiniHack-MazeWalk-9x9-v0")
    try:
        maze.reset(0)
        visited: set[tuple[int, int]] = set()
        while not maze.done:
            frame = maze.frame()
            result = maze.step(bfs_step(frame["rows"], frame["cursor"], visited))
        assert (maze.steps, result.reward, maze.progression) == (33, 1.0, 1.0)
        assert maze.end_reason == EndReason.WON
    finally:
        maze.close()


def test_it_ends_at_the_step_cap_and_plays_north_for_invalid_answers() -> None:
    corridor = MiniHackAdapter("MiniHack-Corridor-R3-v0")
    try:
        corridor.reset(0)
        result = corridor.step("fly")
        assert (result.valid, result.action, result.executed) == (False, "north", [corridor._to_raw("north")])
        rng = random.Random(0)
        while not corridor.done:
            corridor.step(rng.choice(corridor.action_space()))
        assert (corridor.steps, corridor.end_reason, corridor.progression) == (100, EndReason.STEP_CAP, 0.0)
    finally:
        corridor.close()


# ----- Boxoban -------------------------------------------------------------------
def test_it_generates_the_same_solvable_boxoban_levels_everywhere(levels_dir: Path) -> None:
    for name, difficulty in boxoban.DIFFICULTIES.items():
        text = (boxoban.generated_dir(name) / "000.txt").read_text()
        levels = boxoban.parse_level_file(text)
        solutions = boxoban.generated_solutions(name)
        assert len(levels) == len(solutions) == difficulty.count
        for number, rows in levels:
            lines = rows.splitlines()
            assert len(lines) == 10 and {len(line) for line in lines} == {10}
            assert set(lines[0] + lines[-1]) == {"#"}
            assert rows.count("$") == rows.count(".") == 4 and rows.count("@") == 1
            puzzle = boxoban.Puzzle.parse(rows)
            _final, solved = boxoban.play(puzzle, solutions[number])
            assert solved and len(solutions[number]) <= difficulty.max_solution
    again = boxoban.generate_level(random.Random(5), boxoban.DIFFICULTIES["hard"])
    assert again == boxoban.generate_level(random.Random(5), boxoban.DIFFICULTIES["hard"])


def test_it_solves_a_generated_boxoban_level_in_minihack(levels_dir: Path) -> None:
    game = MiniHackAdapter("MiniHack-Boxoban-Hard-v0")
    try:
        state = random.getstate()
        facts = game.reset(3)
        assert random.getstate() == state  # the level pick leaves Python's global random alone
        assert facts["level_source"] == "generated"
        level_file = boxoban.generated_dir("hard") / "000.txt"
        number = facts["level_id"].removeprefix("000.txt#")
        rows = dict(boxoban.parse_level_file(level_file.read_text()))[number]
        chosen = boxoban.choose_level("MiniHack-Boxoban-Hard-v0", "generated", 3)
        assert (chosen.text, chosen.digest) == (rows, facts["level_digest"])
        solution = boxoban.generated_solutions("hard")[number]
        for move in solution:
            result = game.step(boxoban.MOVE_ACTIONS[move])
        assert (game.steps, game.done, game.end_reason) == (len(solution), True, EndReason.WON)
        assert result.reward == 1.0 and game.progression == 1.0
    finally:
        game.close()


def test_it_picks_boxoban_levels_from_the_seed_and_the_chosen_source(levels_dir: Path) -> None:
    ids = {boxoban.choose_level("MiniHack-Boxoban-Medium-v0", "generated", seed).level_id for seed in range(40)}
    assert len(ids) > 20
    with pytest.raises(ValueError, match="unknown Boxoban level source"):
        MiniHackAdapter("MiniHack-Boxoban-Medium-v0", {"level_source": "mine"})
    with pytest.raises(boxoban.BoxobanLevelsMissing, match="download_boxoban"):
        MiniHackAdapter("MiniHack-Boxoban-Medium-v0", {"level_source": "official"})


def test_download_boxoban_fails_cleanly_offline_and_installs_an_archive(tmp_path: Path) -> None:
    with override_settings(BALROG_GAME_DATA_DIR=tmp_path):
        with pytest.raises(CommandError, match="could not download"):
            call_command("download_boxoban", url="http://127.0.0.1:9/boxoban.zip", timeout=5, stdout=io.StringIO())
        assert not (tmp_path / "boxoban" / "official").exists()
        # an archive shaped like deepmind/boxoban-levels (top folder, <set>/<split>/NNN.txt)
        rows = ["#@       #", "# $  .   #", "# $  .   #", "#        #", "#  $  .  #", "# $    . #", "#        #"]
        level = "; 0\n" + "\n".join(["#" * 10, *rows, "#        #", "#" * 10]) + "\n\n"
        archive = tmp_path / "levels.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("boxoban-levels-master/medium/train/000.txt", level)
            bundle.writestr("boxoban-levels-master/README.md", "levels")
        call_command("download_boxoban", archive=archive, stdout=io.StringIO())
        game = MiniHackAdapter("MiniHack-Boxoban-Medium-v0", {"level_source": "official"})
        try:
            facts = game.reset(1)
            assert (facts["level_source"], facts["level_id"]) == ("official", "000.txt#0")
            screen = "".join(game.frame()["rows"][1:22])
            assert (screen.count("`"), screen.count("{")) == (4, 4)  # minihack draws boulders as `
        finally:
            game.close()


# ----- determinism -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "seed"),
    [
        ("MiniHack-Quest-Easy-v0", 1),  # dies in lava at step 38
        ("MiniHack-Quest-Medium-v0", 0),  # runs to the 100-step cap
        ("MiniHack-Boxoban-Medium-v0", 2),
        ("MiniHack-CorridorBattle-Dark-v0", 1),
    ],
)
def test_it_replays_identically_in_a_fresh_process(levels_dir: Path, task: str, seed: int) -> None:
    game = MiniHackAdapter(task)
    try:
        log = play_and_record(game, seed, 100, lambda rng, actions: rng.choice(actions))
    finally:
        game.close()
    assert len(log["steps"]) > 10
    replayed = replay_in_fresh_process("minihack", task, seed, log["steps"])
    assert replayed["reset"] == log["reset"]
    assert replayed["digests"] == log["digests"]
    assert replayed["progression"] == log["progression"]
    assert replayed["end_reason"] == log["end_reason"]
