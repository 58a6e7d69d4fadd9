"""NetHack and MiniHack as the reference BALROG evaluator shows them.

The reference (balrog-ai/BALROG@af7d1f1) runs balrog-nle 0.9.0, whose dungeons
for a seed differ from nle 1.3's (measured: 0 of 10 first screens alike), so
the game runs in the reference's own engine, in a sidecar process
(``games.nethack.sidecar``): reset and step are proxied, and the sidecar sends
back the reference's texts and the terminal for frames and images.

Options (the choices the reference leaves open, pinned at construction):
* ``clock_utc``: NetHack's wall clock, frozen ("2024-11-01 12:00:00", UTC):
  moon phase and night change the game;
* ``auto_more``: which ``--More--`` handling: "980e1e5" (the reference since
  March 2025) or "fba89e2" (its first public commit, the 2024 runs);
* ``boxoban_level`` (Boxoban tasks): "FILE:N", the N-th level (0-based) of
  that file of the official set, or "draw": as the reference draws it,
  ``random.choice`` over the set's levels (files in sorted name order) right
  after ``random.seed(seed)``.

Actions: NetHack accepts the reference's strings (named actions, letters,
"0"-"9", "00"-"99"); those its language wrapper cannot run (e.g. "73", on
which the reference itself crashes) are invalid answers here: the default
action runs. Raw actions are the language strings themselves; the sidecar
presses the ``--More--`` Enters inside the step, as the reference does.
"""

from __future__ import annotations

import base64
import datetime
import json
import random
import re
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from games.base import GameAdapter, KeyBinding, ModelObservation, RawAction, RawOutcome, TaskInfo
from games.jsontypes import JSONObject, JSONValue
from games.nethack.common import NetHackHud, NetHackStats, TerminalFrame
from games.nethack.minihack import MiniHackAdapter
from games.nethack.nle import NetHackAdapter, progress_facts
from games.nethack.sidecar import EngineGame, SidecarError, available
from games.nethack.sidecar_server import State
from games.nethack.tiles import tile_png
from games.progression import NetHackProgression, ProgressFacts, ProgressionTracker, UnitRewardProgression
from reference.prompts import instruction, valid_actions

DEFAULT_CLOCK = "2024-11-01 12:00:00"
AUTO_MORE_2025 = "980e1e5"
AUTO_MORE_2024 = "fba89e2"
AUTO_MORE_STYLES = (AUTO_MORE_2025, AUTO_MORE_2024)
# The day the reference's --More-- handling changed (commit 980e1e5).
AUTO_MORE_CHANGED = datetime.date(2025, 3, 6)
# Logs do not record when their episodes ran, and NetHack's moon phase needs the
# day. Found by replaying the public submissions (folder date -> run day): the
# 2024-10-30 one replays (98.7 %) only with a new- or full-moon clock (69.4 % with
# its own day), as the golden README says its runs' day was 2024-11-01; the
# 2024-11-15 one replays 100 % with any day tried.
RUN_DAYS: dict[datetime.date, datetime.date] = {
    datetime.date(2024, 10, 30): datetime.date(2024, 11, 1),
    datetime.date(2024, 11, 15): datetime.date(2024, 11, 1),
}
DRAW = "draw"
_CLOCK = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

BOXOBAN_DIR = Path(__file__).resolve().parent.parent / "data" / "boxoban"
MEDIUM_ARCHIVE = BOXOBAN_DIR / "medium-train.tar.xz"
BOXOBAN_SETS = {"MiniHack-Boxoban-Hard-v0": "hard", "MiniHack-Boxoban-Medium-v0": "medium"}
# NetHack's ways to end a game that are a death (nle's how_done names).
DEATHS = frozenset(
    {
        "DIED",
        "CHOKING",
        "POISONING",
        "STARVING",
        "DROWNING",
        "BURNING",
        "DISSOLVED",
        "CRUSHING",
        "STONING",
        "TURNED_SLIME",
        "GENOCIDED",
    }
)


# ----- Boxoban levels (DeepMind's official set, Apache-2.0, games/data/boxoban) ------
def _split_levels(text: str) -> list[str]:
    """A level file's levels as the reference reads them: blocks separated
    by blank lines, the "; N" line dropped, each row ending in a newline."""
    levels: list[str] = []
    block: list[str] = []
    for line in text.splitlines(keepends=True):
        if line != "\n":
            block.append(line)
        else:
            levels.append("".join(block[1:]))
            block = []
    return levels


def _iter_files(level_set: str) -> Iterator[tuple[str, str]]:
    """(file name, text) of every level file of the set, in one pass."""
    if level_set == "hard":
        for path in sorted((BOXOBAN_DIR / "hard").glob("*.txt")):
            yield path.name, path.read_text(encoding="ascii")
        return
    with tarfile.open(MEDIUM_ARCHIVE, "r:xz") as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.name.endswith(".txt") else None
            if handle is not None:
                yield Path(member.name).name, handle.read().decode("ascii")


@lru_cache(maxsize=4)
def level_file(level_set: str, name: str) -> tuple[str, ...]:
    if level_set == "hard":
        return tuple(_split_levels((BOXOBAN_DIR / "hard" / name).read_text(encoding="ascii")))
    with tarfile.open(MEDIUM_ARCHIVE, "r:xz") as archive:
        for member in archive:
            if Path(member.name).name == name and (handle := archive.extractfile(member)) is not None:
                return tuple(_split_levels(handle.read().decode("ascii")))
    raise ValueError(f"no Boxoban file {name!r} in the {level_set} set")


@cache
def level_counts(level_set: str) -> tuple[tuple[str, int], ...]:
    """(file, number of levels) in sorted file order (one pass over the set)."""
    return tuple(sorted((name, len(_split_levels(text))) for name, text in _iter_files(level_set)))


def draw_level(level_set: str, seed: int) -> str:
    """The reference's draw: ``random.seed(seed); random.choice(levels)``
    (only the list's length matters to ``choice``)."""
    counts = level_counts(level_set)
    index = random.Random(seed).choice(range(sum(count for _name, count in counts)))
    for name, count in counts:
        if index < count:
            return f"{name}:{index}"
        index -= count
    raise AssertionError("unreachable")


def level_text(level_set: str, choice: str) -> str:
    name, _, number = choice.rpartition(":")
    levels = level_file(level_set, name)
    index = int(number)
    if not 0 <= index < len(levels):
        raise ValueError(f"{name} has no level {index}")
    return levels[index]


# ----- the adapters -----------------------------------------------------------------
_ENGINE_ACTIONS: dict[tuple[str, str], frozenset[str]] = {}


def _engine_actions(env: str, task: str) -> frozenset[str] | None:
    """The actions the reference's engine accepts and runs for ``task``; None
    (every key) when no engine can start here. Kept once known."""
    known = _ENGINE_ACTIONS.get((env, task))
    if known is not None or not available():
        return known
    game = EngineGame(DEFAULT_CLOCK)
    try:
        made = game.make(env, task, AUTO_MORE_2025)
    except SidecarError:
        return None  # not kept: the next page asks again
    finally:
        game.close()
    known = _ENGINE_ACTIONS[(env, task)] = frozenset(made["accepted"]) & frozenset(made["runnable"])
    return known


class _AcceptedKeyBindings:
    """``key_bindings()`` on the class lists every key of the game; on an
    adapter, only the keys whose action it accepts: a key for another action
    would play the default action instead."""

    def __init__(self, every: Callable[[], list[KeyBinding]]) -> None:
        self.every = every

    def __get__(self, adapter: GameAdapter | None, owner: type) -> Callable[[], list[KeyBinding]]:
        if adapter is None:
            return self.every
        return lambda: [binding for binding in self.every() if adapter.is_valid(binding.action)]


class _ReferenceNLEFamily(GameAdapter):
    """Shared by both: the sidecar, the texts, the frames."""

    adapter_version = "ref-1"
    no_progress_limit = None  # NetHack's own no-progress abort ends the game (truncated)
    base: ClassVar[type[GameAdapter]]

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        clock = str(self.options.setdefault("clock_utc", DEFAULT_CLOCK))
        if not _CLOCK.match(clock):
            raise ValueError(f"clock_utc must read YYYY-MM-DD HH:MM:SS, not {clock!r}")
        style = str(self.options.setdefault("auto_more", AUTO_MORE_2025))
        if style not in AUTO_MORE_STYLES:
            raise ValueError(f"auto_more must be one of {AUTO_MORE_STYLES}, not {style!r}")
        self._sidecar = EngineGame(clock)
        self._runnable: frozenset[str] | None = None
        self._accepted: list[str] = []
        self._state: State | None = None

    @classmethod
    def tasks(cls) -> list[TaskInfo]:
        return cls.base.tasks()

    @classmethod
    def engine_version(cls) -> str:
        return f"balrog-nle-0.9.0+{cls.env}-reference-adapter-{cls.adapter_version}"

    # ----- the engine ---------------------------------------------------------------
    def _engine(self, fresh: bool = False) -> frozenset[str]:
        if self._runnable is None or fresh:
            made = self._sidecar.make(self.env, self.task, str(self.options["auto_more"]))
            self._runnable = frozenset(made["runnable"])
            self._accepted = self._accepted_actions(list(made["accepted"]))
        return self._runnable

    def _accepted_actions(self, from_engine: list[str]) -> list[str]:
        return from_engine

    def _level_for(self, seed: int) -> tuple[str | None, JSONObject]:
        return None, {}

    def _reset(self, seed: int) -> JSONObject:
        self._engine(fresh=True)  # a reset may follow an engine that died: it starts one
        level, facts = self._level_for(seed)
        self._state = self._sidecar.reset(seed, level)
        return {"core_seed": seed, "disp_seed": seed, "clock_utc": self.options["clock_utc"], **facts}

    def action_space(self) -> list[str]:
        self._engine()
        return list(self._accepted)

    def is_valid(self, action: str) -> bool:
        # Accepted by the reference's check but not runnable by its wrapper
        # ("73"): the reference crashes; here it is an invalid answer.
        return action in self._engine() and action in self._accepted

    def _to_raw(self, action: str) -> RawAction:
        return action

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        if not isinstance(raw, str) or raw not in self._engine():
            raise ValueError(f"not a {self.env} action: {raw!r}")
        state = self._sidecar.step(raw)
        self._state = state
        reward = float(state["reward"])
        if not state["done"]:
            return RawOutcome(reward)
        if state["truncated"]:
            return RawOutcome(reward, truncated=True)
        return self._terminal_outcome(reward, state)

    def _terminal_outcome(self, reward: float, state: State) -> RawOutcome:
        raise NotImplementedError

    def _require_state(self) -> State:
        if self._state is None:
            raise RuntimeError("the episode has not been reset")
        return self._state

    # ----- views --------------------------------------------------------------------
    def observation(self) -> ModelObservation:
        state = self._require_state()
        return ModelObservation(long_term=state["long_term"], short_term=state["short_term"])

    def frame(self) -> TerminalFrame:
        state = self._require_state()
        return {"rows": list(state["rows"]), "colors": list(state["colors"]), "cursor": list(state["cursor"])}

    def render_png(self) -> bytes:
        """The reference's VLM image: the glyph map in 16x16 tiles (games.nethack.tiles)."""
        return tile_png(self._glyphs())

    def _glyphs(self) -> list[int]:
        """The flattened glyph map; the engine sends it as base64 int16, read only here."""
        data = base64.b64decode(self._require_state()["glyphs16"])
        glyphs: list[int] = np.frombuffer(data, dtype="<i2").tolist()
        return glyphs

    def state_bytes(self) -> bytes:
        state = self._require_state()
        fields: list[list[str] | list[int] | str] = [state[key] for key in ("rows", "colors", "cursor", "blstats")]
        fields += [self._glyphs(), state["long_term"], state["short_term"]]
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")

    def digest(self) -> str:
        # The engine computes it from its own arrays (sidecar_server.state_digest): the
        # same bytes as state_digest(self.state_bytes()), without re-encoding every step.
        return str(self._require_state()["digest"])

    def instructions(self) -> str:
        return instruction(self.env, self.task)

    def hud(self) -> NetHackHud:
        stats: NetHackStats = {}
        if self._state is not None:
            blstats = self._state["blstats"]
            stats = {"depth": int(blstats[12]), "experience_level": int(blstats[18]), "turn": int(blstats[20])}
        return {**super().hud(), **stats}

    def close(self) -> None:
        self._sidecar.close()


class ReferenceNetHackAdapter(_ReferenceNLEFamily):
    env = "nle"
    default_action = "esc"
    base = NetHackAdapter

    # NetHack's keys, on an adapter only those the reference accepts ("minus",
    # "apos" and "travel" are not among its strings: they would play "esc").
    key_bindings = _AcceptedKeyBindings(NetHackAdapter.key_bindings)

    @classmethod
    def task_actions(cls, task: str) -> frozenset[str] | None:
        # The reference's strings live in its engine (no list of them ships
        # with the prompts): asked once per process, for the Controls table.
        return _engine_actions(cls.env, task)

    def make_tracker(self) -> ProgressionTracker:
        return NetHackProgression()

    def _progress_facts(self) -> ProgressFacts:
        return progress_facts(self._require_state()["blstats"])

    def _terminal_outcome(self, reward: float, state: State) -> RawOutcome:
        how = str(state.get("how_done", ""))
        detail = describe_end(state["rows"]) or how.lower()
        return RawOutcome(reward, terminated=True, won=how == "ASCENDED", died=how in DEATHS, detail=detail)


class ReferenceMiniHackAdapter(_ReferenceNLEFamily):
    env = "minihack"
    default_action = "north"
    base = MiniHackAdapter

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        super().__init__(task, options)
        if task in BOXOBAN_SETS:
            choice = str(self.options.setdefault("boxoban_level", DRAW))
            if choice != DRAW:
                level_text(BOXOBAN_SETS[task], choice)  # a bad choice fails here, not at reset

    # Every MiniHack key; on an adapter only its task's (Boxoban: four moves).
    key_bindings = _AcceptedKeyBindings(MiniHackAdapter.key_bindings)

    @classmethod
    def task_actions(cls, task: str) -> frozenset[str] | None:
        return frozenset(valid_actions(cls.env, task) or ())

    def _accepted_actions(self, from_engine: list[str]) -> list[str]:
        return valid_actions(self.env, self.task) or []

    def make_tracker(self) -> ProgressionTracker:
        return UnitRewardProgression()

    def _level_for(self, seed: int) -> tuple[str | None, JSONObject]:
        level_set = BOXOBAN_SETS.get(self.task)
        if level_set is None:
            return None, {}
        choice = str(self.options["boxoban_level"])
        if choice == DRAW:
            choice = draw_level(level_set, seed)
        return level_text(level_set, choice), {"boxoban_level": choice}

    def _terminal_outcome(self, reward: float, state: State) -> RawOutcome:
        status = str(state.get("end_status", ""))
        if status == "TASK_SUCCESSFUL":
            return RawOutcome(reward, terminated=True, won=True, detail="task solved")
        if status == "DEATH":
            return RawOutcome(reward, terminated=True, died=True, detail=describe_end(state["rows"]) or "died")
        return RawOutcome(reward, terminated=True, detail=status.lower())


def describe_end(rows: Sequence[str]) -> str:
    from games.nethack.common import end_screen_text

    return end_screen_text(np.array([list(row.encode("latin-1")) for row in rows], dtype=np.uint8))


# ----- replaying logged 2024 episodes --------------------------------------------------
def log_options(task: str, seed: int, observations: list[str], submitted: datetime.date) -> JSONObject:
    """Adapter options that replay one logged episode of a submission: the
    clock at noon UTC of the run's day (``RUN_DAYS``, else the submission day),
    the --More-- handling live then, and for Boxoban the level whose walls and
    goals the first map shows."""
    run_day = RUN_DAYS.get(submitted, submitted)
    options: JSONObject = {
        "clock_utc": f"{run_day.isoformat()} 12:00:00",
        "auto_more": AUTO_MORE_2024 if submitted < AUTO_MORE_CHANGED else AUTO_MORE_2025,
    }
    level_set = BOXOBAN_SETS.get(task)
    if level_set is not None and observations:
        found = find_level(level_set, observations[0])
        if found is not None:
            options["boxoban_level"] = found
    return options


def _map_rows(long_term: str) -> list[str]:
    _head, _, tail = long_term.partition("\nmap:\n")
    return tail.split("\n")


def _signature(rows: Sequence[str], walls: str, goals: str) -> str | None:
    """Wall and goal cells inside the walls' bounding box, as one string."""
    cells = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in walls]
    if not cells:
        return None
    top, bottom = min(r for r, _ in cells), max(r for r, _ in cells)
    left, right = min(c for _, c in cells), max(c for _, c in cells)
    lines = []
    for row in rows[top : bottom + 1]:
        padded = row.ljust(right + 1)[left : right + 1]
        lines.append("".join("#" if ch in walls else "." if ch in goals else " " for ch in padded))
    return "\n".join(lines)


def find_level(level_set: str, long_term: str) -> str | None:
    """The level ("FILE:N") whose walls (iron bars, ``#``) and goals (fountains,
    ``{``) the map shows; the first in sorted order when several fit."""
    rows = _map_rows(long_term)
    wanted, walls = _signature(rows, "#", "{"), _signature(rows, "#", "")
    if wanted is None:
        return None
    exact: list[tuple[str, int]] = []
    by_walls: list[tuple[str, int]] = []
    wall_count = wanted.count("#")
    for name, text in _iter_files(level_set):
        for index, level in enumerate(_split_levels(text)):
            if level.count("#") != wall_count:
                continue  # cheap first test: the number of wall cells
            level_rows = level.split("\n")
            if _signature(level_rows, "#", ".") == wanted:
                exact.append((name, index))
            elif not exact and _signature(level_rows, "#", "") == walls:
                by_walls.append((name, index))  # a goal may be under a boulder already
    found = exact or by_walls
    return "{}:{}".format(*min(found)) if found else None
