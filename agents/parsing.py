"""Reading the action out of a model's answer, one rule per strategy.

Every parser returns a ``ParsedAnswer`` and never raises: an answer with no
readable action yields an empty or unknown candidate, which the game then
replaces by its default action (the failed candidate is kept in the log).

- naive / few_shot: the answer is the action. Its last non-empty line is
  taken, an ``Action:`` label and wrapping quotes or markdown are dropped,
  and it is cleaned to letters, digits, spaces, colons, apostrophes and
  hyphens (BALROG keeps letters, spaces and colons; digits are kept because
  TextWorld objects are named like ``type 3 chest``).
- cot: the action follows the last ``ACTION:`` marker (any case); without
  a marker the last line is tried.
- robust_naive / robust_cot: the action is between ``<|ACTION|>`` and
  ``<|END|>`` (the last such pair counts); an unclosed marker takes the rest
  of its line; without markers the cot and then the naive rules are tried.

``resolve`` then maps the candidate onto the action space ignoring case and
repeated spaces (``move west`` -> ``Move West``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_CANDIDATE_CHARS = 255

_DROP = re.compile(r"[^A-Za-z0-9\s:'\-]")
_SPACES = re.compile(r"\s+")
_LABEL = re.compile(r"^\s*(?:final\s+)?(?:action|answer)\s*:\s*", re.IGNORECASE)
_COT_MARKER = re.compile(r"action\s*:", re.IGNORECASE)
_ROBUST = re.compile(r"<\|\s*action\s*\|>(.*?)<\|\s*end\s*\|>", re.IGNORECASE | re.DOTALL)
_ROBUST_OPEN = re.compile(r"<\|\s*action\s*\|>([^\n]*)", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    candidate: str  # the action the answer names ('' when none could be read)
    reasoning: str  # the text before the action (CoT strategies), for display and the log
    marker_found: bool  # the strategy's format was followed


def clean(text: str) -> str:
    """The action text as matched: allowed characters only, single spaces."""
    text = _LABEL.sub("", text.strip())
    text = text.strip().strip("`*\"'").strip()
    text = _DROP.sub("", text)
    return _SPACES.sub(" ", text).strip()[:MAX_CANDIDATE_CHARS]


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _without_thinking(text: str) -> str:
    """Drop <think>...</think> blocks some open models emit before answering."""
    return _THINK.sub("", text)


def parse_naive(answer: str) -> ParsedAnswer:
    text = _without_thinking(answer)
    return ParsedAnswer(clean(_last_line(text)), "", marker_found=len(text.strip().splitlines()) == 1)


def parse_cot(answer: str) -> ParsedAnswer:
    text = _without_thinking(answer)
    markers = list(_COT_MARKER.finditer(text))
    if not markers:
        return ParsedAnswer(clean(_last_line(text)), text.strip(), marker_found=False)
    last = markers[-1]
    after = text[last.end() :].strip()
    return ParsedAnswer(clean(after.splitlines()[0] if after else ""), text[: last.start()].strip(), True)


def parse_robust(answer: str) -> ParsedAnswer:
    text = _without_thinking(answer)
    closed = list(_ROBUST.finditer(text))
    if closed:
        last = closed[-1]
        return ParsedAnswer(clean(last.group(1)), text[: last.start()].strip(), True)
    opened = list(_ROBUST_OPEN.finditer(text))
    if opened:
        last_open = opened[-1]
        return ParsedAnswer(clean(last_open.group(1)), text[: last_open.start()].strip(), False)
    fallback = parse_cot(text)
    return ParsedAnswer(fallback.candidate, fallback.reasoning, False)


PARSERS: dict[str, Callable[[str], ParsedAnswer]] = {
    "naive": parse_naive,
    "few_shot": parse_naive,
    "cot": parse_cot,
    "robust_naive": parse_robust,
    "robust_cot": parse_robust,
}


def parse_answer(strategy: str, answer: str | None) -> ParsedAnswer:
    return PARSERS[strategy](answer or "")


def _key(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower())


def resolve(candidate: str, actions: Sequence[str]) -> str:
    """The action of ``actions`` the candidate names, ignoring case and
    spacing; the candidate itself when none matches (the game decides)."""
    key = _key(candidate)
    for action in actions:
        if _key(action) == key:
            return action
    return candidate
