"""The Baba Is AI grid: objects, word tiles, rules and movement.

Behaviour follows the ``baba`` package that BALROG evaluates (Baba Is AI,
arXiv 2407.13729):

- A cell holds a stack of things; only the top one is seen, moved, pushed or
  read as a word. The outer ring is a border that nothing enters.
- Three word tiles in a row, left to right or top to bottom, ``NOUN is
  PROPERTY`` (or ``NOUN is NOUN``), form a rule. Rules are parsed from the
  tops of cells after every move, in row-major order of the ``is`` tiles,
  horizontal before vertical; one tile may serve several rules.
- ``you`` objects move with the player's action, in row-major order, each
  once. A move first pushes what is ahead if it is pushable (word tiles
  always are, objects under ``X is push``), recursively; the mover then
  enters the cell if its top is empty or an object that is neither ``stop``
  nor ``push``; otherwise nothing moves. Objects without properties are
  walked over (they stay under the mover).
- ``NOUN is NOUN`` turns every object of the first kind into the second.
- After the move and the new rules: a ``you`` object sharing a cell with a
  ``win`` object wins; a ``you`` object sharing a cell with a ``defeat``
  object is destroyed.

Things are small ints ("codes") so that a state is a list of int lists:
cheap to copy, to hash and to encode.
"""

from __future__ import annotations

from typing import NamedTuple

ACTIONS: tuple[str, ...] = ("idle", "up", "right", "down", "left")
IDLE, UP, RIGHT, DOWN, LEFT = range(5)
DIRECTION_XY: dict[int, tuple[int, int]] = {UP: (0, -1), RIGHT: (1, 0), DOWN: (0, 1), LEFT: (-1, 0)}

NOUNS: tuple[str, ...] = ("baba", "wall", "ball", "key", "door")
PROPERTIES: tuple[str, ...] = ("you", "win", "stop", "push", "defeat")
WORDS: tuple[str, ...] = (*NOUNS, "is", *PROPERTIES)
COLOURS: tuple[str, ...] = ("white", "grey", "red", "green", "blue")
# The colour an object gets when ``NOUN is NOUN`` creates it (the baba package's defaults).
DEFAULT_COLOUR: dict[str, str] = {"baba": "white", "wall": "grey", "ball": "green", "key": "blue", "door": "red"}

BORDER = 1
_OBJECT_BASE = 8
_WORD_BASE = 64
CODE_LIMIT = _WORD_BASE + len(WORDS)

# Per-code property bits, recomputed whenever the rules change.
YOU, WIN, STOP, PUSH, DEFEAT = 1, 2, 4, 8, 16
_PROPERTY_BIT: dict[str, int] = {"you": YOU, "win": WIN, "stop": STOP, "push": PUSH, "defeat": DEFEAT}


def object_code(kind: str, colour: str) -> int:
    return _OBJECT_BASE + NOUNS.index(kind) * 8 + COLOURS.index(colour)


def word_code(word: str) -> int:
    return _WORD_BASE + WORDS.index(word)


IS = word_code("is")


def _describe_codes() -> tuple[list[str], list[str], list[str]]:
    """Category ("border", "object", "word" or "") and name and colour of every code."""
    category = [""] * CODE_LIMIT
    name = [""] * CODE_LIMIT
    colour = [""] * CODE_LIMIT
    category[BORDER], name[BORDER] = "border", "border"
    for kind in NOUNS:
        for paint in COLOURS:
            code = object_code(kind, paint)
            category[code], name[code], colour[code] = "object", kind, paint
    for word in WORDS:
        code = word_code(word)
        category[code], name[code] = "word", word
    return category, name, colour


CODE_CATEGORY, CODE_NAME, CODE_COLOUR = _describe_codes()
OBJECT_CODES: tuple[int, ...] = tuple(c for c in range(CODE_LIMIT) if CODE_CATEGORY[c] == "object")


def code_token(code: int) -> str:
    """A short readable name of a code: ``border``, ``ball:green``, ``word:is``."""
    if CODE_CATEGORY[code] == "object":
        return f"{CODE_NAME[code]}:{CODE_COLOUR[code]}"
    if CODE_CATEGORY[code] == "word":
        return f"word:{CODE_NAME[code]}"
    return CODE_NAME[code]


CODE_TOKEN: list[str] = [code_token(c) for c in range(CODE_LIMIT)]


def token_code(token: str) -> int:
    """Inverse of ``code_token``; a bare noun means that object in its default colour."""
    if token == "border":
        return BORDER
    head, _, tail = token.partition(":")
    if head == "word":
        return word_code(tail)
    return object_code(head, tail or DEFAULT_COLOUR[head])


class Rule(NamedTuple):
    subject: str  # a noun
    target: str  # a property, or a noun for a transformation

    @property
    def text(self) -> str:
        return f"{self.subject} is {self.target}"


class StepEvent(NamedTuple):
    won: bool = False
    died: bool = False  # the last ``you`` objects were destroyed by ``defeat``


class Engine:
    """One level's state. ``cells[y * width + x]`` is the stack at (x, y), bottom first."""

    __slots__ = ("_blocks", "_flags", "_pushable", "cells", "height", "rules", "width")

    def __init__(self, width: int, height: int, cells: list[list[int]] | None = None) -> None:
        self.width = width
        self.height = height
        self.cells: list[list[int]] = cells if cells is not None else [[] for _ in range(width * height)]
        self.rules: tuple[Rule, ...] = ()
        self._flags: list[int] = []
        self._blocks: list[bool] = []  # the top cannot be entered (border, words, stop or push objects)
        self._pushable: list[bool] = []
        self._set_tables(())

    @classmethod
    def walled(cls, width: int, height: int) -> Engine:
        engine = cls(width, height)
        for x in range(width):
            engine.put(x, 0, BORDER)
            engine.put(x, height - 1, BORDER)
        for y in range(1, height - 1):
            engine.put(0, y, BORDER)
            engine.put(width - 1, y, BORDER)
        return engine

    # ----- cells ------------------------------------------------------------
    def index(self, x: int, y: int) -> int:
        return y * self.width + x

    def xy(self, index: int) -> tuple[int, int]:
        return index % self.width, index // self.width

    def top(self, index: int) -> int:
        stack = self.cells[index]
        return stack[-1] if stack else 0

    def put(self, x: int, y: int, code: int) -> None:
        self.cells[self.index(x, y)].append(code)

    def move_top(self, src: int, dst: int) -> None:
        """Level building: move the top of ``src`` onto ``dst`` (no rule applies)."""
        self.cells[dst].append(self.cells[src].pop())

    def find(self, code: int) -> list[int]:
        """Cells whose top is ``code``, in row-major order."""
        return [i for i, stack in enumerate(self.cells) if stack and stack[-1] == code]

    def copy(self) -> Engine:
        twin = Engine(self.width, self.height, [stack[:] for stack in self.cells])
        twin.rules = self.rules
        twin._flags, twin._blocks, twin._pushable = self._flags, self._blocks, self._pushable
        return twin

    def encode(self) -> bytes:
        """Canonical bytes: width, height, then each cell's stack length and codes."""
        out = bytearray((self.width, self.height))
        for stack in self.cells:
            out.append(len(stack))
            out.extend(stack)
        return bytes(out)

    # ----- properties under the current rules ---------------------------------
    def flags(self, code: int) -> int:
        return self._flags[code]

    def enterable(self, index: int) -> bool:
        """Whether a mover may step into ``index`` without pushing anything."""
        stack = self.cells[index]
        return not stack or not self._blocks[stack[-1]]

    def enterable_code(self, code: int) -> bool:
        return not self._blocks[code]

    def pushable_code(self, code: int) -> bool:
        return self._pushable[code]

    def you_cells(self) -> list[int]:
        """Cells whose top is a ``you`` object: what the player moves."""
        flags = self._flags
        return [i for i, stack in enumerate(self.cells) if stack and flags[stack[-1]] & YOU]

    def kinds_with(self, prop: str) -> list[str]:
        return [rule.subject for rule in self.rules if rule.target == prop]

    def has_rule(self, subject: str, target: str) -> bool:
        return Rule(subject, target) in self.rules

    # ----- rules ----------------------------------------------------------------
    def refresh_rules(self) -> None:
        """Re-parse the rules from the grid (a level's start, and after every move)."""
        rules = self._parse_rules()
        if rules != self.rules:
            self._set_tables(rules)

    def _parse_rules(self) -> tuple[Rule, ...]:
        cells, width = self.cells, self.width
        last = len(cells) - width
        found: list[Rule] = []
        for index, stack in enumerate(cells):
            if not stack or stack[-1] != IS:
                continue
            x = index % width
            if 0 < x < width - 1:
                _read_rule(cells[index - 1], cells[index + 1], found)
            if width <= index < last:
                _read_rule(cells[index - width], cells[index + width], found)
        return tuple(found)

    def _set_tables(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        flags = [0] * CODE_LIMIT
        flags[BORDER] = STOP
        for word in WORDS:
            flags[word_code(word)] = PUSH
        kind_bits: dict[str, int] = {}
        for rule in rules:
            bit = _PROPERTY_BIT.get(rule.target, 0)
            kind_bits[rule.subject] = kind_bits.get(rule.subject, 0) | bit
        for code in OBJECT_CODES:
            flags[code] = kind_bits.get(CODE_NAME[code], 0)
        self._flags = flags
        self._blocks = [CODE_CATEGORY[c] != "object" or bool(flags[c] & (STOP | PUSH)) for c in range(CODE_LIMIT)]
        self._blocks[0] = False
        self._pushable = [bool(f & PUSH) for f in flags]

    def _transform(self) -> None:
        """Apply ``NOUN is NOUN``: after a move, like the baba package (not at a level's start)."""
        changes: dict[str, str] = {}
        for rule in self.rules:
            if rule.target in NOUNS and rule.target != rule.subject:
                changes.setdefault(rule.subject, rule.target)
        if not changes:
            return
        table = list(range(CODE_LIMIT))
        for code in OBJECT_CODES:
            new_kind = changes.get(CODE_NAME[code])
            if new_kind is not None:
                table[code] = object_code(new_kind, DEFAULT_COLOUR[new_kind])
        for stack in self.cells:
            for depth, code in enumerate(stack):
                stack[depth] = table[code]

    # ----- a turn -----------------------------------------------------------------
    def step(self, action: int) -> StepEvent:
        """Apply one action (an index into ACTIONS). ``idle`` changes nothing."""
        if action == IDLE:
            return StepEvent()
        dx, dy = DIRECTION_XY[action]
        delta = dy * self.width + dx
        flags, cells = self._flags, self.cells
        arrived: set[int] = set()  # where movers ended: a mover moves once per turn
        for index in range(len(cells)):
            stack = cells[index]
            if stack and flags[stack[-1]] & YOU and index not in arrived:
                arrived.add(self._move(index, delta))
        self.refresh_rules()
        self._transform()
        return StepEvent(won=self._you_on_win(), died=self._apply_defeat())

    def _move(self, index: int, delta: int) -> int:
        """Move the top of ``index`` one cell, pushing ahead; return where it ended."""
        ahead = index + delta
        stack = self.cells[ahead]
        if stack and self._pushable[stack[-1]]:
            self._move(ahead, delta)
        if stack and self._blocks[stack[-1]]:
            return index
        stack.append(self.cells[index].pop())
        return ahead

    def _you_on_win(self) -> bool:
        flags = self._flags
        for stack in self.cells:
            bits = 0
            for code in stack:
                bits |= flags[code]
            if bits & YOU and bits & WIN:
                return True
        return False

    def _apply_defeat(self) -> bool:
        """Destroy ``you`` objects that share a cell with a ``defeat`` object.
        Returns True when that destroyed the last ``you`` object."""
        flags = self._flags
        destroyed = False
        for stack in self.cells:
            bits = 0
            for code in stack:
                bits |= flags[code]
            if bits & YOU and bits & DEFEAT:
                stack[:] = [code for code in stack if not flags[code] & YOU]
                destroyed = True
        if not destroyed:
            return False
        return not any(flags[code] & YOU for stack in self.cells for code in stack)


def _read_rule(before: list[int], after: list[int], found: list[Rule]) -> None:
    """Add the rule ``before is after`` if those tops are a noun and a noun or property."""
    if not before or not after:
        return
    subject, target = before[-1], after[-1]
    if CODE_CATEGORY[subject] != "word" or CODE_CATEGORY[target] != "word":
        return
    noun, word = CODE_NAME[subject], CODE_NAME[target]
    if noun in NOUNS and word != "is":
        found.append(Rule(noun, word))
