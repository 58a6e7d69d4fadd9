"""The one interface every BALROG game implements.

An adapter wraps one environment instance. The base class owns everything
that must be identical across games and across replays: step counting, the
step cap, the no-progress rule, progression updates and end reasons. A
subclass only translates language actions to raw env actions, executes raw
actions, and describes the state (model text, human frame, image, digest).

Invariant: ``step(action)`` and ``replay(executed)`` go through the same
``_run_raw`` path, so a replay of the recorded raw actions reproduces the
same rewards, progression, end reason and digests as the live step did.
"""

from __future__ import annotations

import enum
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

from games.jsontypes import JSONObject, JSONValue
from games.outcome import RawOutcome as RawOutcome  # re-exported: part of the adapter interface
from games.progression import ProgressFacts, ProgressionTracker

# A raw env action as logged: an int index into the env's action set, or a
# string (TextWorld commands). Always JSON-serializable.
RawAction = int | str

# Guard against a game that keeps asking for automatic keys forever.
MAX_AUTO_KEYS_PER_STEP = 64


class EndReason(enum.StrEnum):
    WON = "won"
    DIED = "died"
    LOST = "lost"  # the game ended without a win or a death (e.g. TextWorld "lost")
    STEP_CAP = "step_cap"
    NO_PROGRESS = "no_progress"
    ABANDONED = "abandoned"
    ERROR = "error"


@dataclass(frozen=True)
class TaskInfo:
    env: str
    task: str
    title: str
    description: str  # what the task asks of the player, one or two sentences
    step_cap: int | None  # None: the env's own limit applies
    episodes_per_task: int  # count in BALROG's reference protocol


@dataclass(frozen=True)
class KeyBinding:
    """A browser key (KeyboardEvent.key value) and the language action it sends."""

    key: str
    action: str
    label: str = ""


@dataclass(frozen=True)
class ModelObservation:
    """Text for the model, in BALROG's two parts.

    ``long_term`` is kept in the prompt history; ``short_term`` is shown only
    for the current step (e.g. NetHack's map and cursor).
    """

    long_term: str
    short_term: str = ""

    @property
    def text(self) -> str:
        return self.long_term if not self.short_term else f"{self.long_term}\n\n{self.short_term}"


@dataclass
class StepResult:
    action: str  # the language action that was executed (the default one if invalid)
    valid: bool
    executed: list[RawAction]
    reward: float
    progression: float
    done: bool
    end_reason: EndReason | None = None
    end_detail: str = ""


# The browser's HUD numbers every game shows ("return" is a keyword: the functional syntax).
Hud = TypedDict(
    "Hud", {"steps": int, "progression": float, "return": float, "done": bool, "end_reason": str | None}
)


class InvalidTask(ValueError):
    pass


class AdapterStateError(RuntimeError):
    """The adapter was used out of order (step before reset, step after done)."""


@dataclass
class _Counters:
    steps: int = 0
    episode_return: float = 0.0
    steps_since_progress: int = 0
    progress_marker: Hashable = None  # the marker after the previous step (or the reset)
    done: bool = False
    end_reason: EndReason | None = None
    end_detail: str = ""
    extra: JSONObject = field(default_factory=dict)
    last_action: str = ""  # the language action the last step executed
    last_valid: bool = True  # whether the answer behind it was valid


class GameAdapter(ABC):
    #: BALROG's env key: babyai, crafter, textworld, babaisai, minihack, nle
    env: ClassVar[str]
    #: the catalogue's name and one-line description of the game (games.catalogue)
    title: ClassVar[str] = ""
    blurb: ClassVar[str] = ""
    #: the browser's renderer of frame(): grid, crafter, terminal, text (static/play/)
    renderer: ClassVar[str] = "generic"
    #: executed when an answer is not a valid action (balrog-protocol.md)
    default_action: ClassVar[str]
    #: bump when a change alters what a recorded action log replays to
    adapter_version: ClassVar[str] = "1"
    #: TextWorld accepts any text as a command
    accepts_free_text: ClassVar[bool] = False
    #: end the episode after this many steps without a progression increase
    no_progress_limit: ClassVar[int | None] = None

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        self.task_info = self.task_by_name(task)
        self.task = task
        # Stored with the episode after construction: an adapter may pin
        # defaults here (e.g. TextWorld's pool size) so rebuilds never drift.
        self.options: JSONObject = dict(options or {})
        self.seed: int | None = None
        self.tracker = self.make_tracker()
        self._c = _Counters()

    # ----- catalogue -------------------------------------------------------
    @classmethod
    @abstractmethod
    def tasks(cls) -> list[TaskInfo]:
        """Every task of this game in BALROG's reference set, in its order."""

    @classmethod
    def task_by_name(cls, task: str) -> TaskInfo:
        for info in cls.tasks():
            if info.task == task:
                return info
        raise InvalidTask(f"{cls.env} has no task {task!r}")

    @classmethod
    @abstractmethod
    def key_bindings(cls) -> list[KeyBinding]:
        """Keyboard controls for human play (the browser renders this table)."""

    @classmethod
    def task_actions(cls, task: str) -> frozenset[str] | None:
        """The language actions ``task`` accepts, where the class knows them
        without an env (None: every action its keys send)."""
        return None

    @classmethod
    def task_key_bindings(cls, task: str) -> list[KeyBinding]:
        """The keys of ``task``: a key whose action the task refuses would
        play the default action instead, so the controls leave it out."""
        accepted = cls.task_actions(task)
        bindings = cls.key_bindings()
        return bindings if accepted is None else [binding for binding in bindings if binding.action in accepted]

    @classmethod
    def prepare(cls, task: str, *, force: bool = False) -> str:
        """Build offline assets a task needs (generated game files, level
        sets) under settings.BALROG_GAME_DATA_DIR; idempotent. Returns a line
        saying what was done."""
        return ""

    @classmethod
    def engine_version(cls) -> str:
        """Identifies the code a log replays against (package + adapter versions)."""
        return f"{cls.env}-adapter-{cls.adapter_version}"

    # ----- subclass hooks ------------------------------------------------------
    @abstractmethod
    def make_tracker(self) -> ProgressionTracker:
        """The BALROG progression rule of this game (from games.progression)."""

    @abstractmethod
    def _reset(self, seed: int) -> JSONObject:
        """Reset the env from ``seed``; return JSON-able facts about the reset
        (derived seeds, level source, level file digest...)."""

    @abstractmethod
    def _to_raw(self, action: str) -> RawAction:
        """Map a valid language action to the raw env action."""

    @abstractmethod
    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        """Execute one raw env action."""

    def _auto_key(self) -> RawAction | None:
        """A raw action to press automatically after a step (NetHack's
        ``--More--``), or None. Recorded in the executed log."""
        return None

    def _progress_marker(self) -> Hashable:
        """The no-progress rule counts steps while this value stays the same
        (by default the progression itself). Read once after the reset and
        once after every step; each step compares with the previous read."""
        return self.tracker.value

    def _progress_facts(self) -> ProgressFacts:
        """Game facts the progression tracker reads after each step
        (Crafter achievements, NetHack depth/level, TextWorld score)."""
        return {}

    @abstractmethod
    def action_space(self) -> list[str]:
        """The valid language actions now (TextWorld: admissible commands)."""

    def is_valid(self, action: str) -> bool:
        return action in self.action_space()

    @abstractmethod
    def observation(self) -> ModelObservation:
        """The model's text observation of the current state."""

    @abstractmethod
    def frame(self) -> Mapping[str, object]:
        """Compact JSON for the browser to draw the current state (each game
        declares its shape; the callers only encode it)."""

    @abstractmethod
    def render_png(self) -> bytes:
        """A PNG of the current state (VLM prompts, thumbnails)."""

    @abstractmethod
    def state_bytes(self) -> bytes:
        """Canonical bytes of the observed state. The model's text observation
        is a pure function of it, so equal digests prove the same state."""

    @abstractmethod
    def instructions(self) -> str:
        """The game's rules, goal and action meanings, for a model's system prompt."""

    def mission(self) -> str | None:
        """The episode's own goal text where the game has one (BabyAI), for
        the reference instruction prompt; None elsewhere."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: most envs hold nothing to release
        """Release env resources."""

    # ----- the template: identical for every game -----------------------------
    def reset(self, seed: int) -> dict[str, Any]:  # JSON facts (JSONObject): Any lets callers read them
        self.seed = seed
        self.tracker.reset()
        self._c = _Counters()
        facts = self._reset(seed)
        self._c.progress_marker = self._progress_marker()
        return facts

    def step(self, action: str) -> StepResult:
        self._require_live()
        valid = self.is_valid(action)
        executed_action = action if valid else self.default_action
        executed: list[RawAction] = [self._to_raw(executed_action)]
        reward, outcome = self._run_raw(executed[0])
        while not (outcome.terminated or outcome.truncated):
            extra = self._auto_key()
            if extra is None or len(executed) >= MAX_AUTO_KEYS_PER_STEP:
                break
            executed.append(extra)
            more, outcome = self._run_raw(extra)
            reward += more
        return self._finish_step(executed_action, valid, executed, reward, outcome)

    def replay(self, executed: Sequence[RawAction], action: str = "", valid: bool = True) -> StepResult:
        """Apply a recorded step: exactly these raw actions, no automatic keys."""
        self._require_live()
        if not executed:
            raise AdapterStateError("a recorded step has no executed actions")
        reward = 0.0
        outcome = RawOutcome(0.0)
        for raw in executed:
            more, outcome = self._run_raw(raw)
            reward += more
        return self._finish_step(action, valid, list(executed), reward, outcome)

    def _run_raw(self, raw: RawAction) -> tuple[float, RawOutcome]:
        outcome = self._apply_raw(raw)
        return outcome.reward, outcome

    def _finish_step(
        self, action: str, valid: bool, executed: list[RawAction], reward: float, outcome: RawOutcome
    ) -> StepResult:
        c = self._c
        c.steps += 1
        c.episode_return += reward
        c.last_action, c.last_valid = action, valid
        after = self.tracker.update(reward=reward, outcome=outcome, facts=self._progress_facts())
        marker = self._progress_marker()
        c.steps_since_progress = 0 if marker != c.progress_marker else c.steps_since_progress + 1
        c.progress_marker = marker
        c.end_reason, c.end_detail = self._end_reason(outcome)
        c.done = c.end_reason is not None
        return StepResult(action, valid, executed, reward, after, c.done, c.end_reason, c.end_detail)

    def _end_reason(self, outcome: RawOutcome) -> tuple[EndReason | None, str]:
        if outcome.terminated:
            if outcome.won:
                return EndReason.WON, outcome.detail
            if outcome.died:
                return EndReason.DIED, outcome.detail
            return EndReason.LOST, outcome.detail
        cap = self.task_info.step_cap
        if outcome.truncated or (cap is not None and self._c.steps >= cap):
            return EndReason.STEP_CAP, ""
        limit = self.no_progress_limit
        if limit is not None and self._c.steps_since_progress >= limit:
            return EndReason.NO_PROGRESS, f"no progress in {limit} steps"
        return None, ""

    def _require_live(self) -> None:
        if self.seed is None:
            raise AdapterStateError("step before reset")
        if self._c.done:
            raise AdapterStateError("the episode has ended")

    # ----- read-only state -----------------------------------------------
    @property
    def steps(self) -> int:
        return self._c.steps

    @property
    def episode_return(self) -> float:
        return self._c.episode_return

    @property
    def progression(self) -> float:
        return self.tracker.value

    @property
    def done(self) -> bool:
        return self._c.done

    @property
    def last_step(self) -> tuple[str, bool]:
        """(the action the last step executed, whether the answer was valid);
        after a reset ("", True)."""
        return self._c.last_action, self._c.last_valid

    @property
    def end_reason(self) -> EndReason | None:
        return self._c.end_reason

    @property
    def end_detail(self) -> str:
        return self._c.end_detail

    def digest(self) -> str:
        return state_digest(self.state_bytes())

    def hud(self) -> Hud:
        """Numbers the browser's HUD shows; games add their own (depth, achievements)."""
        return {
            "steps": self.steps,
            "progression": self.progression,
            "return": self.episode_return,
            "done": self.done,
            "end_reason": self.end_reason.value if self.end_reason else None,
        }


class IndexedActionsAdapter(GameAdapter):
    """A game whose language actions are a fixed tuple and whose raw action
    is the index into it (BabyAI, Crafter, Baba Is AI)."""

    #: the language actions in the env's own order: the index is the raw action
    actions: ClassVar[tuple[str, ...]]
    _action_index: ClassVar[dict[str, int]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "actions" in cls.__dict__:
            # A dict doubles as the validity test and the raw lookup (is_valid runs on every step).
            cls._action_index = {name: index for index, name in enumerate(cls.actions)}

    @classmethod
    def task_actions(cls, task: str) -> frozenset[str] | None:
        return frozenset(cls.actions)

    def action_space(self) -> list[str]:
        return list(self.actions)

    def is_valid(self, action: str) -> bool:
        return action in self._action_index

    def _to_raw(self, action: str) -> RawAction:
        return self._action_index[action]

    def _check_raw(self, raw: RawAction) -> int:
        """``raw`` as an action index; a replayed log may hold anything, and
        bool is an int to Python but never an action."""
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < len(self.actions):
            raise ValueError(f"not a {self.env} action index: {raw!r}")
        return raw


def state_digest(data: bytes) -> str:
    """32 hex digits of BLAKE2b: cheap enough to compute on every step."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()
