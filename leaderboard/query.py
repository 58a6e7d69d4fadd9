"""The leaderboard's query parameters (tab, sort, dir), checked against their enums.

The JSON API and the CSV are for scripts: a value outside an enum is a 400 naming
the parameter and its allowed values (what the OpenAPI document declares), never a
silent fallback to the LLM board. The HTML page stays lenient: an old or hand-edited
link still shows the default board.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leaderboard.services import SORT_KEYS, TABS, default_descending

DIRECTIONS = ("asc", "desc")
ALLOWED: dict[str, tuple[str, ...]] = {"tab": TABS, "sort": SORT_KEYS, "dir": DIRECTIONS}
DEFAULTS = {"tab": "llm", "sort": "rank"}


class BadQuery(ValueError):
    def __init__(self, parameter: str, value: str) -> None:
        self.parameter = parameter
        self.allowed = list(ALLOWED[parameter])
        super().__init__(f"{parameter} must be one of {', '.join(self.allowed)} (got {value!r})")

    def to_json(self) -> dict[str, Any]:
        return {"error": str(self), "parameter": self.parameter, "allowed": self.allowed}


@dataclass(frozen=True)
class BoardQuery:
    tab: str
    sort: str
    descending: bool


def check_board_query(params: Any, strict: bool) -> BoardQuery:
    """The query's tab, sort and direction; absent ones take their defaults. A value
    outside its enum raises BadQuery when ``strict``, else falls back to the default."""
    values: dict[str, str | None] = {}
    for name, allowed in ALLOWED.items():
        raw = params.get(name)
        if raw is not None and raw not in allowed:
            if strict:
                raise BadQuery(name, raw)
            raw = None
        values[name] = raw if raw is not None else DEFAULTS.get(name)
    sort = str(values["sort"])
    direction = values["dir"]
    descending = default_descending(sort) if direction is None else direction == "desc"
    return BoardQuery(str(values["tab"]), sort, descending)
