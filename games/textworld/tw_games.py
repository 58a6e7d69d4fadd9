"""The reference's TextWorld games: the 25 pre-generated games per task that BALROG plays.

They ship in the repository as ``games/data/tw_games/tw_games.tar.xz`` (with their licenses and
``MANIFEST.sha256``). The archive is unpacked once, checked against the manifest, under
``BALROG_GAME_DATA_DIR/textworld/balrog_tw_games/<manifest digest>/``.

The reference (TextWorld fork 1.6.2rc1) plays coin_collector and treasure_hunter as Glulx
(``.ulx``) files; TextWorld 1.7 plays only the Z-machine. Each ``.ulx`` game is therefore
compiled to ``.z8`` from its ``.json`` (the game's full description, texts included) with the
installed TextWorld, on first use, and cached beside the unpacked files. The texts are the
same; only the interpreter's framing differs (Jericho appends the prompt and a status bar
that the reference's Glulx interpreter does not print), which
:func:`glulx_feedback` removes.

The game order is the reference's: per task, its ``*.ulx`` files sorted by path, then its
``*.z8`` files sorted (a task has one kind only), and the game index picks from that list.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "tw_games"
ARCHIVE = DATA_DIR / "tw_games.tar.xz"
MANIFEST = DATA_DIR / "MANIFEST.sha256"
ARCHIVE_ROOT = "tw_games"
# The reference globs these patterns in this order, each sorted.
GAME_PATTERNS = (".ulx", ".z8")
GLULX_EXT = ".ulx"
ZMACHINE_EXT = ".z8"
COMPLETE_MARKER = ".complete"
COMPILED_DIR = "z8"
# Header bytes 0x12-0x17 hold the compile date (the serial number): normalised so a game
# compiled on another day is the same file (the checksum covers bytes from 0x40 on).
SERIAL_SLICE = slice(0x12, 0x18)
NORMALIZED_SERIAL = b"000000"

# Jericho's framing after the game's text: the prompt, then the status window (blank, or
# "-= Room =-score/moves"), padded with spaces.
_JERICHO_STATUS = re.compile(r"[ \t]*(?:-= [^\n]*=-\d+/\d+)?\s*\Z")
# The end-of-game banner line ("*** You lost! ***", "*** The End ***"), centred with spaces.
_BANNER = re.compile(r"(^|\n)[ ]+(\*\*\* [^\n]* \*\*\*)", re.MULTILINE)
GLULX_COLUMNS = 80
GLULX_NEWLINE = "_"
_ROOM_HEADER = re.compile(r"-= (.+?) =-\n([^\n]*)")


@cache
def manifest() -> dict[str, str]:
    """Archive member path -> sha256 of its content."""
    entries: dict[str, str] = {}
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.strip().partition("  ")
        if name:
            entries[name] = digest
    return entries


@cache
def game_names(task: str) -> tuple[str, ...]:
    """The task's game file names, in the reference's order (the game index's list)."""
    prefix = f"{ARCHIVE_ROOT}/{task}/"
    members = [name for name in manifest() if name.startswith(prefix)]
    names: list[str] = []
    for ext in GAME_PATTERNS:
        names += sorted(name[len(prefix) :] for name in members if name.endswith(ext))
    if not names:
        raise ValueError(f"no reference TextWorld games for task {task!r}")
    return tuple(names)


def game_count(task: str) -> int:
    return len(game_names(task))


@cache
def _manifest_tag() -> str:
    return hashlib.sha256(MANIFEST.read_bytes()).hexdigest()[:12]


def games_root() -> Path:
    from django.conf import settings

    return Path(settings.BALROG_GAME_DATA_DIR) / "textworld" / "balrog_tw_games" / _manifest_tag()


def ensure_unpacked() -> Path:
    """The unpacked archive (verified against the manifest); unpacks it the first time.

    Unpacked into a temporary sibling and renamed into place, so a crash leaves nothing
    half-written and concurrent processes agree on one copy."""
    root = games_root()
    if (root / COMPLETE_MARKER).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root.parent))
    try:
        with tarfile.open(ARCHIVE, "r:xz") as archive:
            _extract(archive, tmp)
        _verify(tmp)
        (tmp / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
        try:
            os.replace(tmp, root)
        except OSError:
            if not (root / COMPLETE_MARKER).is_file():
                raise  # not a lost race: a real failure
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _extract(archive: tarfile.TarFile, folder: Path) -> None:
    """Extract our own vendored archive; the "data" filter where this Python has it (3.11.4+)."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(folder, filter="data")
    else:  # pragma: no cover - older 3.11 patch releases
        archive.extractall(folder)  # our own archive, checked against the manifest


def _verify(folder: Path) -> None:
    for name, digest in manifest().items():
        if _sha256(folder / name) != digest:
            raise ValueError(f"{ARCHIVE.name}: {name} does not match {MANIFEST.name}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_file(task: str, index: int) -> Path:
    """The reference's game file (``.ulx`` or ``.z8``) of pool index ``index``, unpacked."""
    return ensure_unpacked() / ARCHIVE_ROOT / task / game_names(task)[index]


def is_glulx(task: str, index: int) -> bool:
    return game_names(task)[index].endswith(GLULX_EXT)


def playable_file(task: str, index: int) -> Path:
    """A ``.z8`` file TextWorld 1.7 plays, with its ``.json`` beside it: the reference's own
    file, or the ``.ulx`` game compiled to the Z-machine (once, then cached)."""
    source = source_file(task, index)
    if source.suffix != GLULX_EXT:
        return source
    target = source.parents[2] / COMPILED_DIR / task / (source.stem + ZMACHINE_EXT)
    if not target.is_file():
        _compile(source.with_suffix(".json"), target)
    return target


def _compile(game_json: Path, target: Path) -> None:
    """Compile a TextWorld game description to ``target`` (``.z8``), its ``.json`` beside it.

    The Inform 7 source TextWorld writes from a game is the same in every process (checked
    across hash seeds), so the compiled file is too, once its serial is normalised."""
    from textworld.generator import Game
    from textworld.generator.inform7 import compile_inform7_game, generate_inform7_source

    logger.info("compiling %s (once; then cached)", target.name)  # prepare_games shows it as progress
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".compile-", dir=target.parent) as tmp:
        story = Path(tmp) / target.name
        compile_inform7_game(generate_inform7_source(Game.load(str(game_json))), str(story))
        data = bytearray(story.read_bytes())
        data[SERIAL_SLICE] = NORMALIZED_SERIAL
        story.write_bytes(bytes(data))
        # The .json first, the game last: a game file present always has its description.
        shutil.copyfile(game_json, Path(tmp) / game_json.name)
        os.replace(Path(tmp) / game_json.name, target.with_suffix(".json"))
        os.replace(story, target)


def glulx_feedback(text: str, *, game_over: bool = False) -> str:
    """Jericho's answer as the reference's Glulx interpreter gave it: without the status
    window and with the final ``\\n>`` prompt removed (what git-glulx's wrapper strips).

    After the game ends the reference's answer keeps its prompt (the end-of-game question
    is followed by one git-glulx's wrapper does not recognise), and the ``*** You lost! ***``
    banner is centred on git-glulx's 80 columns, not on Jericho's wider screen."""
    text = _JERICHO_STATUS.sub("", text)
    if game_over:
        return _BANNER.sub(_recentre, text) + ("" if text.endswith("\n>") else "\n>")
    return text[:-2] if text.endswith("\n>") else text


def glulx_command(command: str) -> str:
    """A command as the reference's Glulx game read it: one input line in which a newline is
    an ordinary character (an unknown word to the parser). Jericho would read each line of
    the command as a separate input; any character the parser does not separate words on
    gives the Glulx reading."""
    return command.replace("\n", GLULX_NEWLINE)


def _recentre(match: re.Match[str]) -> str:
    banner = match.group(2)
    return match.group(1) + " " * max(0, (GLULX_COLUMNS - len(banner)) // 2 - 1) + banner


# ----- telling a logged episode's game by its texts ---------------------------------------
# Evidence weights: a room header with its description's opening words is nearly unique to a
# game; a room name (headers, the cooking games' status bar) or an object name the game's
# texts use (its answers echo only words of its own dictionary) only narrows the choice.
HEADER_WEIGHT = 100
ROOM_NAME_WEIGHT = 10
ENTITY_WEIGHT = 1
_ROOM_NAME = re.compile(r"-= (.+?) =-")


@dataclass(frozen=True)
class GameTexts:
    """What a game's texts can show of it: its rooms' headers and its names."""

    openings: frozenset[tuple[str, str]]  # (room name, first words of its description)
    room_names: frozenset[str]
    entity_names: frozenset[str]  # objects, containers, supporters, doors


@cache
def game_texts(task: str, index: int) -> GameTexts:
    path = source_file(task, index).with_suffix(".json")
    infos = json.loads(path.read_text(encoding="utf-8"))["infos"]
    items = infos if isinstance(infos, list) else list(infos.items())
    openings: set[tuple[str, str]] = set()
    rooms: set[str] = set()
    entities: set[str] = set()
    for _, info in items:
        name = (info.get("name") or "").lower()
        if not name:
            continue
        if info.get("type") != "r":
            entities.add(name)
            continue
        rooms.add(name)
        first = re.split(r"[\[\n]", info.get("desc") or "", maxsplit=1)[0].strip()
        if first:
            openings.add((name, first))
    return GameTexts(frozenset(openings), frozenset(rooms), frozenset(entities))


def match_game(task: str, observations: list[str], prefer: int | None = None) -> int | None:
    """The index of the game the observations fit best (None: no evidence at all).
    Ties go to ``prefer`` when it is among the best, else to the lowest index."""
    headers = {(name.lower(), line) for text in observations for name, line in _ROOM_HEADER.findall(text)}
    names = {name.lower() for text in observations for name in _ROOM_NAME.findall(text)}
    words = " ".join(observations).lower()
    scores = [_score(game_texts(task, index), headers, names, words) for index in range(game_count(task))]
    best = max(scores)
    if best == 0:
        return None
    if prefer is not None and 0 <= prefer < len(scores) and scores[prefer] == best:
        return prefer
    return scores.index(best)


def _score(game: GameTexts, headers: set[tuple[str, str]], names: set[str], words: str) -> int:
    score = HEADER_WEIGHT * sum(
        1 for name, line in headers if any(n == name and line.startswith(o) for n, o in game.openings)
    )
    score += ROOM_NAME_WEIGHT * len(names & game.room_names)
    return score + ENTITY_WEIGHT * sum(1 for entity in game.entity_names if entity in words)
