"""What NetHack (NLE) and MiniHack share: one base adapter for NLE-family envs.

Both games run the same NetHack engine through nle, so seeding, the
``--More--`` handling, the terminal frame, the digest and the model text are
identical; the subclasses only build the env, name the tasks, and say how a
finished game ended.

Invariants:
* Determinism: every reset sets NetHack's core and display seeds (derived
  from the episode seed) with ``reseed=False``, on an env built with
  ``fix_moon_phase=True``; the per-instance top-ten file is emptied first so
  the end screen depends only on this episode.
* ``--More--``: while the screen shows it, ``_auto_key`` presses Enter (the
  key BALROG's auto-more wrapper presses); the base class records those keys
  in ``executed``. Like BALROG, the messages skipped that way are kept and
  shown before the final message of the step. The marker is looked for in
  the whole screen as one stream, so a ``--More--`` that the terminal wrapped
  over two rows is skipped too (BALROG checks row by row and leaves that
  rare case to the model).
* Observation arrays are nle's buffers, overwritten in place by every step:
  the adapter only keeps immutable values (ints, strings) across steps.
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import abstractmethod
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import numpy as np
from nle import nethack as nh
from nle.nethack import actions as A
from numpy.typing import NDArray

from games.base import AdapterStateError, GameAdapter, Hud, KeyBinding, ModelObservation, RawAction, RawOutcome
from games.images import png_bytes
from games.jsontypes import JSONObject, JSONValue
from games.nethack import describe

if TYPE_CHECKING:
    from PIL import ImageFont

MORE_MARKER = b"--More--"
# nle observation buffers the adapters read (nle adds glyphs, blstats,
# message, program_state and internal itself).
OBSERVATION_KEYS = ("glyphs", "blstats", "tty_chars", "tty_colors", "tty_cursor", "inv_strs", "inv_letters")
# Parts of the observed state hashed by ``state_bytes``, in this order.
STATE_KEYS = ("tty_chars", "tty_colors", "tty_cursor", "blstats", "glyphs", "inv_letters", "inv_strs")
# NetHack seeds are C unsigned longs; keep them below 2**53 so browsers show them exactly.
SEED_MASK = (1 << 53) - 1

# ----- language actions ---------------------------------------------------------
# BALROG's names for nle's actions (NLE's language wrapper naming) -> the key.
ACTION_KEYS: dict[str, int] = {
    "north": A.CompassDirection.N,
    "east": A.CompassDirection.E,
    "south": A.CompassDirection.S,
    "west": A.CompassDirection.W,
    "northeast": A.CompassDirection.NE,
    "southeast": A.CompassDirection.SE,
    "southwest": A.CompassDirection.SW,
    "northwest": A.CompassDirection.NW,
    "far north": A.CompassDirectionLonger.N,
    "far east": A.CompassDirectionLonger.E,
    "far south": A.CompassDirectionLonger.S,
    "far west": A.CompassDirectionLonger.W,
    "far northeast": A.CompassDirectionLonger.NE,
    "far southeast": A.CompassDirectionLonger.SE,
    "far southwest": A.CompassDirectionLonger.SW,
    "far northwest": A.CompassDirectionLonger.NW,
    "up": A.MiscDirection.UP,
    "down": A.MiscDirection.DOWN,
    "wait": A.MiscDirection.WAIT,
    "more": A.MiscAction.MORE,
    "annotate": A.Command.ANNOTATE,
    "apply": A.Command.APPLY,
    "call": A.Command.CALL,
    "cast": A.Command.CAST,
    "close": A.Command.CLOSE,
    "open": A.Command.OPEN,
    "dip": A.Command.DIP,
    "drop": A.Command.DROP,
    "droptype": A.Command.DROPTYPE,
    "eat": A.Command.EAT,
    "esc": A.Command.ESC,
    "engrave": A.Command.ENGRAVE,
    "enhance": A.Command.ENHANCE,
    "fire": A.Command.FIRE,
    "fight": A.Command.FIGHT,
    "force": A.Command.FORCE,
    "inventory": A.Command.INVENTORY,
    "invoke": A.Command.INVOKE,
    "jump": A.Command.JUMP,
    "kick": A.Command.KICK,
    "look": A.Command.LOOK,
    "loot": A.Command.LOOT,
    "monster": A.Command.MONSTER,
    "offer": A.Command.OFFER,
    "pay": A.Command.PAY,
    "pickup": A.Command.PICKUP,
    "pray": A.Command.PRAY,
    "puton": A.Command.PUTON,
    "quaff": A.Command.QUAFF,
    "quiver": A.Command.QUIVER,
    "read": A.Command.READ,
    "remove": A.Command.REMOVE,
    "rub": A.Command.RUB,
    "search": A.Command.SEARCH,
    "swap": A.Command.SWAP,
    "takeoff": A.Command.TAKEOFF,
    "takeoffall": A.Command.TAKEOFFALL,
    "teleport": A.Command.TELEPORT,
    "throw": A.Command.THROW,
    "travel": A.Command.TRAVEL,
    "twoweapon": A.Command.TWOWEAPON,
    "untrap": A.Command.UNTRAP,
    "wear": A.Command.WEAR,
    "wield": A.Command.WIELD,
    "wipe": A.Command.WIPE,
    "zap": A.Command.ZAP,
    "minus": A.TextCharacters.MINUS,
    "space": A.TextCharacters.SPACE,
    "apos": A.TextCharacters.APOS,
    **{str(digit): ord(str(digit)) for digit in range(10)},
}
MOVE_DESCRIPTIONS: dict[str, str] = {
    **{d: f"move one square {d}" for d in ("north", "east", "south", "west")},
    **{d: f"move one square {d}" for d in ("northeast", "southeast", "southwest", "northwest")},
    **{
        f"far {d}": f"move {d} until something interesting happens"
        for d in ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest")
    },
}


# ----- the human frame ----------------------------------------------------------
# One character per terminal cell: the NetHack colour index 0-15 in hex.
_COLOUR_CODES = bytes((ord("0123456789abcdef"[value & 0x0F])) for value in range(256))
# Curses' 16 colours as NetHack's tty uses them (CLR_BLACK .. CLR_WHITE).
TERMINAL_PALETTE: tuple[tuple[int, int, int], ...] = (
    (85, 85, 85),  # black is drawn dark grey so it stays visible
    (170, 0, 0),
    (0, 170, 0),
    (170, 85, 0),
    (0, 0, 170),
    (170, 0, 170),
    (0, 170, 170),
    (170, 170, 170),
    (85, 85, 85),
    (255, 85, 85),
    (85, 255, 85),
    (255, 255, 85),
    (85, 85, 255),
    (255, 85, 255),
    (85, 255, 255),
    (255, 255, 255),
)
CELL_WIDTH, CELL_HEIGHT = 8, 16
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSansMono.ttf"),
)


def colour_rows(tty_colors: np.ndarray) -> list[str]:
    codes = tty_colors.astype(np.uint8).tobytes().translate(_COLOUR_CODES).decode("ascii")
    width = tty_colors.shape[1]
    return [codes[start : start + width] for start in range(0, len(codes), width)]


@cache
def _terminal_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    for path in FONT_PATHS:
        if path.exists():
            return ImageFont.truetype(str(path), 13)
    return ImageFont.load_default()


def render_terminal_png(tty_chars: np.ndarray, tty_colors: np.ndarray, cursor: tuple[int, int]) -> bytes:
    from PIL import Image, ImageDraw

    rows = describe.screen_rows(tty_chars)
    colours = colour_rows(tty_colors)
    image = Image.new("RGB", (CELL_WIDTH * len(rows[0]), CELL_HEIGHT * len(rows)), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = _terminal_font()
    cursor_row, cursor_col = cursor
    draw.rectangle(
        (
            cursor_col * CELL_WIDTH,
            cursor_row * CELL_HEIGHT,
            (cursor_col + 1) * CELL_WIDTH - 1,
            (cursor_row + 1) * CELL_HEIGHT - 1,
        ),
        fill=(60, 60, 90),
    )
    for row_index, (text, codes) in enumerate(zip(rows, colours, strict=True)):
        for col_index, char in enumerate(text):
            if char != " ":
                colour = TERMINAL_PALETTE[int(codes[col_index], 16)]
                draw.text((col_index * CELL_WIDTH, row_index * CELL_HEIGHT), char, fill=colour, font=font)
    return png_bytes(image)


# The top-ten entry on the end screen: "Agent-Val-Hum-Fem-Law died in The
# Dungeons of Doom on level 2.  Killed by a jackal.    -  [15]"
_TOP_TEN_ENTRY = re.compile(r"Agent-\S+\s+(?P<text>.+?)\s+(?:-|\d+)\s+\[\s*\d+\]")


class TerminalFrame(TypedDict):
    rows: list[str]  # the 24x80 terminal's text
    colors: list[str]  # one hex digit per cell: NetHack colour 0-15 (TERMINAL_PALETTE)
    cursor: list[int]  # [row, col]


class NetHackStats(TypedDict, total=False):  # the bottom-line stats, once the game runs
    depth: int
    experience_level: int
    hp: int
    hp_max: int
    turn: int


class NetHackHud(Hud, NetHackStats):
    pass


def end_screen_text(tty_chars: NDArray[np.uint8]) -> str:
    """The game's own account of how it ended, read from the top-ten list.

    NetHack writes the list as one stream wrapped at the terminal width, so
    the rows are joined without separators before reading it."""
    stream = " ".join("".join(describe.screen_rows(tty_chars)).split())
    match = _TOP_TEN_ENTRY.search(stream)
    return match.group("text").strip() if match else ""


# ----- seeds and game records ---------------------------------------------------
def derive_seeds(env: str, seed: int) -> tuple[int, int]:
    """NetHack's core and display seeds for an episode seed (stable across
    processes and platforms: a hash, not Python's ``hash``)."""
    digest = hashlib.blake2b(f"{env}:{seed}".encode(), digest_size=16).digest()
    core = int.from_bytes(digest[:8], "little") & SEED_MASK
    disp = int.from_bytes(digest[8:], "little") & SEED_MASK
    return core, disp


def clear_game_records(vardir: str) -> None:
    """Empty the instance's score files: NetHack prints the top-ten list on the
    end screen, which would otherwise show earlier episodes of this instance."""
    for name in ("record", "logfile", "xlogfile"):
        path = os.path.join(vardir, name)
        if os.path.exists(path):
            with open(path, "w"):
                pass


# ----- the adapter ----------------------------------------------------------------
class NLEFamilyAdapter(GameAdapter):
    """The shared adapter of NLE-family games (see the module docstring)."""

    #: BALROG's descriptions of the language actions this game offers
    action_descriptions: ClassVar[Mapping[str, str]]

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        self._env = self._make_env()
        self._game = self._env.unwrapped
        self._keys: tuple[int, ...] = tuple(int(action) for action in self._game.actions)
        self._actions = self._language_actions()
        self._action_set = frozenset(self._actions)
        self._more_index: int | None = self._key_index(int(A.MiscAction.MORE))
        self._obs: dict[str, np.ndarray] | None = None
        self._at_more = False
        self._skipped_message = ""  # messages the automatic --More-- presses dismissed this step
        self._last_live_stats = np.zeros(nh.BLSTATS_SHAPE, dtype=np.int64)

    # ----- subclass hooks ---------------------------------------------------------
    @abstractmethod
    def _make_env(self) -> Any:
        """Build the gymnasium env; it must request ``OBSERVATION_KEYS`` and
        be constructed with ``fix_moon_phase=True``."""

    @abstractmethod
    def _terminal_outcome(self, reward: float, info: Mapping[str, object]) -> RawOutcome:
        """How a game that just ended ended (won / died / other)."""

    def _extra_actions(self) -> list[tuple[str, int]]:
        """Language actions beyond BALROG's named ones: (name, key)."""
        return []

    def _before_reset(self, seed: int) -> JSONObject:
        """Prepare the env for the next reset (e.g. pick a level); return reset facts."""
        return {}

    # ----- actions ----------------------------------------------------------------
    def _key_index(self, key: int) -> int | None:
        try:
            return self._keys.index(key)
        except ValueError:
            return None

    def _language_actions(self) -> dict[str, int]:
        """Language action -> raw index, in the env's action order (as BALROG
        lists them), for every BALROG-named action this env offers."""
        by_key: dict[int, list[str]] = {}
        for name in self.action_descriptions:
            by_key.setdefault(int(ACTION_KEYS[name]), []).append(name)
        actions: dict[str, int] = {}
        for index, key in enumerate(self._keys):
            for name in by_key.get(key, []):
                actions.setdefault(name, index)
        for name, extra_key in self._extra_actions():
            extra_index = self._key_index(extra_key)
            if extra_index is not None:
                actions.setdefault(name, extra_index)
        return actions

    def action_space(self) -> list[str]:
        return list(self._actions)

    def is_valid(self, action: str) -> bool:
        return action in self._action_set

    def _to_raw(self, action: str) -> RawAction:
        return self._actions[action]

    # ----- reset and step -----------------------------------------------------------
    def _reset(self, seed: int) -> JSONObject:
        facts = self._before_reset(seed)
        core, disp = derive_seeds(self.env, seed)
        nethack = self._game.nethack
        clear_game_records(nethack._vardir)
        # NetHackChallenge replaces the instance's seeding methods with ones
        # that raise; the class method still sets the seeds used by the next reset.
        nh.Nethack.set_initial_seeds(nethack, core, disp, False)
        obs, _info = self._env.reset()
        self._obs = obs
        self._skipped_message = ""
        self._at_more = MORE_MARKER in obs["tty_chars"].tobytes()
        np.copyto(self._last_live_stats, obs["blstats"])
        return {"core_seed": core, "disp_seed": disp, "reseed": False, "fix_moon_phase": True, **facts}

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw < len(self._keys):
            raise AdapterStateError(f"not a raw action of this env: {raw!r}")
        self._skipped_message = self._message_carried_over(raw)
        np.copyto(self._last_live_stats, self._require_obs()["blstats"])
        obs, reward, terminated, truncated, info = self._env.step(raw)
        self._obs = obs
        self._at_more = MORE_MARKER in obs["tty_chars"].tobytes()
        # nle's own step limit ends the game as "aborted": usually with
        # terminated=True and truncated=False (it counts the step just taken).
        if truncated or info.get("end_status") == self._game.StepStatus.ABORTED:
            return RawOutcome(float(reward), truncated=True)
        if terminated:
            return self._terminal_outcome(float(reward), info)
        return RawOutcome(float(reward))

    def _message_carried_over(self, raw: int) -> str:
        """BALROG's auto-more joins the messages it skips: "A.--More--" then
        "B." reads "A.\\nB.". Only an Enter on a --More-- screen carries over."""
        if not (self._at_more and raw == self._more_index):
            return ""
        message = describe.message_text(describe.screen_rows(self._require_obs()["tty_chars"]))
        # A long message can push "--More--" onto the next rows, split ("--Mor"
        # / "e--"): the marker is then not in the message text, but still ends it.
        message = message.replace("--More--", "\n") if "--More--" in message else f"{message}\n"
        return self._skipped_message + message

    def _auto_key(self) -> RawAction | None:
        return self._more_index if self._at_more else None

    def _require_obs(self) -> dict[str, np.ndarray]:
        if self._obs is None:
            raise AdapterStateError("the env has not been reset")
        return self._obs

    # ----- views --------------------------------------------------------------------
    def _blstat(self, index: int) -> int:
        stats = self._require_obs()["blstats"]
        # The end screen zeroes the stats: show the last values of the live game.
        if self.done and stats[nh.NLE_BL_DEPTH] == 0:
            stats = self._last_live_stats
        return int(stats[index])

    def message(self, rows: list[str] | None = None) -> str:
        """The step's message as the model reads it (skipped --More-- parts first)."""
        if rows is None:
            rows = describe.screen_rows(self._require_obs()["tty_chars"])
        return self._skipped_message + describe.message_text(rows)

    def observation(self) -> ModelObservation:
        """BALROG's "hybrid" text: message, language observation, cursor and
        map are kept in the history (long term); the inventory is shown for
        the current step only (short term)."""
        obs = self._require_obs()
        rows = describe.screen_rows(obs["tty_chars"])
        cursor = obs["tty_cursor"]
        cursor_text = describe.describe_cursor(obs["glyphs"], obs["blstats"], cursor)
        long_term = [
            ("message", self.message(rows)),
            ("language observation", describe.describe_surroundings(obs["glyphs"], obs["blstats"])),
            ("cursor", f"{cursor_text}\n(x={int(cursor[1])}, y={int(cursor[0])})"),
            ("map", describe.map_text(rows)),
        ]
        inventory = describe.inventory_text(obs["inv_letters"], obs["inv_strs"])
        return ModelObservation(
            long_term="\n".join(f"{name}:\n{text}\n" for name, text in long_term),
            short_term=f"inventory:\n{inventory}\n",
        )

    def frame(self) -> TerminalFrame:
        """The 24x80 terminal: ``rows`` (text), ``colors`` (one hex digit per
        cell: NetHack colour 0-15, see TERMINAL_PALETTE), ``cursor`` [row, col]."""
        obs = self._require_obs()
        cursor = obs["tty_cursor"]
        return {
            "rows": describe.screen_rows(obs["tty_chars"]),
            "colors": colour_rows(obs["tty_colors"]),
            "cursor": [int(cursor[0]), int(cursor[1])],
        }

    def render_png(self) -> bytes:
        obs = self._require_obs()
        cursor = obs["tty_cursor"]
        return render_terminal_png(obs["tty_chars"], obs["tty_colors"], (int(cursor[0]), int(cursor[1])))

    def state_bytes(self) -> bytes:
        obs = self._require_obs()
        parts = [obs[key].tobytes() for key in STATE_KEYS]
        parts.append(self._skipped_message.encode("utf-8"))
        return b"".join(parts)

    def hud(self) -> NetHackHud:
        stats: NetHackStats = {}
        if self._obs is not None:
            stats = {
                "depth": self._blstat(nh.NLE_BL_DEPTH),
                "experience_level": self._blstat(nh.NLE_BL_XP),
                "hp": self._blstat(nh.NLE_BL_HP),
                "hp_max": self._blstat(nh.NLE_BL_HPMAX),
                "turn": self._blstat(nh.NLE_BL_TIME),
            }
        return {**super().hud(), **stats}

    def _action_list_text(self) -> str:
        lines = [
            f"{name}: {self.action_descriptions[name]}" for name in self._actions if name in self.action_descriptions
        ]
        return ",\n".join(lines)

    def close(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            env.close()


def movement_bindings(actions: frozenset[str]) -> list[KeyBinding]:
    """vi keys, their capitals (far moves) and the arrow/navigation keys."""
    table = [
        ("k", "north"),
        ("j", "south"),
        ("h", "west"),
        ("l", "east"),
        ("y", "northwest"),
        ("u", "northeast"),
        ("b", "southwest"),
        ("n", "southeast"),
        ("ArrowUp", "north"),
        ("ArrowDown", "south"),
        ("ArrowLeft", "west"),
        ("ArrowRight", "east"),
        ("Home", "northwest"),
        ("PageUp", "northeast"),
        ("End", "southwest"),
        ("PageDown", "southeast"),
        ("K", "far north"),
        ("J", "far south"),
        ("H", "far west"),
        ("L", "far east"),
        ("Y", "far northwest"),
        ("U", "far northeast"),
        ("B", "far southwest"),
        ("N", "far southeast"),
    ]
    return [KeyBinding(key, action, action) for key, action in table if action in actions]
