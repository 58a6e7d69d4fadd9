"""TextWorld as BALROG plays it: treasure_hunter, the_cooking_game, coin_collector.

Facts from the reference evaluator (BALROG ``balrog/environments/textworld``
and ``balrog/config/config.yaml``):

* the game is a pre-generated file picked as ``seed % number_of_games`` (our
  pools: ``games.textworld.pool``); 80 steps per episode;
* any text is a valid action (it is typed into the game); the default action
  is ``help``;
* the model's text is the game's answer. On the opening text, everything up
  to and including the objective (TextWorld's ASCII banner) is cut off;
* progression is max(score / max_score, 1 if won else 0) at the end.

Which game a seed picks depends on the pool size (the setting
BALROG_TEXTWORLD_POOL_SIZE, or ``options["pool_size"]``, which pins it for an
episode's replays); the reset facts name the game file and its digest.

This adapter adds to BALROG's text a short-term part with the objective and
the score (BALROG leaves short-term empty, and its opening text hides the
objective, so a model had to type ``goal``); ``options={"balrog_text": True}``
drops it. Unlike BALROG, the answer to ``goal`` keeps the objective (BALROG's
cut, applied to every step, left an empty observation there).

Raw actions are the commands as typed (control characters removed, spaces
collapsed). ``save``, ``restore``, ``restart`` and ``script``/``transcript``
are answered by the adapter without reaching the game: saves and transcripts
are files in the working directory (a replay would depend on the disk), and
``restart`` desynchronises TextWorld's state tracking. The Z-machine's random
generator is seeded from the episode seed, so a (seed, commands) log replays
exactly.
"""

from __future__ import annotations

import json
import re
import textwrap
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import ClassVar, TypedDict, cast

import jericho
import textworld
from PIL import Image, ImageDraw, ImageFont

from games.base import (
    AdapterStateError,
    GameAdapter,
    Hud,
    KeyBinding,
    ModelObservation,
    RawAction,
    RawOutcome,
    TaskInfo,
)
from games.images import png_bytes
from games.jsontypes import JSONObject, JSONValue
from games.progression import ProgressFacts, ProgressionTracker, TextWorldProgression
from games.textworld import pool

STEP_CAP = 80
EPISODES_PER_TASK = 10
# Jericho's input buffer: a longer command would be cut silently.
MAX_COMMAND_BYTES = 198
# Inform reads the first 9 letters of a word (Z-machine v8 dictionary resolution).
DICTIONARY_WORD_LETTERS = 9
BLOCKED_VERBS = frozenset(
    verb[:DICTIONARY_WORD_LETTERS] for verb in ("save", "restore", "restart", "script", "transcript")
)
BLOCKED_MESSAGE = "Saving, restoring, restarting and transcripts are disabled in this game."
# Derived Z-machine seeds stay positive: Jericho treats 0 as "no seed" (time-based).
JERICHO_SEED_MODULUS = 2**31 - 1

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")
# Jericho appends the upper window (status bar "-= Room =-score/turns") and the prompt.
_STATUS_BAR = re.compile(r"[ \t]*-= [^\n]*=-\d+/\d+\s*\Z")
_PROMPT = re.compile(r"\n>\s*\Z")
_BLANK_LINES = re.compile(r"\n{3,}")

REQUEST_INFOS = textworld.EnvInfos(
    objective=True,
    score=True,
    max_score=True,
    won=True,
    lost=True,
    moves=True,
    inventory=True,
    admissible_commands=True,
    verbs=True,
    extras=["walkthrough"],
)

PNG_COLUMNS = 80
PNG_MAX_LINES = 60
PNG_FONT_SIZE = 14
PNG_MARGIN = 12
PNG_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)

_TASKS: tuple[tuple[str, str, str], ...] = (
    (
        "treasure_hunter",
        "Treasure Hunter",
        "Explore a 20-room maze with locked doors and containers and pick up the object the "
        "objective names; picking up the wrong object loses the game.",
    ),
    (
        "the_cooking_game",
        "The Cooking Game",
        "Find the cookbook, gather the five ingredients of its recipe across twelve rooms, "
        "cut and cook them as it says, then prepare the meal and eat it.",
    ),
    (
        "coin_collector",
        "Coin Collector",
        "Find the coin in a maze of 60 rooms full of dead ends and take it.",
    ),
)

_COMMON_RULES = (
    "You are playing TextWorld, a text adventure. Each of your answers is typed into the game "
    "as one command (any text is accepted; an empty answer sends `help`). The game answers in "
    "text. You have {cap} commands; restarting, saving and restoring are disabled.\n\n"
    "Useful commands:\n"
    "  look: describe the current room\n"
    "  goal: repeat the objective of the game\n"
    "  inventory: list what you carry\n"
    "  go north / go south / go east / go west: move through an exit or an open door\n"
)
_OBJECT_COMMANDS = (
    "  examine X: look at something closely\n"
    "  open X / close X: a door or a container (a closed door blocks the way)\n"
    "  take X: pick up an object you can see\n"
    "  take X from Y: take an object out of a container or off a supporter\n"
    "  drop X: put an object on the floor\n"
    "  put X on Y / insert X into Y: place an object on a supporter or into a container\n"
    "  unlock X with Y / lock X with Y: a door or a container, with the matching key\n"
)
_TASK_RULES = {
    "treasure_hunter": (
        "\nGoal: find the object named in the objective and take it. Rooms may be behind closed "
        "or locked doors and the object may be inside a closed or locked container. A key's "
        "adjective tells which lock it fits (a 'rusty key' opens a 'rusty chest'). Keys you "
        "start with or find are for doors and containers on the way. An unlocked door or "
        "container is still closed: open it. Do not pick up the other object lying around: "
        "taking it loses the game."
    ),
    "the_cooking_game": (
        "  eat X: eat something edible\n"
        "  slice X with Y / chop X with Y / dice X with Y: cut food with something sharp (a knife)\n"
        "  cook X with Y: cook food with a heat source (stove: fried, oven: roasted, BBQ: grilled)\n"
        "  prepare meal: combine the recipe's ingredients you carry into the meal (kitchen only)\n"
        "\nGoal: read the cookbook (examine cookbook) in the kitchen, find every ingredient of "
        "the recipe (containers and doors may need opening), carry them, cut and cook each one "
        "exactly as the recipe says, then `prepare meal` in the kitchen and `eat meal`. Names "
        "must match the recipe exactly (a 'red apple' is not a 'green apple'). To cut, hold the "
        "knife and the ingredient; to cook, hold the ingredient and stand by the right "
        "appliance. Cutting or cooking an ingredient the wrong way, or eating the wrong thing, "
        "loses the game."
    ),
    "coin_collector": (
        "  take coin: pick up the coin once you see it\n"
        "\nGoal: find the room with the coin and take it. Only moving and taking the coin "
        "matter. Many exits lead into dead ends: keep track of the rooms you have visited and "
        "the exits you have not tried."
    ),
}


@dataclass(frozen=True)
class GameView:
    """What one step of the game showed (cleaned text and numbers)."""

    command: str | None  # the command that produced ``text`` (None: the opening text)
    text: str
    score: int
    max_score: int
    moves: int
    won: bool
    lost: bool
    inventory: str
    admissible: tuple[str, ...]


class TextWorldFrame(TypedDict):
    command: str | None  # the command that produced ``text`` (None: the opening text)
    text: str
    objective: str
    score: int
    max_score: int
    moves: int
    won: bool
    lost: bool
    inventory: str
    admissible: list[str]
    verbs: list[str]


class TextWorldScore(TypedDict, total=False):  # once a game is loaded
    score: int
    max_score: int
    moves: int


class TextWorldHud(Hud, TextWorldScore):
    pass


class TextWorldAdapter(GameAdapter):
    env: ClassVar[str] = "textworld"
    title = "TextWorld"
    blurb = "Text adventures: explore by typing commands, find the treasure, cook the meal."
    renderer = "text"
    default_action: ClassVar[str] = "help"
    adapter_version: ClassVar[str] = "1"
    accepts_free_text: ClassVar[bool] = True
    # Told to the browser (play.services.command_limits), which checks a typed command before sending it.
    max_command_bytes: ClassVar[int | None] = MAX_COMMAND_BYTES
    #: what the env reports besides the text (the reference protocol asks for less: see reference.py)
    request_infos: ClassVar[textworld.EnvInfos] = REQUEST_INFOS

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        # Pinned at creation and stored with the episode: a later change of
        # BALROG_TEXTWORLD_POOL_SIZE must not remap an old seed to another game.
        self.options.setdefault("pool_size", pool.pool_size())
        self._tw_env: textworld.Environment | None = None
        self._game_file: Path | None = None
        self._game_digest = ""
        self._objective = ""
        self._verbs: tuple[str, ...] = ()
        self._walkthrough: tuple[str, ...] = ()
        self._view: GameView | None = None
        self._state_bytes: bytes | None = None

    # ----- catalogue -------------------------------------------------------
    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return [
            TaskInfo(cls.env, task, title, description, STEP_CAP, EPISODES_PER_TASK)
            for task, title, description in _TASKS
        ]

    @classmethod
    def key_bindings(cls) -> list[KeyBinding]:
        return []  # typed commands: the browser shows a command line

    @classmethod
    def prepare(cls, task: str, *, force: bool = False) -> str:
        cls.task_by_name(task)
        return pool.prepare_pool(task, pool.pool_size(), force=force)

    @classmethod
    def engine_version(cls) -> str:
        return f"textworld-{textworld.__version__}+jericho-{jericho.__version__}+adapter-{cls.adapter_version}"

    def make_tracker(self) -> ProgressionTracker:
        return TextWorldProgression()

    # ----- env ---------------------------------------------------------------
    def _pool_size(self) -> int:
        """``options["pool_size"]`` pins the pool an episode was played on;
        otherwise the setting BALROG_TEXTWORLD_POOL_SIZE."""
        size = int(cast(int | str, self.options.get("pool_size") or pool.pool_size()))  # options are JSON
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        return size

    def _reset(self, seed: int) -> JSONObject:
        size = self._pool_size()
        index = seed % size
        game_file = pool.ensure_game(self.task, index)
        digest = pool.game_digest(game_file)
        env = self._open(game_file, digest)
        jericho_seed = 1 + (seed // size) % JERICHO_SEED_MODULUS
        env.seed(jericho_seed)
        state = env.reset()
        self._objective = str(state["objective"] or "")
        self._verbs = tuple(state["verbs"] or ())
        self._walkthrough = tuple(state["extra.walkthrough"] or ())
        opening = _after_objective(clean_feedback(state.feedback), self._objective)
        self._set_view(self._view_from(state, command=None, text=opening))
        spec = pool.spec_for(self.task)
        return {
            "game_index": index,
            "pool_size": size,
            "game_file": game_file.name,
            "game_digest": digest,
            "generator": {**spec.describe(), "seed": _seed_from_stem(game_file.stem)},
            "jericho_seed": jericho_seed,
        }

    def _open(self, game_file: Path, digest: str) -> textworld.Environment:
        """The env for this game file, reused while the file is unchanged."""
        if self._tw_env is not None and self._game_file == game_file and self._game_digest == digest:
            return self._tw_env
        self.close()
        with warnings.catch_warnings():
            # Jericho knows only published games; TextWorld tracks score and moves itself.
            warnings.simplefilter("ignore", jericho.UnsupportedGameWarning)
            self._tw_env = textworld.start(str(game_file), request_infos=self.request_infos)
        self._game_file, self._game_digest = game_file, digest
        return self._tw_env

    def _to_raw(self, action: str) -> RawAction:
        return clean_command(action)

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        before = self._current()
        env = self._tw_env
        if env is None:
            raise AdapterStateError("step before reset")
        command = clean_command(str(raw))
        if is_blocked(command):
            self._set_view(replace(before, command=command, text=BLOCKED_MESSAGE))
            return RawOutcome(0.0)
        state, _, done = env.step(command)
        view = self._view_from(state, command=command, text=clean_feedback(state.feedback))
        self._set_view(view)
        # TextWorld's gym env reports the running score; the reward here is its change.
        return RawOutcome(
            reward=float(view.score - before.score),
            terminated=bool(done or view.won or view.lost),
            won=view.won,
            detail="lost" if view.lost and not view.won else "",
        )

    def _progress_facts(self) -> ProgressFacts:
        view = self._current()
        return {"score": view.score, "max_score": view.max_score, "won": view.won}

    def _view_from(self, state: textworld.GameState, *, command: str | None, text: str) -> GameView:
        return GameView(
            command=command,
            text=text,
            score=int(state["score"] or 0),
            max_score=int(state["max_score"] or 0),
            moves=int(state["moves"] or 0),
            won=bool(state["won"]),
            lost=bool(state["lost"]),
            inventory=clean_feedback(str(state["inventory"] or "")),
            admissible=tuple(state["admissible_commands"] or ()),
        )

    def _set_view(self, view: GameView) -> None:
        self._view = view
        self._state_bytes = None

    def _current(self) -> GameView:
        if self._view is None:
            raise AdapterStateError("no game state before reset")
        return self._view

    # ----- views ---------------------------------------------------------------
    def action_space(self) -> list[str]:
        """TextWorld's admissible commands (any other text is valid too)."""
        return list(self._current().admissible) or [self.default_action]

    def is_valid(self, action: str) -> bool:
        return 0 < len(clean_command(action).encode("utf-8")) <= MAX_COMMAND_BYTES

    def walkthrough(self) -> list[str]:
        """The generator's solution of this game, from its start."""
        return list(self._walkthrough)

    def observation(self) -> ModelObservation:
        view = self._current()
        if self.options.get("balrog_text"):
            return ModelObservation(view.text)
        status = f"Objective: {self._objective}\nScore: {view.score} out of {view.max_score}. Moves: {view.moves}."
        return ModelObservation(view.text, status)

    def frame(self) -> TextWorldFrame:
        view = self._current()
        return {
            "command": view.command,
            "text": view.text,
            "objective": self._objective,
            "score": view.score,
            "max_score": view.max_score,
            "moves": view.moves,
            "won": view.won,
            "lost": view.lost,
            "inventory": view.inventory,
            "admissible": list(view.admissible),
            "verbs": list(self._verbs),
        }

    def state_bytes(self) -> bytes:
        if self._state_bytes is None:
            view = self._current()
            fields = [
                self._objective,
                view.text,
                view.score,
                view.max_score,
                view.moves,
                view.won,
                view.lost,
                view.inventory,
            ]
            self._state_bytes = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        return self._state_bytes

    def render_png(self) -> bytes:
        view = self._current()
        font = _png_font()
        lines = self._png_lines(view)
        char_width = font.getlength("M")
        line_height = int(PNG_FONT_SIZE * 1.35)
        width = int(2 * PNG_MARGIN + char_width * PNG_COLUMNS)
        height = 2 * PNG_MARGIN + line_height * len(lines)
        image = Image.new("RGB", (width, height), (16, 16, 16))
        draw = ImageDraw.Draw(image)
        for row, (line, colour) in enumerate(lines):
            draw.text((PNG_MARGIN, PNG_MARGIN + row * line_height), line, font=font, fill=colour)
        return png_bytes(image)

    def _png_lines(self, view: GameView) -> list[tuple[str, tuple[int, int, int]]]:
        header = f"{self.task_info.title}  score {view.score}/{view.max_score}  moves {view.moves}"
        lines = [(header, (250, 200, 90))]
        lines += [(line, (140, 200, 250)) for line in _wrap(f"Objective: {self._objective}")]
        lines.append(("", (0, 0, 0)))
        if view.command is not None:
            lines.append((f"> {view.command}", (160, 240, 160)))
        lines += [(line, (225, 225, 225)) for line in _wrap(view.text)]
        if len(lines) > PNG_MAX_LINES:
            lines = [*lines[: PNG_MAX_LINES - 1], ("[...]", (150, 150, 150))]
        return lines

    def instructions(self) -> str:
        extra = "" if self.task == "coin_collector" else _OBJECT_COMMANDS
        return _COMMON_RULES.format(cap=STEP_CAP) + extra + _TASK_RULES[self.task]

    def hud(self) -> TextWorldHud:
        score: TextWorldScore = {}
        if self._view is not None:
            score = {"score": self._view.score, "max_score": self._view.max_score, "moves": self._view.moves}
        return {**super().hud(), **score}

    def close(self) -> None:
        if self._tw_env is not None:
            self._tw_env.close()
        self._tw_env = None
        self._game_file = None
        self._game_digest = ""


# ----- text helpers ----------------------------------------------------------------
def clean_command(text: str) -> str:
    """A typed command as sent to the game: no control characters, single spaces."""
    return _SPACES.sub(" ", _CONTROL_CHARS.sub(" ", text)).strip()


def is_blocked(command: str) -> bool:
    """True if any word is one of the file or restart verbs (Inform reads
    several sentences per line, so any word counts, as Inform spells it)."""
    words = _WORD.findall(command.lower())
    return any(word[:DICTIONARY_WORD_LETTERS] in BLOCKED_VERBS for word in words)


def clean_feedback(text: str) -> str:
    """The game's answer without Jericho's status bar and prompt."""
    text = _PROMPT.sub("", _STATUS_BAR.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _after_objective(text: str, objective: str) -> str:
    """BALROG's cut of the opening text: drop everything up to the objective."""
    if not objective or objective not in text:
        return text
    return text.split(objective)[-1].strip()


def _seed_from_stem(stem: str) -> int | None:
    _, _, seed = stem.rpartition("-seed")
    return int(seed) if seed.isdigit() else None


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines += textwrap.wrap(paragraph, PNG_COLUMNS) or [""]
    return lines


@cache
def _png_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in PNG_FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, PNG_FONT_SIZE)
    return ImageFont.load_default(size=PNG_FONT_SIZE)
