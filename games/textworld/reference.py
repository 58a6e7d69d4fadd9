"""TextWorld as the reference BALROG evaluator (balrog-ai/BALROG@af7d1f1) plays it.

Facts from ``balrog/environments/textworld/base.py`` and ``balrog/config/config.yaml``:

* the games are BALROG's 25 pre-generated games per task (``games.textworld.tw_games``), in
  sorted file order; the option ``tw_game_index`` picks one. A new episode defaults to
  ``seed % 25``, what the reference does when ``envs.env_kwargs.seed`` is set (by default it
  walks a per-process counter instead, which no seed reproduces); it is written into
  ``options`` at the reset;
* the env is TextWorld's gym env with request infos objective, description, score,
  max_score and won, and 80 steps per episode for all three tasks;
* any string is a valid action and is sent to the game unchanged (default action ``help``,
  never needed);
* long-term text = the game's answer split on the objective text, the part after its last
  occurrence, stripped; short-term text is empty; no image;
* progression = max(score / max_score, 1 if won) when the episode ends.

Interpreter: the reference's TextWorld fork plays the ``.ulx`` games (coin_collector,
treasure_hunter) with git-glulx, whose answers carry no status bar and lose their final
``\\n>`` prompt; the cooking games are ``.z8`` played with Jericho, whose answers keep the
prompt and the status bar ``-= Room =-score/moves`` (the reference strips only whitespace).
We compile the ``.ulx`` games to ``.z8`` and remove Jericho's framing for them only.

The Z-machine's random generator is seeded from the episode seed (the reference leaves it to
the clock; TextWorld's games draw nothing at random in their texts).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import ClassVar, cast

import jericho
import textworld

from games.base import AdapterStateError, ModelObservation, RawAction, RawOutcome
from games.jsontypes import JSONObject, JSONValue
from games.textworld import tw_games
from games.textworld.adapter import JERICHO_SEED_MODULUS, GameView, TextWorldAdapter
from reference.prompts import instruction

GAME_INDEX_OPTION = "tw_game_index"
# With no seed set, the reference's factory counts episodes per task and process and plays
# index count % 25 after incrementing: a worker's first episode of a task plays index 1.
REFERENCE_FIRST_GAME = 1
# The reference's request infos (config.yaml textworld_kwargs), plus extras read without touching
# the game (lost, moves, verbs, walkthrough). Not "inventory" (TextWorld then sends a command
# at the reset) nor "admissible_commands" (state tracking turns on Inform's action tracing,
# whose removed tags leave extra blank lines): both change the texts.
REQUEST_INFOS = textworld.EnvInfos(
    objective=True,
    description=True,
    score=True,
    max_score=True,
    won=True,
    lost=True,
    moves=True,
    verbs=True,
    extras=["walkthrough"],
)


class ReferenceTextWorldAdapter(TextWorldAdapter):
    adapter_version: ClassVar[str] = "ref1"
    request_infos = REQUEST_INFOS  # the reference's own: asking for more would change its texts
    max_command_bytes: ClassVar[int | None] = None  # the reference's action space is every string

    def __init__(self, task: str, options: Mapping[str, JSONValue] | None = None) -> None:
        given = dict(options or {})
        super().__init__(task, given)
        if "pool_size" not in given:
            self.options.pop("pool_size", None)  # the generated pools are not played here
        self._glulx = False

    @classmethod
    def prepare(cls, task: str, *, force: bool = False) -> str:
        cls.task_by_name(task)
        for index in range(tw_games.game_count(task)):
            tw_games.playable_file(task, index)
        return f"textworld/{task}: {tw_games.game_count(task)} reference games ready"

    @classmethod
    def engine_version(cls) -> str:
        return f"textworld-{textworld.__version__}+jericho-{jericho.__version__}+reference-{cls.adapter_version}"

    # ----- env -------------------------------------------------------------------
    def game_index(self, seed: int) -> int:
        count = tw_games.game_count(self.task)
        index = int(cast(int | str, self.options.get(GAME_INDEX_OPTION, seed % count)))  # options are JSON
        if not 0 <= index < count:
            raise ValueError(f"{GAME_INDEX_OPTION} must be in 0..{count - 1}, got {index}")
        return index

    def _reset(self, seed: int) -> JSONObject:
        index = self.game_index(seed)
        self.options[GAME_INDEX_OPTION] = index
        game_file = tw_games.playable_file(self.task, index)
        digest = _file_digest(game_file)
        self._glulx = tw_games.is_glulx(self.task, index)
        env = self._open(game_file, digest)
        jericho_seed = 1 + seed % JERICHO_SEED_MODULUS
        env.seed(jericho_seed)
        state = env.reset()
        self._objective = str(state["objective"] or "")
        self._verbs = tuple(state["verbs"] or ())
        self._walkthrough = tuple(state["extra.walkthrough"] or ())
        self._set_view(self._view_from(state, command=None, text=self._reference_text(state.feedback)))
        return {
            GAME_INDEX_OPTION: index,
            "game_file": tw_games.game_names(self.task)[index],
            "played_file": game_file.name,
            "game_digest": digest,
            "jericho_seed": jericho_seed,
        }

    def _reference_text(self, feedback: str, *, game_over: bool = False) -> str:
        """The reference's long-term text: the answer cut after the objective, stripped."""
        text = tw_games.glulx_feedback(feedback, game_over=game_over) if self._glulx else feedback
        return text.split(self._objective)[-1].strip() if self._objective else text.strip()

    def _to_raw(self, action: str) -> RawAction:
        return action  # sent unchanged, as the reference does

    def _apply_raw(self, raw: RawAction) -> RawOutcome:
        before = self._current()
        env = self._tw_env
        if env is None:
            raise AdapterStateError("step before reset")
        command = tw_games.glulx_command(str(raw)) if self._glulx else str(raw)
        state, _, done = env.step(command)
        game_over = bool(state["won"] or state["lost"])
        text = self._reference_text(state.feedback, game_over=game_over)
        view = self._view_from(state, command=str(raw), text=text)
        self._set_view(view)
        return RawOutcome(
            reward=float(view.score - before.score),
            terminated=bool(done or view.won or view.lost),
            won=view.won,
            detail="lost" if view.lost and not view.won else "",
        )

    def _view_from(self, state: textworld.GameState, *, command: str | None, text: str) -> GameView:
        # The reference does not track the inventory (asking for it changes the texts).
        return GameView(
            command=command,
            text=text,
            score=int(state["score"] or 0),
            max_score=int(state["max_score"] or 0),
            moves=int(state["moves"] or 0),
            won=bool(state["won"]),
            lost=bool(state["lost"]),
            inventory="",
            admissible=(),
        )

    # ----- views -------------------------------------------------------------------
    def is_valid(self, action: str) -> bool:
        return True  # the reference's action space contains every string

    def instructions(self) -> str:
        """The reference's instruction prompt: what a model playing this protocol is told first."""
        return instruction(self.env, self.task)

    def observation(self) -> ModelObservation:
        return ModelObservation(self._current().text, "")


@cache
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return tw_games._sha256(Path(path))


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest_of(str(path), stat.st_size, stat.st_mtime_ns)


def log_options(task: str, seed: int, observations: list[str], submitted: datetime.date) -> JSONObject:
    """The options replaying one logged 2024 episode: its game, told by the rooms its texts
    show (the reference then walked a per-process counter, not the seed). The logs hold the
    texts after each step, not the opening one, so the rooms and names seen along the episode
    decide; on a tie, the game a worker's first episode played."""
    index = tw_games.match_game(task, observations, prefer=REFERENCE_FIRST_GAME)
    return {GAME_INDEX_OPTION: index if index is not None else seed % tw_games.game_count(task)}
