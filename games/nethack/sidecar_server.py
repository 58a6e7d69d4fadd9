"""The NetHack/MiniHack engine of the BALROG reference, in a process of its own.

Run by ``games.nethack.sidecar`` with the Python of ``.venv-nle09`` (made by
``scripts/bootstrap.sh`` from ``requirements-nle09.txt``): balrog-nle 0.9.0,
gym 0.23 and minihack 0.1.6, the packages the reference evaluator pins. They
cannot live in the main venv, which has nle 1.3 under the same import name,
and nle 1.3 does not build the same dungeons from a seed.

Protocol: one JSON object a line on stdin, one answer a line on stdout, in
order. One process holds many games (one per live episode), each named by
the client: ``{"op": "make", "game": ID, ...}``, ``{"op": "reset", "game": ID,
"seed": N}``, ``{"op": "step", "game": ID, "action": "north"}``,
``{"op": "close", "game": ID}``; every answer is ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``. A state (reset, step) carries only what the
client uses per step, compactly: the texts, the terminal rows and colours (one
hex digit a cell), the glyph map as base64 of little-endian int16
(``glyphs16``, for the VLM image only), and ``digest``: the step digest,
computed here from the arrays themselves (``state_digest``), so that the
client neither decodes nor re-encodes the glyphs on every step. Requests run one at a time, so a reset's
global seeding (``random``, ``numpy``) and the Boxoban level handed over
belong to that game alone. End of stdin ends the process: the
parent closing it, or dying (the kernel closes its pipes). Not
PR_SET_PDEATHSIG: that fires when the *thread* that started us exits, and web
and worker processes start engines from pool threads that come and go.

What runs here, each as the reference does it (balrog-ai/BALROG@af7d1f1 and
its first public commit fba89e2), in our own code around the packages:
* env: ``gym.make(task, **kwargs)`` with BALROG's config kwargs, built anew
  for every episode (the evaluator makes one env per episode, so the top-ten
  list on the end screen holds this episode only);
* seed: ``random.seed``/``np.random.seed`` then NetHack's core seed = the
  episode seed, reseeding off (the reference's display seed is a random
  draw; here it is the seed too, so runs repeat);
* text: balrog-nle's ``NLELanguageObsv`` (message, glyphs, cursor, inventory)
  assembled as the reference's "hybrid" prompt;
* ``--More--``: "980e1e5" (March 2025 on) presses Enter under the language
  wrapper while the message holds the marker, joining the pages with a
  newline; "fba89e2" (the 2024 runs) presses it once through the language
  wrapper (which recurses on the new screen) and joins with spaces;
* Boxoban: the level is the one the client sends (the reference draws it with
  ``random.choice``); minihack's own level loading is bypassed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import random
import sys
import traceback
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

MORE = "--More--"
STYLE_2025 = "980e1e5"
STYLE_2024 = "fba89e2"
# Colour -> hex digit of its low four bits (the client's frame colours).
HEX_DIGITS = bytes(b"0123456789abcdef"[value & 15] for value in range(256))
# Text of glyph-map rows by their bytes (glyph_json); one engine's games share it.
_ROW_TEXT: dict[bytes, str] = {}
ROW_TEXT_LIMIT = 4096
MINIHACK_OBSERVATION_KEYS = ("glyphs", "blstats", "tty_chars", "inv_letters", "inv_strs", "tty_cursor", "tty_colors")
NLE_KWARGS: dict[str, Any] = {
    "character": "@",
    "max_episode_steps": 100_000,
    "no_progress_timeout": 150,
    "savedir": None,
    "save_ttyrec_every": 0,
}
MINIHACK_KWARGS: dict[str, Any] = {
    "character": "@",
    "max_episode_steps": 100,
    "penalty_step": -0.01,
    "penalty_time": 0.0,
    "penalty_mode": "constant",
    "savedir": None,
    "save_ttyrec_every": 0,
    "autopickup": False,
}


class Made(TypedDict):
    """The answer to make: the action strings the reference accepts and runs."""

    accepted: list[str]
    runnable: list[str]


class State(TypedDict):
    """The answer to reset and step: one state, as the client uses it."""

    long_term: str
    short_term: str
    rows: list[str]  # the terminal's text
    colors: list[str]  # one hex digit a cell
    cursor: list[int]  # [row, col]
    blstats: list[int]
    reward: float
    done: bool
    truncated: bool
    end_status: str
    how_done: str  # NetHack's end, once done ("" otherwise)
    digest: NotRequired[str]  # set last: it is computed from the rest (state_digest)
    glyphs16: NotRequired[str]  # the glyph map, base64 of little-endian int16


def package(name: str) -> Any:
    """A module of the reference's packages (this venv's, not the main one's:
    imported by name so the main venv's type checker leaves them alone)."""
    return importlib.import_module(name)


class Boxoban:
    """Hands minihack's Boxoban env the level the client chose."""

    level = "##########\n#@  $  .#\n##########\n"

    @classmethod
    def install(cls) -> None:
        boxohack = package("minihack.envs.boxohack")

        # BoxoHack reads its level list through this module-level function,
        # at construction; one level makes its random.choice pick that level.
        boxohack.load_boxoban_levels = lambda _path: [cls.level]


class Game:
    """One episode of one task, wrapped as the reference wraps it."""

    def __init__(self, env_key: str, task: str, style: str) -> None:
        gym = package("gym")
        nethack = package("nle.nethack")
        wrappers = package("nle.language_wrapper.wrappers.nle_language_wrapper")

        if style not in (STYLE_2025, STYLE_2024):
            raise ValueError(f"unknown --More-- style {style!r}")
        if env_key == "minihack":
            package("minihack")  # registers the tasks

            Boxoban.install()
            self.kwargs = {**MINIHACK_KWARGS, "observation_keys": MINIHACK_OBSERVATION_KEYS}
        else:
            package("nle")  # registers NetHackChallenge-v0

            self.kwargs = dict(NLE_KWARGS)
        self.gym, self.task, self.style, self.env_key = gym, task, style, env_key
        self.language = package("nle.nle_language_obsv").NLELanguageObsv()
        self.wrapper_class = wrappers.NLELanguageWrapper
        self.useful = nethack.USEFUL_ACTIONS
        self.more_key = nethack.actions.MiscAction.MORE
        self.env: Any = None
        self.done = False
        self._build()

    # ----- the env -----------------------------------------------------------
    def _build(self) -> None:
        if self.env is not None:
            self.env.close()
        self.env = self.gym.make(self.task, **self.kwargs)
        self.game = self.env.unwrapped
        # balrog-nle's wrapper only maps action strings to indices here.
        self.names = self.wrapper_class(self.env, use_language_action=True)
        # Boxoban and the navigation tasks have no Enter: the reference then
        # fails on a --More-- (never seen in its runs), and so does this.
        keys = [int(key) for key in self.game.actions]
        self.more_index = keys.index(int(self.more_key)) if int(self.more_key) in keys else None

    def accepted(self) -> list[str]:
        """The reference's accepted strings for NetHack: the first name of
        every useful action, the letters, and the one- and two-digit strings."""
        table = self.wrapper_class.all_nle_action_map
        named = [names[0] for key, names in table.items() if key in self.useful]
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
        return named + letters + [str(d) for d in range(10)] + [f"{d:02d}" for d in range(100)]

    def runnable(self) -> list[str]:
        return sorted(self.names.action_str_enum_map)

    def reset(self, seed: int, level: str | None) -> State:
        np = package("numpy")
        if level is not None:
            Boxoban.level = level
        self._build()
        random.seed(seed)
        np.random.seed(seed)
        self.game.seed(core=seed, disp=seed, reseed=False)
        obs = self.env.reset()
        self.done = False
        if self.style == STYLE_2024:
            message, obs, _reward = self._old_message(obs)
        else:
            message = self._message(obs)
        return self._state(obs, message, 0.0, False, "RUNNING")

    def step(self, action: str) -> State:
        if action not in self.names.action_str_enum_map:
            raise ValueError(f"the language wrapper does not run {action!r}")
        index = self.names.action_enum_index_map[self.names.action_str_enum_map[action]]
        if self.style == STYLE_2024:
            obs, reward, done, info, message = self._old_step(index)
        else:
            obs, reward, done, info, message = self._new_step(index)
        self.done = self.done or done
        status = info["end_status"]
        truncated = status == self.game.StepStatus.ABORTED
        return self._state(obs, message, float(reward), self.done, str(getattr(status, "name", status)), truncated)

    # ----- --More-- handling -----------------------------------------------------
    def _message(self, obs: dict[str, Any]) -> str:
        return str(self.language.text_message(obs["tty_chars"]).decode("latin-1"))

    def _new_step(self, index: int) -> tuple[Any, float, bool, dict[str, Any], str]:
        """980e1e5: press Enter under the language wrapper while the message
        holds the marker; the marker becomes a newline, pages are joined."""
        obs, reward, done, info = self.env.step(index)
        message = self._message(obs)
        while MORE in message and not done:
            message = message.replace(MORE, "\n")
            obs, more_reward, done, info = self.env.step(self._more())
            message += self._message(obs)
            reward += more_reward
        return obs, reward, done, info, message

    def _more(self) -> int:
        if self.more_index is None:
            raise ValueError("--More-- on screen, but this task has no Enter action")
        return self.more_index

    def _old_step(self, index: int) -> tuple[Any, float, bool, dict[str, Any], str]:
        """fba89e2: the language wrapper's own step; its text pass may press
        Enter once through this same step (and so recursively)."""
        obs, reward, done, info = self.env.step(index)
        message, obs, _more_reward = self._old_message(obs)
        return obs, reward, done, info, message

    def _old_message(self, obs: Any) -> tuple[str, Any, float]:
        # The wrapper reads its done flag before it is updated for this step.
        message = self._message(obs)
        if MORE in message and not self.done:
            message = message.replace(MORE, " ").replace("\n", " ")
            obs, reward, done, _info, _inner = self._old_step(self._more())
            self.done = self.done or done
            message += self._message(obs)
            return message, obs, reward
        return message, obs, 0.0

    # ----- what the client gets ---------------------------------------------------
    def _state(
        self, obs: Any, message: str, reward: float, done: bool, status: str, truncated: bool = False
    ) -> State:
        lang = self.language
        glyphs, blstats, cursor = obs["glyphs"], obs["blstats"], obs["tty_cursor"]
        rows = [bytes(row).decode("latin-1") for row in obs["tty_chars"]]
        cursor_text = lang.text_cursor(glyphs, blstats, cursor).decode("latin-1")
        blocks = [
            ("message", message),
            ("language observation", lang.text_glyphs(glyphs, blstats).decode("latin-1")),
            ("cursor", f"{cursor_text}\n(x={int(cursor[1])}, y={int(cursor[0])})"),
            ("map", "\n".join(rows[1:]) + "\n"),
        ]
        inventory = lang.text_inventory(obs["inv_strs"], obs["inv_letters"]).decode("latin-1")
        how_done = ""
        if done and self.env_key == "nle":
            how_done = str(getattr(self.game.nethack.how_done(), "name", ""))
        state: State = {
            "long_term": "\n".join(f"{name}:\n{text}\n" for name, text in blocks),
            "short_term": f"inventory:\n{inventory}\n",
            "rows": rows,
            "colors": color_rows(obs["tty_colors"]),
            "cursor": [int(cursor[0]), int(cursor[1])],
            "blstats": [int(v) for v in blstats.tolist()],
            "reward": reward,
            "done": done,
            "truncated": truncated,
            "end_status": status,
            "how_done": how_done,
        }
        state["digest"] = state_digest(state, glyphs)
        state["glyphs16"] = base64.b64encode(glyphs.astype("<i2").tobytes()).decode("ascii")
        return state


def color_rows(colors: Any) -> list[str]:
    """Each terminal row's colours, one hex digit (low four bits) a cell."""
    width = colors.shape[-1]
    text = colors.astype("u1").tobytes().translate(HEX_DIGITS).decode("ascii")
    return [text[start : start + width] for start in range(0, len(text), width)]


def state_digest(state: State, glyphs: Any) -> str:
    """The step digest, byte for byte the client's historical one
    (``games.base.state_digest`` of ``_ReferenceNLEFamily.state_bytes``):
    BLAKE2b-128 of the compact JSON list [rows, colors, cursor, blstats,
    glyphs (flattened), long_term, short_term]. Digests recorded by earlier
    versions must keep verifying: never change these bytes."""
    compact = (",", ":")
    head = json.dumps([state["rows"], state["colors"], state["cursor"], state["blstats"]], separators=compact)
    tail = json.dumps([state["long_term"], state["short_term"]], separators=compact)
    data = f"{head[:-1]},{glyph_json(glyphs)},{tail[1:]}".encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def glyph_json(glyphs: Any) -> str:
    """``json.dumps(glyphs.reshape(-1).tolist(), separators=(",", ":"))``, a map
    row at a time: few rows change in a step, and a row's text is cached (the
    whole list through json costs more than the rest of the step)."""
    parts = []
    for row in glyphs.reshape(-1, glyphs.shape[-1]):
        key = row.tobytes()
        text = _ROW_TEXT.get(key)
        if text is None:
            if len(_ROW_TEXT) >= ROW_TEXT_LIMIT:
                _ROW_TEXT.clear()
            text = _ROW_TEXT[key] = ",".join(map(str, row.tolist()))
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def handle(games: dict[str, Game], request: dict[str, Any]) -> Mapping[str, object]:
    op, name = request.get("op"), str(request.get("game", ""))
    if op == "make":
        _close(games, name)
        game = Game(str(request["env"]), str(request["task"]), str(request["style"]))
        games[name] = game
        made: Made = {"accepted": game.accepted(), "runnable": game.runnable()}
        return made
    if op == "close":
        _close(games, name)
        return {}
    if name not in games:
        raise LookupError(f"no game {name!r} here: send make first")
    game = games[name]
    if op == "reset":
        level = request.get("level")
        return game.reset(int(request["seed"]), None if level is None else str(level))
    if op == "step":
        return game.step(str(request["action"]))
    raise ValueError(f"unknown op {op!r}")


def _close(games: dict[str, Game], name: str) -> None:
    game = games.pop(name, None)
    if game is not None and game.env is not None:
        game.env.close()


def main() -> None:
    # This file's folder holds games/nethack/nle.py: never let it shadow nle.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    games: dict[str, Game] = {}
    out = sys.stdout
    sys.stdout = sys.stderr  # library prints never reach the protocol stream
    for line in sys.stdin:
        answer: dict[str, object]
        try:
            answer = {"ok": True, **handle(games, json.loads(line))}
        except Exception as error:  # every failure goes back to the client
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
