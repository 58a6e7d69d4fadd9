"""Compare played cases with the reference's golden cases.

The golden file (``.jsonl`` or ``.jsonl.xz``) holds, per case, what the
reference BALROG itself showed a model: the instruction and every
long-term and short-term text. A case matches when ours are identical,
with one masking (``0x...`` addresses, which the reference writes into Baba
Is AI's text when "is you" breaks). Crafter cases carry ``stable_texts``:
only that many leading texts are reproducible even by the reference.
"""

from __future__ import annotations

import json
import lzma
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reference.cases import PlayedCase, play_case

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def mask(text: str) -> str:
    return _ADDRESS.sub("0x", text)


def open_text(path: Path) -> TextIO:
    if path.name.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_cases(path: Path) -> Iterator[dict[str, Any]]:
    with open_text(path) as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc


@dataclass
class CaseComparison:
    env: str
    task: str
    seed: int
    texts: int = 0  # texts compared (2 per observation: long and short term)
    identical: int = 0
    instruction_equal: bool = False
    format_only: bool = False
    first_difference: dict[str, Any] | None = None
    error: str = ""

    @property
    def matches(self) -> bool:
        return not self.error and self.instruction_equal and self.identical == self.texts


@dataclass
class GoldenReport:
    cases: list[CaseComparison] = field(default_factory=list)


def compare_case(golden: Mapping[str, Any]) -> CaseComparison:
    result = CaseComparison(golden["env"], golden["task"], int(golden["seed"]))
    try:
        played = play_case(golden)
    except Exception as exc:  # a crash is a finding of the check, not the end of it
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    _compare_played(result, golden, played)
    return result


def _compare_played(result: CaseComparison, golden: Mapping[str, Any], played: PlayedCase) -> None:
    result.instruction_equal = played.instruction == golden["instruction"]
    if not result.instruction_equal:
        result.first_difference = {
            "step": "instruction",
            "ours": played.instruction,
            "reference": golden["instruction"],
        }
    expected = golden["observations"]
    limit = int(golden.get("stable_texts", len(expected)))
    result.format_only = limit < len(expected)
    for index, want in enumerate(expected[:limit]):
        got = played.observations[index] if index < len(played.observations) else {}
        for part in ("long_term", "short_term"):
            result.texts += 1
            if mask(got.get(part, "<missing>")) == mask(want[part]):
                result.identical += 1
            elif result.first_difference is None:
                result.first_difference = {
                    "step": index,
                    "part": part,
                    "ours": got.get(part, "<missing: the episode ended earlier>"),
                    "reference": want[part],
                }
    if len(played.observations) != len(expected) and result.first_difference is None:
        result.first_difference = {
            "step": "length",
            "ours": len(played.observations),
            "reference": len(expected),
        }
        result.texts += 1


def check_golden(path: Path, envs: set[str] | None = None, tasks: set[str] | None = None) -> GoldenReport:
    report = GoldenReport()
    for golden in read_cases(path):
        if envs and golden["env"] not in envs:
            continue
        if tasks and golden["task"] not in tasks:
            continue
        report.cases.append(compare_case(golden))
    return report
