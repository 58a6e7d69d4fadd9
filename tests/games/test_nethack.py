"""NetHack (env key ``nle``): NetHackChallenge-v0 as BALROG plays it.

Real games throughout: seeds and action sequences below were chosen by
playing, and the assertions pin what those games do.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from nle import nethack as nh

from games.base import EndReason, InvalidTask
from games.nethack import describe
from games.nethack.common import ACTION_KEYS, derive_seeds, end_screen_text
from games.nethack.nle import LETTERS, NLE_ACTION_DESCRIPTIONS, NetHackAdapter, progress_facts
from games.progression import NetHackProgression, nethack_table
from games.registry import make_adapter
from tests.support.replays import play_and_record, replay_in_fresh_process

TASK = "NetHackChallenge-v0"
MOVES = ["north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest"]
WALK = MOVES + [f"far {move}" for move in MOVES]
# Seed 10 walking at random (random.Random(10) over WALK) falls to Dlvl 2 and later dies.
DESCENDING_SEED = 10
# Seed 7 under mixed_policy plays 600 steps, 175 of them with --More-- prompts.
BUSY_SEED = 7


@pytest.fixture
def game() -> Iterator[NetHackAdapter]:
    adapter = NetHackAdapter(TASK)
    yield adapter
    adapter.close()


def mixed_policy(rng: random.Random, actions: Sequence[str]) -> str:
    """Mostly walking (turns pass), sometimes any action (menus, prompts,
    --More--) but "up", which on level 1 offers to leave the dungeon."""
    return rng.choice(WALK) if rng.random() < 0.7 else rng.choice([a for a in actions if a != "up"])


# ----- catalogue, actions, keys ------------------------------------------------------
def test_it_lists_balrogs_task_with_its_caps() -> None:
    (info,) = NetHackAdapter.tasks()
    assert (info.task, info.step_cap, info.episodes_per_task) == (TASK, 100_000, 5)
    assert NetHackAdapter.no_progress_limit == 150
    assert NetHackAdapter.default_action == "esc"
    assert NetHackAdapter.engine_version().startswith("nle-1.3")
    with pytest.raises(InvalidTask):
        NetHackAdapter("NetHackScore-v0")


def test_it_names_actions_as_balrog_and_passes_letters_through(game: NetHackAdapter) -> None:
    actions = game.action_space()
    for name in ("north", "far north", "up", "down", "search", "esc", "pickup", "inventory", "more", "0", "9"):
        assert name in actions

    def key(action: str) -> int:
        return game._keys[game._actions[action]]

    assert (key("north"), key("far southwest"), key("more"), key("esc")) == (ord("k"), ord("B"), ord("\r"), 27)
    assert key("pray") == 0x80 | ord("p")  # M-p
    # every letter is an action that types that letter (menus, item prompts)
    assert all(key(letter) == ord(letter) for letter in "adzAKZ")
    assert "quit" not in actions and "save" not in actions
    assert set(actions) == set(NLE_ACTION_DESCRIPTIONS) | set(LETTERS)
    assert set(NLE_ACTION_DESCRIPTIONS) <= set(ACTION_KEYS)


def test_it_binds_nethacks_own_keys(game: NetHackAdapter) -> None:
    bindings = {b.key: b for b in NetHackAdapter.key_bindings()}
    assert len(bindings) == len(NetHackAdapter.key_bindings())
    assert [bindings[k].action for k in "hjklyubn"] == [
        "west",
        "south",
        "north",
        "east",
        "northwest",
        "northeast",
        "southwest",
        "southeast",
    ]
    assert bindings["K"].action == "far north" and bindings["ArrowLeft"].action == "west"
    assert (bindings["Escape"].action, bindings["Enter"].action) == ("esc", "more")
    assert (bindings["<"].action, bindings[">"].action, bindings[","].action) == ("up", "down", "pickup")
    assert bindings["g"].action == "g" and "in menus" in bindings["y"].label
    assert all(game.is_valid(b.action) for b in bindings.values())


# ----- seeding, determinism ------------------------------------------------------------
def test_it_seeds_nethack_from_the_episode_seed(game: NetHackAdapter) -> None:
    facts = game.reset(42)
    core, disp = derive_seeds("nle", 42)
    assert facts == {"core_seed": core, "disp_seed": disp, "reseed": False, "fix_moon_phase": True}
    assert max(core, disp) < 2**53
    first = [game.digest()] + [(game.step(a), game.digest())[1] for a in WALK * 3]
    game.reset(7)  # another episode on the same instance...
    for action in WALK * 2:
        game.step(action)
    assert game.reset(42) == facts  # ...does not leak into a replay of the first
    again = [game.digest()] + [(game.step(a), game.digest())[1] for a in WALK * 3]
    assert again == first
    game.reset(43)
    assert game.digest() != first[0]


def test_it_fixes_the_moon_phase_from_the_seed(game: NetHackAdapter) -> None:
    """With fix_moon_phase the phase follows the seed, not today's date: on any
    date, seed 11 starts under a full moon and seed 1 under none."""
    game.reset(11)
    assert "Full moon tonight" in game.message()
    game.reset(1)
    assert "moon" not in game.message()


def test_it_replays_600_steps_identically_in_a_fresh_process(game: NetHackAdapter) -> None:
    log = play_and_record(game, BUSY_SEED, 600, mixed_policy)
    assert len(log["steps"]) == 600 and log["end_reason"] is None
    assert any(len(executed) > 1 for executed in log["steps"])  # --More-- keys are part of the log
    replayed = replay_in_fresh_process("nle", TASK, BUSY_SEED, log["steps"])
    assert replayed["reset"] == log["reset"]
    assert replayed["digests"] == log["digests"]
    assert replayed["progression"] == log["progression"]


# ----- steps -------------------------------------------------------------------
def test_it_executes_the_default_action_for_an_invalid_answer(game: NetHackAdapter) -> None:
    game.reset(3)
    result = game.step("dance a jig")
    assert (result.valid, result.action) == (False, "esc")
    assert result.executed[0] == game._to_raw("esc")


def test_it_presses_enter_on_more_and_records_the_keys(game: NetHackAdapter) -> None:
    game.reset(BUSY_SEED)
    rng = random.Random(BUSY_SEED)
    skipped = []
    while game.steps < 120 and not game.done:
        result = game.step(mixed_policy(rng, game.action_space()))
        assert b"--More--" not in game._require_obs()["tty_chars"].tobytes()
        extra = result.executed[1:]
        assert all(raw == game._to_raw("more") for raw in extra)
        if extra:
            skipped.append(game.message())
    assert skipped, "this game shows --More-- prompts"
    # the messages the Enter presses dismissed are kept, one per line, as BALROG shows them
    assert any("\n" in message for message in skipped)


def test_it_ends_after_150_steps_in_which_no_game_time_passes(game: NetHackAdapter) -> None:
    game.reset(4)
    for _ in range(160):  # searching takes a turn each time: never "no progress"
        game.step("search")
    assert not game.done
    for _ in range(149):  # esc takes no time
        game.step("esc")
    assert not game.done
    result = game.step("esc")
    assert (result.done, result.end_reason) == (True, EndReason.NO_PROGRESS)


# ----- progression and the end -------------------------------------------------------
def bottom_line(game: NetHackAdapter) -> tuple[int, int]:
    text = "".join(describe.screen_rows(game._require_obs()["tty_chars"])[22:24])
    dlvl = re.search(r"Dlvl:(\d+)", text)
    xp = re.search(r"Xp:(\d+)", text)
    assert dlvl and xp, text
    return int(dlvl.group(1)), int(xp.group(1))


def test_it_scores_real_bottom_line_stats_with_balrogs_table(game: NetHackAdapter) -> None:
    table = nethack_table()
    game.reset(DESCENDING_SEED)
    rng = random.Random(DESCENDING_SEED)
    best = 0.0
    while True:
        result = game.step(rng.choice(WALK))
        if result.done:
            break
        dlvl, xp = bottom_line(game)
        assert game._progress_facts() == {"depth": dlvl, "experience_level": xp}
        best = max(best, table[f"Dlvl:{dlvl}"], table[f"Xp:{xp}"])
        assert result.progression == best
    assert best == table["Dlvl:2"] > 0  # this game fell to the second level
    # the end screen zeroes the stats; progression keeps the best value reached
    assert game._require_obs()["blstats"][nh.NLE_BL_DEPTH] == 0
    assert game.progression == best and game.hud()["depth"] == 2
    assert game.end_reason == EndReason.DIED
    assert "Dungeons of Doom" in game.end_detail


def test_it_feeds_the_tracker_real_bottom_line_stats(game: NetHackAdapter) -> None:
    table = nethack_table()
    game.reset(9)
    live = game._require_obs()["blstats"].copy()
    tracker = NetHackProgression()
    assert tracker.update(reward=0.0, outcome=None, facts=progress_facts(live)) == 0.0  # type: ignore[arg-type]
    deeper = live.copy()
    deeper[nh.NLE_BL_DEPTH], deeper[nh.NLE_BL_XP] = 5, 3
    assert tracker.update(reward=0.0, outcome=None, facts=progress_facts(deeper)) == table["Dlvl:5"]  # type: ignore[arg-type]
    end_screen = np.zeros_like(live)
    assert tracker.update(reward=0.0, outcome=None, facts=progress_facts(end_screen)) == table["Dlvl:5"]  # type: ignore[arg-type]


def test_it_reads_the_cause_of_death_from_the_top_ten_list() -> None:
    # NetHack wraps the list as one stream at the terminal width, mid-word
    entry = [
        "                                                             3         12  Agent",
        "-Hea-Hum-Fem-Neu died in The Dungeons of Doom on",
        "  level 1.  Killed by a jackal, while fainted from lack of food.    -  [13]",
    ]
    rows = ["You made the top ten list!", "", *entry] + [""] * 19
    screen = np.frombuffer("".join(row.ljust(80) for row in rows).encode(), dtype=np.uint8)
    text = end_screen_text(screen.reshape(24, 80))
    assert text == "died in The Dungeons of Doom on level 1. Killed by a jackal, while fainted from lack of food."


# ----- what models and people see ---------------------------------------------------
def test_it_shows_balrogs_hybrid_text_and_a_terminal_frame(game: NetHackAdapter) -> None:
    game.reset(7)
    observation = game.observation()
    sections = re.findall(r"^(\w[\w ]*):$", observation.long_term, flags=re.M)
    assert sections == ["message", "language observation", "cursor", "map"]
    assert "Yourself a " in observation.long_term and "(x=" in observation.long_term
    assert "Dlvl:1" in observation.long_term  # the bottom lines are part of the map
    assert observation.short_term.startswith("inventory:\na: ")
    frame = game.frame()
    assert len(frame["rows"]) == 24 and {len(r) for r in frame["rows"]} == {80}
    assert len(frame["colors"]) == 24 and all(re.fullmatch("[0-9a-f]{80}", c) for c in frame["colors"])
    row, col = frame["cursor"]
    assert frame["rows"][row][col] == "@"
    assert game.render_png().startswith(b"\x89PNG")
    assert "far north" in game.instructions() and "Dlvl" in game.instructions()
    hud = game.hud()
    assert (hud["depth"], hud["experience_level"], hud["turn"]) == (1, 1, 1) and hud["hp"] > 0


def test_it_hashes_everything_the_model_text_depends_on(game: NetHackAdapter) -> None:
    twin = NetHackAdapter(TASK)
    try:
        for adapter in (game, twin):
            adapter.reset(7)
            adapter.step("far east")
        assert twin.state_bytes() == game.state_bytes()
        assert twin.observation() == game.observation() and twin.frame() == game.frame()
        before, text = game.state_bytes(), game.observation().text
        game.step("inventory")  # opens a menu: no time passes, the screen changes
        assert game.state_bytes() != before and game.observation().text != text
    finally:
        twin.close()


def test_it_describes_what_is_visible_and_where() -> None:
    assert describe.distance_word(1) == "adjacent" and describe.distance_word(2) == "very near"
    assert describe.distance_word(5) == "near" and describe.distance_word(6) == "far"
    assert describe.distance_word(20) == "very far"
    assert describe.direction_word(3, -1) == "eastsoutheast"
    assert describe.direction_word(1, 3) == "northnortheast"
    assert describe.direction_word(-2, 2) == "northwest"
    glyphs = np.full((21, 79), nh.GLYPH_CMAP_OFF + 19, dtype=np.int16)  # lit room floor
    blstats = np.zeros(nh.BLSTATS_SHAPE, dtype=np.int64)
    blstats[nh.NLE_BL_X], blstats[nh.NLE_BL_Y] = 10, 5
    jackal = next(i for i in range(nh.NUMMONS) if nh.permonst(i).mname == "jackal")
    glyphs[5, 10] = nh.GLYPH_MON_OFF + jackal  # the player cell is skipped
    glyphs[4, 10] = nh.GLYPH_MON_OFF + jackal
    glyphs[6, 13] = nh.GLYPH_CMAP_OFF + 24  # stairs down
    glyphs[5, 12] = glyphs[5, 8] = nh.GLYPH_CMAP_OFF + 1  # vertical walls
    text = describe.describe_surroundings(glyphs, blstats)
    assert text.splitlines() == [
        "stairs down near eastsoutheast",
        "vertical wall very near east and west",
        "jackal adjacent north",
    ]
    assert describe.pluralize("jackal") == "jackals" and describe.pluralize("ruby") == "rubies"


def test_its_terrain_names_follow_nethacks_symbol_table() -> None:
    for index, explanation in describe.CMAP_ANCHORS.items():
        assert nh.symdef.from_idx(index).explanation == explanation
    assert len(describe.CMAP_NAMES) == nh.GLYPH_EXPLODE_OFF - nh.GLYPH_CMAP_OFF


def test_it_is_registered_under_nle() -> None:
    adapter = make_adapter("nle", TASK)
    try:
        assert isinstance(adapter, NetHackAdapter)
    finally:
        adapter.close()
