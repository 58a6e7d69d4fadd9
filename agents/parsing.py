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

The rules above are the "balrogweb" protocol's. On the "balrog" protocol the
reference's own parsers apply (``parse_reference``, described in the vendored
prompt JSON's "agents" section), and the candidate is sent to the game as is:
validity is the game's exact, case-sensitive test, never ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from reference.prompts import reference_prompts

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


# ----- the reference evaluator's parsers (balrog-ai/BALROG@af7d1f1, balrog/agents/*.py) -----------
_REFERENCE_FILTER = re.compile(r"[^a-zA-Z\s:]")  # naive, few_shot and cot keep letters, whitespace, ':'
_REFERENCE_MARKED = re.compile(r"<\|ACTION\|>(.*?)<\|END\|>", re.DOTALL)  # robust_*: the FIRST pair
REFERENCE_COT_MARKER = "ACTION:"  # case-sensitive; the text after the last one


@cache
def reference_failure_text() -> str:
    """robust_cot's candidate when no marked action is found (the vendored JSON quotes it)."""
    rule = str(reference_prompts()["agents"]["robust_cot"]["parse"])
    found = re.search(r"literal string '([^']*)'", rule)
    if found is None:
        raise ValueError("the vendored prompt JSON no longer names robust_cot's failure string")
    return found.group(1)


def _reference_filter(text: str) -> str:
    return _REFERENCE_FILTER.sub("", text)


def _reference_naive(answer: str) -> ParsedAnswer:
    # No label or line extraction: the whole filtered answer is the candidate.
    candidate = _reference_filter(answer)
    return ParsedAnswer(candidate, "", marker_found=candidate == answer)


def _reference_cot(answer: str) -> ParsedAnswer:
    filtered = _reference_filter(answer)
    candidate = filtered.split(REFERENCE_COT_MARKER)[-1].strip()
    return ParsedAnswer(candidate, answer, marker_found=REFERENCE_COT_MARKER in filtered)


def _reference_robust_naive(answer: str) -> ParsedAnswer:
    found = _REFERENCE_MARKED.search(answer)
    if found is None:
        return ParsedAnswer(answer.strip(), "", marker_found=False)
    return ParsedAnswer(found.group(1).strip(), "", marker_found=True)


def _reference_robust_cot(answer: str) -> ParsedAnswer:
    found = _REFERENCE_MARKED.search(answer)
    if found is None:
        return ParsedAnswer(reference_failure_text(), answer, marker_found=False)
    return ParsedAnswer(found.group(1).strip(), answer, marker_found=True)


REFERENCE_PARSERS: dict[str, Callable[[str], ParsedAnswer]] = {
    "naive": _reference_naive,
    "few_shot": _reference_naive,
    "cot": _reference_cot,
    "robust_naive": _reference_robust_naive,
    "robust_cot": _reference_robust_cot,
}


def parse_reference(strategy: str, answer: str | None) -> ParsedAnswer:
    """The reference agent's output for ``answer`` (already stripped, as its client
    strips it): the candidate is what the reference validates, logs as the CSV's
    Action and replays as the assistant message of the next prompts."""
    return REFERENCE_PARSERS[strategy](answer or "")


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
