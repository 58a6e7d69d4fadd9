"""NetHack (BALROG env key ``nle``): NetHackChallenge-v0, the full game.

Rules matched with BALROG's evaluator:
* env kwargs as BALROG's config: random character (``@``), 100,000 steps,
  ``--More--`` skipped automatically (Enter, recorded in the step's keys);
* progression: the best table value of ``Dlvl:N`` / ``Xp:N`` read from the
  bottom-line stats after each step (``NetHackProgression``);
* actions: BALROG's named NetHack actions (NLE's language-wrapper names, in
  the env's action order), plus the single letters a-z and A-Z, each typing
  that letter, so that item prompts and menus can be answered (an earlier
  BALROG action space had them; its current named set has only the digits);
* the end: a death reports the game's own top-ten line ("died in The
  Dungeons of Doom on level 2. Killed by a jackal."), read from the end
  screen; leaving the dungeon or quitting ends the episode as "lost";
* "no progress": BALROG passes ``no_progress_timeout=150`` to NLE, whose
  NetHackChallenge counts steps during which the **in-game turn counter**
  (``blstats[T]``) does not change - not steps without a progression gain. The
  adapter's ``_progress_marker`` is therefore the turn counter. Difference:
  NLE counts every key press, including the automatic ``--More--`` Enters,
  while the base class counts agent steps; so BALROG can stop a few steps
  earlier in message-heavy stretches. (NLE's own counter is left at its
  default of 10,000 presses, which 150 agent steps of at most 65 presses
  cannot reach, so the base rule alone decides and labels the end.)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import nle
from nle import nethack as nh
from nle.env.tasks import NetHackChallenge

from games.base import KeyBinding, RawOutcome, TaskInfo
from games.jsontypes import JSONValue
from games.nethack.common import (
    MOVE_DESCRIPTIONS,
    OBSERVATION_KEYS,
    NLEFamilyAdapter,
    end_screen_text,
    movement_bindings,
)
from games.progression import NetHackProgression, ProgressFacts, ProgressionTracker

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TASK = "NetHackChallenge-v0"
MAX_EPISODE_STEPS = 100_000

# BALROG's NetHack actions with their meaning (the model's action list).
NLE_ACTION_DESCRIPTIONS: dict[str, str] = {
    **MOVE_DESCRIPTIONS,
    "up": "go up a staircase",
    "down": "go down a staircase (only while standing on one)",
    "wait": "rest one move, doing nothing",
    "more": "Enter: show more of a message or confirm a choice",
    "annotate": "leave a note about the current level",
    "apply": "apply (use) a tool",
    "call": "name a monster or object, or annotate",
    "cast": "cast a spell",
    "close": "close an adjacent door",
    "open": "open an adjacent door",
    "dip": "dip an object into something",
    "drop": "drop an item",
    "droptype": "drop several items by type (chosen in the next prompt)",
    "eat": "eat something (eat when hungry)",
    "esc": "leave a menu or prompt",
    "engrave": "engrave on the floor (e.g. Elbereth scares most monsters)",
    "enhance": "advance or check weapon skills",
    "fire": "fire ammunition from the quiver",
    "fight": "fight a monster (even one you only guess is there)",
    "force": "force a lock",
    "inventory": "show your inventory",
    "invoke": "invoke an artifact's power",
    "jump": "jump to a location",
    "kick": "kick a monster, a locked door or a chest",
    "look": "look at what is here",
    "loot": "loot a box on the floor",
    "monster": "use a monster's special ability (when polymorphed)",
    "offer": "offer a sacrifice to the gods (on an aligned altar)",
    "pay": "pay your shopping bill",
    "pickup": "pick up things here",
    "pray": "pray to the gods for help",
    "puton": "put on an accessory (ring, amulet, blindfold)",
    "quaff": "quaff (drink) something",
    "quiver": "select ammunition for the quiver",
    "read": "read a scroll or spellbook",
    "remove": "remove an accessory",
    "rub": "rub a lamp or a stone",
    "search": "search for hidden doors and passages",
    "swap": "swap wielded and secondary weapons",
    "takeoff": "take off one piece of armor",
    "takeoffall": "take off all armor",
    "teleport": "teleport (if you have the ability)",
    "throw": "throw something (e.g. a dagger)",
    "travel": "travel to a map location (then answer < or > for stairs, _ for an altar, "
    "{ for a fountain, and . to confirm)",
    "twoweapon": "toggle two-weapon combat",
    "untrap": "untrap something",
    "wear": "wear a piece of armor",
    "wield": "wield a weapon",
    "wipe": "wipe off your face",
    "zap": "zap a wand",
    "minus": "type - (e.g. 'nothing' or 'bare hands' in item prompts)",
    "space": "type a space",
    "apos": "type '",
    **{str(digit): f"type {digit} (counts, menu choices)" for digit in range(10)},
}
LETTERS = tuple("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Keys a human presses -> the language action. Letter keys that are also
# commands (e, q, r, w...) send the command's name; NetHack receives the very
# same key, so in a menu or an item prompt they pick that letter.
COMMAND_KEYS: tuple[tuple[str, str], ...] = (
    ("<", "up"),
    (">", "down"),
    (".", "wait"),
    (",", "pickup"),
    ("s", "search"),
    ("i", "inventory"),
    ("e", "eat"),
    ("q", "quaff"),
    ("r", "read"),
    ("w", "wield"),
    ("W", "wear"),
    ("T", "takeoff"),
    ("A", "takeoffall"),
    ("P", "puton"),
    ("R", "remove"),
    ("a", "apply"),
    ("z", "zap"),
    ("Z", "cast"),
    ("f", "fire"),
    ("Q", "quiver"),
    ("t", "throw"),
    ("o", "open"),
    ("c", "close"),
    ("d", "drop"),
    ("D", "droptype"),
    ("E", "engrave"),
    ("F", "fight"),
    ("p", "pay"),
    ("x", "swap"),
    ("X", "twoweapon"),
    ("C", "call"),
    ("_", "travel"),
    (":", "look"),
    ("Escape", "esc"),
    ("Enter", "more"),
    (" ", "space"),
    ("-", "minus"),
    ("'", "apos"),
)

TIPS = (
    'When the message asks for an item, such as "What do you want to eat? [dgh or ?*]", answer with the '
    "single letter of the item you want (here d, g or h).",
    'When the message asks "In what direction?", answer with a direction (north, southwest, ...).',
    '"--More--" prompts are dismissed for you automatically; the messages they hid are shown together.',
    "Explore the level to find the stairs down (>) and go down them; experience levels count too.",
    "Always read the last message carefully: it tells you what just happened and what the game is waiting for.",
    'Moving into a wall does nothing ("It\'s solid stone.", "It\'s a wall."): pick another direction.',
    "Read the language observation and the map to decide where to go next. The map is the terminal screen; "
    "the cursor position is given as (x=column, y=row).",
    "Attack a monster by moving into it.",
)

_DEATHS = {
    nh.DIED,
    nh.CHOKING,
    nh.POISONING,
    nh.STARVING,
    nh.DROWNING,
    nh.BURNING,
    nh.DISSOLVED,
    nh.CRUSHING,
    nh.STONING,
    nh.TURNED_SLIME,
    nh.GENOCIDED,
}


def progress_facts(blstats: NDArray[np.int64] | Sequence[int]) -> ProgressFacts:
    """What NetHackProgression reads from the bottom-line stats: Dlvl and Xp."""
    return {"depth": int(blstats[nh.NLE_BL_DEPTH]), "experience_level": int(blstats[nh.NLE_BL_XP])}


class NetHackAdapter(NLEFamilyAdapter):
    env = "nle"
    title = "NetHack"
    blurb = "The full NetHack dungeon: descend as deep as you can and survive."
    renderer = "terminal"
    default_action = "esc"
    adapter_version = "1"
    no_progress_limit = 150
    action_descriptions = NLE_ACTION_DESCRIPTIONS

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        self._turn_seen = 0  # the in-game turn when the progress facts were last read

    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo(
                env=cls.env,
                task=TASK,
                title="NetHack Challenge",
                description="The full game of NetHack with a random character. Progress is the best "
                "of the deepest dungeon level and the highest experience level reached.",
                step_cap=MAX_EPISODE_STEPS,
                episodes_per_task=5,
            )
        ]

    @classmethod
    def engine_version(cls) -> str:
        return f"nle-{nle.__version__}+adapter-{cls.adapter_version}"

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        """NetHack's own keys. A letter key always sends that letter to the
        game: bound to a command (k -> north, e -> eat) it is still the letter
        in a menu or a prompt (y answers yes), and the label says so; the
        other letters are sent as themselves."""
        actions = frozenset(NLE_ACTION_DESCRIPTIONS) | frozenset(LETTERS)
        bindings = movement_bindings(actions)
        bindings += [KeyBinding(key, action, action) for key, action in COMMAND_KEYS]
        bindings += [KeyBinding(digit, digit, f"type {digit}") for digit in "0123456789"]
        bound = {binding.key for binding in bindings}
        bindings += [
            KeyBinding(letter, letter, f"letter {letter} (menus, item prompts)")
            for letter in LETTERS
            if letter not in bound
        ]
        return [
            KeyBinding(b.key, b.action, f"{b.label}; letter {b.key} in menus and prompts")
            if b.key in LETTERS and b.action != b.key
            else b
            for b in bindings
        ]

    def make_tracker(self) -> ProgressionTracker:
        return NetHackProgression()

    def _make_env(self) -> Any:
        return NetHackChallenge(
            character="@",
            max_episode_steps=MAX_EPISODE_STEPS,
            observation_keys=OBSERVATION_KEYS,
            savedir=None,
            save_ttyrec_every=0,
            fix_moon_phase=True,
        )

    def _extra_actions(self) -> list[tuple[str, int]]:
        # Single letters answer menus and item prompts ("What do you want to
        # eat? [fg or ?*]" -> "f"); each is the key of that letter.
        return [(letter, ord(letter)) for letter in LETTERS]

    def _progress_facts(self) -> ProgressFacts:
        return progress_facts(self._require_obs()["blstats"])

    def _progress_marker(self) -> Hashable:
        """BALROG's "no progress": the in-game turn counter did not move."""
        return int(self._require_obs()["blstats"][nh.NLE_BL_TIME])

    def _terminal_outcome(self, reward: float, info: Mapping[str, object]) -> RawOutcome:
        how = self._game.nethack.how_done()
        detail = end_screen_text(self._require_obs()["tty_chars"]) or how.name.lower()
        return RawOutcome(reward, terminated=True, won=how == nh.ASCENDED, died=how in _DEATHS, detail=detail)

    def instructions(self) -> str:
        tips = "\n".join(f"- {tip}" for tip in TIPS)
        return (
            "You are an agent playing NetHack. These are the actions you can take, each with a short "
            f"description:\n\n{self._action_list_text()},\n"
            "a-z, A-Z: type that letter (to pick an item or a menu entry, or to answer y/n).\n\n"
            f"Tips:\n{tips}\n\n"
            "Progress is measured by the deepest dungeon level (Dlvl) and the highest experience level (Xp) "
            "you reach.\nYour goal is to get as far as possible in the game."
        )
