"""The Baba Is AI world exactly as the reference plays it.

BALROG evaluates the ``baba`` package (nacloos/baba-is-ai@ad466e0). Our own
engine (``engine.py``) plays the same game by cleaner rules; this module
follows the package's behaviour where it differs, because the reference
protocol must show a model exactly what the reference showed:

- A cell is a stack; only its top thing is seen, moved, pushed, read as a
  word or tested for a property.
- A turn: every top thing that is YOU moves once, in row-major order of the
  cells at the time the scan reaches them. A move first pushes a word tile
  ahead (recursively), then enters the cell if its top is empty or a non-STOP
  object. The win test looks at the top of the cell the mover is about to
  enter (or of its own cell when blocked), under the rules from *before*
  the move, and only the last mover's test counts.
- Rules are re-read after the turn; ``X is Y`` then stacks a new Y (in Y's
  default colour) on every cell whose top is an X: the X stays beneath.
- The text names the player by the *last* ``X is you`` rule and measures
  offsets from the first cell whose top is an X; with none, BALROG's
  wrapper resets the env (see ``reference.py``).

Things are small mutable records; a level is a few dozen of them, so
copying and encoding stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from games.babaisai.describe import offset_text

MAX_STEPS = 100  # the package's max_steps

# The package's direction order (an object's ``dir``): right, down, left, up.
DIR_TO_VEC: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))
# Action index -> agent_dir, as BabaIsYouEnv.step sets it (idle keeps the old one).
ACTION_DIR: dict[int, int] = {1: 3, 2: 0, 3: 1, 4: 2}
ACTIONS: tuple[str, ...] = ("idle", "up", "right", "down", "left")

# Object types on the grid ("wall" is the border, "fwall" the rule-governed wall).
OBJECT_TYPES: tuple[str, ...] = ("fball", "fwall", "fdoor", "fkey", "baba")
DEFAULT_COLOUR: dict[str, str] = {"fwall": "grey", "fball": "green", "fkey": "blue", "fdoor": "red", "baba": "white"}
# The package's name_mapping: internal names -> words shown to people and models.
NAME: dict[str, str] = {
    "fwall": "wall",
    "fball": "ball",
    "fdoor": "door",
    "fkey": "key",
    "baba": "baba",
    "is_push": "push",
    "is_stop": "stop",
    "is_goal": "win",
    "is_defeat": "lose",
    "is": "is",
    "is_agent": "you",
    "is_pull": "pull",
    "is_move": "move",
    "is_open": "open",
    "is_shut": "shut",
}
INTERNAL: dict[str, str] = {shown: internal for internal, shown in NAME.items()}

WORD_KINDS = frozenset({"rule_object", "rule_is", "rule_property"})
# What BALROG's text lists (its find_objects list): never baba, never the border.
LISTED_KINDS = frozenset({"fball", "fwall", "fdoor", "fkey", *WORD_KINDS})


@dataclass
class Thing:
    """One thing on the grid: ``kind`` is the package's ``type``; ``word`` the
    internal name a word tile carries (``fkey``, ``is``, ``is_goal``)."""

    kind: str
    colour: str
    word: str = ""
    dir: int = 0
    has_moved: bool = False

    @property
    def is_word(self) -> bool:
        return self.kind in WORD_KINDS

    @property
    def is_object(self) -> bool:
        return self.kind in OBJECT_TYPES

    def label(self) -> str:
        """The name BALROG's text gives the thing (``rule `win```, ``key``)."""
        if self.is_word:
            return f"rule `{NAME[self.word]}`"
        return self.kind.removeprefix("f")


def make_object(kind: str, colour: str | None = None) -> Thing:
    return Thing(kind, colour or DEFAULT_COLOUR[kind])


def make_word(shown: str) -> Thing:
    """A word tile for a shown word (``key``, ``is``, ``win``), as put_rule builds it."""
    if shown == "is":
        return Thing("rule_is", "purple", "is")
    internal = INTERNAL.get(shown, shown)
    if internal in OBJECT_TYPES:
        return Thing("rule_object", "purple", internal)
    return Thing("rule_property", "purple", internal)


@dataclass(frozen=True)
class Rule:
    subject: str  # internal object name (``fkey``, ``baba``)
    target: str  # internal property (``is_goal``) or, for a replacement, an object name
    replace: bool = False

    @property
    def text(self) -> str:
        return f"{self.subject.removeprefix('f')} is {NAME[self.target]}"


@dataclass
class StepReport:
    reward: float = 0.0
    done: bool = False
    won: bool = False
    lost: bool = False


@dataclass
class World:
    """One level's state: ``cells[y * width + x]`` is the stack at (x, y), bottom first."""

    width: int
    height: int
    cells: list[list[Thing]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    agent_pos: tuple[int, int] | None = None
    agent_dir: int = 0
    step_count: int = 0
    _props: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cells:
            self.cells = [[] for _ in range(self.width * self.height)]

    # ----- cells ------------------------------------------------------------
    def top(self, x: int, y: int) -> Thing | None:
        stack = self.cells[y * self.width + x]
        return stack[-1] if stack else None

    def put(self, x: int, y: int, thing: Thing) -> None:
        self.cells[y * self.width + x].append(thing)

    def pop(self, x: int, y: int) -> None:
        stack = self.cells[y * self.width + x]
        if stack:
            stack.pop()

    def inside(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height

    def positions(self) -> list[tuple[int, int]]:
        return [(i % self.width, i // self.width) for i in range(self.width * self.height)]

    # ----- properties under the current rules ---------------------------------
    def has(self, thing: Thing, prop: str) -> bool:
        """A rule-governed property of an object (words and the border have none)."""
        return thing.is_object and thing.kind in self._props.get(prop, ())

    def is_push(self, thing: Thing) -> bool:
        return thing.is_word or self.has(thing, "is_push")

    def can_overlap(self, thing: Thing) -> bool:
        return thing.is_object and not self.has(thing, "is_stop")

    # ----- rules --------------------------------------------------------------------
    def refresh_rules(self) -> None:
        """Read the rules from the tops of cells: each ``is`` tile in row-major
        order, horizontal before vertical (the package's extract_ruleset)."""
        rules: list[Rule] = []
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is None or tile.kind != "rule_is":
                continue
            if self.inside(x - 1, y) and self.inside(x + 1, y):
                self._read_rule(self.top(x - 1, y), self.top(x + 1, y), rules)
            if self.inside(x, y - 1) and self.inside(x, y + 1):
                self._read_rule(self.top(x, y - 1), self.top(x, y + 1), rules)
        self.rules = rules
        props: dict[str, set[str]] = {}
        for rule in rules:
            if not rule.replace:
                props.setdefault(rule.target, set()).add(rule.subject)
        self._props = props

    @staticmethod
    def _read_rule(before: Thing | None, after: Thing | None, rules: list[Rule]) -> None:
        if before is None or after is None or before.kind != "rule_object":
            return
        if after.kind == "rule_property":
            rules.append(Rule(before.word, after.word))
        elif after.kind == "rule_object":
            rules.append(Rule(before.word, after.word, replace=True))

    def _apply_replacements(self) -> None:
        """``X is Y``: a new Y on top of every cell whose top is an X, rule by rule."""
        for rule in self.rules:
            if not rule.replace:
                continue
            for x, y in self.positions():
                tile = self.top(x, y)
                if tile is not None and tile.kind == rule.subject:
                    self.put(x, y, make_object(rule.target))

    def start(self) -> None:
        """What BabaIsYouEnv.reset does after generating the grid."""
        self.refresh_rules()
        self.agent_pos = None
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is not None and self.has(tile, "is_agent"):
                self.agent_pos, self.agent_dir = (x, y), tile.dir
                break
        self.step_count = 0

    # ----- a turn -----------------------------------------------------------------------
    def step(self, action: int) -> StepReport:
        self.step_count += 1
        report = StepReport()
        if action in ACTION_DIR:
            self.agent_dir = ACTION_DIR[action]
        if action != 0:
            report = self._turn()
        if self.step_count >= MAX_STEPS:
            report.done = True
        return report

    def _turn(self) -> StepReport:
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is not None and (self.has(tile, "is_agent") or self.has(tile, "is_move")):
                tile.has_moved = False
        is_win = is_lose = False
        vec = DIR_TO_VEC[self.agent_dir]
        for x, y in self.positions():
            # The package reads each cell's top when its scan reaches it.
            tile = self.top(x, y)
            if tile is not None and self.has(tile, "is_agent") and not tile.has_moved:
                tile.dir = self.agent_dir
                new_pos, is_win, is_lose = self._move((x, y), vec)
                tile.has_moved = True
                self.agent_pos = new_pos
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is not None and self.has(tile, "is_move") and not tile.has_moved:
                self._move((x, y), DIR_TO_VEC[tile.dir])
                tile.has_moved = True
        report = StepReport()
        if is_win:
            report = StepReport(1 - 0.9 * (self.step_count / MAX_STEPS), True, won=True)
        elif is_lose:
            report = StepReport(-1.0, True, lost=True)
        self.refresh_rules()
        self._apply_replacements()
        return report

    def _move(self, pos: tuple[int, int], vec: tuple[int, int]) -> tuple[tuple[int, int], bool, bool]:
        """The package's move(): push ahead, enter if possible; win/lose read first."""
        fwd = (pos[0] + vec[0], pos[1] + vec[1])
        ahead = self.top(*fwd)
        if ahead is not None and self.is_push(ahead):
            self._move(fwd, vec)
        ahead = self.top(*fwd)
        new_pos = fwd if ahead is None or self.can_overlap(ahead) else pos
        landing = self.top(*new_pos)
        is_win = landing is not None and self.has(landing, "is_goal")
        is_lose = landing is not None and self.has(landing, "is_defeat")
        if new_pos != pos:
            mover = self.top(*pos)
            if mover is not None:
                self.put(*new_pos, mover)
                self.pop(*pos)
                mover.dir = DIR_TO_VEC.index(vec)
        back = (pos[0] - vec[0], pos[1] - vec[1])
        behind = self.top(*back)
        if behind is not None and self.has(behind, "is_pull"):
            self._move(back, vec)
        return new_pos, is_win, is_lose

    # ----- BALROG's text ---------------------------------------------------------------
    def rules_text(self) -> str:
        return "\n".join(rule.text for rule in self.rules if not rule.replace)

    def player(self) -> tuple[int, int] | None:
        """Where offsets are measured from: the first cell whose top is of the
        kind named by the last ``X is you`` rule; None when there is none."""
        you = None
        for rule in self.rules:
            if not rule.replace and rule.target == "is_agent":
                you = rule.subject
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is not None and tile.kind == you:
                return x, y
        return None

    def objects_text(self, player: tuple[int, int]) -> str:
        lines = []
        for x, y in self.positions():
            tile = self.top(x, y)
            if tile is not None and tile.kind in LISTED_KINDS:
                lines.append(offset_text(tile.label(), x - player[0], y - player[1]))
        return "\n".join(lines)

    # ----- identity --------------------------------------------------------------------------
    def encode(self) -> bytes:
        """Canonical bytes of everything a future step depends on."""
        parts = [f"{self.width}x{self.height};{self.agent_pos};{self.agent_dir};{self.step_count}"]
        for stack in self.cells:
            parts.append(",".join(f"{t.kind}:{t.colour}:{t.word}:{t.dir}:{int(t.has_moved)}" for t in stack))
        return "|".join(parts).encode()
