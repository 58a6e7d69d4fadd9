"""The reference protocol shows a model exactly what BALROG shows it: every
golden case (the reference's own output on every task) is played and
compared, instruction and every text."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reference.cases import play_case, reference_options
from reference.golden import check_golden, compare_case, mask, read_cases
from reference.report import golden_failures, golden_report_json
from tests.support.reference_data import GOLDEN, need


def first_case(env: str) -> dict[str, Any]:
    return next(case for case in read_cases(need(GOLDEN)) if case["env"] == env)


def test_it_masks_only_memory_addresses() -> None:
    assert mask("<baba.Rule object at 0x7f3a9c> 0x1F") == "<baba.Rule object at 0x> 0x"
    assert mask("no address 0 x12") == "no address 0 x12"


def test_it_refuses_an_unknown_knob() -> None:
    with pytest.raises(ValueError, match="unknown knob 'moon'"):
        reference_options({"moon": "full"})


def test_it_reports_a_line_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"env": "babyai"}\n{not json\n')
    with pytest.raises(ValueError, match=r"cases\.jsonl:2: not a JSON line"):
        list(read_cases(path))


def test_it_finds_the_first_text_that_differs() -> None:
    golden = copy.deepcopy(first_case("babyai"))
    golden["observations"][2]["long_term"] += "\na purple unicorn 1 step forward"
    result = compare_case(golden)
    assert not result.matches and result.instruction_equal
    assert result.first_difference is not None and result.first_difference["step"] == 2
    assert result.identical == result.texts - 1


def test_it_plays_only_the_answers_before_the_end() -> None:
    # A case shorter than its generator's 25 answers ended there (a Baba Is AI win).
    golden = next(c for c in read_cases(need(GOLDEN)) if c["env"] == "babaisai" and len(c["actions"]) < 25)
    played = play_case({**golden, "actions": [*golden["actions"], "up", "up"]})
    assert played.observations == golden["observations"]


GOLDEN_CASES = {"babaisai": 200, "minihack": 40, "babyai": 25, "textworld": 15, "nle": 10, "crafter": 10}


@pytest.mark.parametrize("env", GOLDEN_CASES)
def test_it_matches_every_golden_case_of_the_env(env: str) -> None:
    report = check_golden(need(GOLDEN), envs={env})
    assert len(report.cases) == GOLDEN_CASES[env]
    differences = golden_report_json(report)["differences"]
    assert golden_failures(report) == [], json.dumps(differences[:3], indent=1)[:4000]
    # Every text compared: two per observation, Crafter's only as far as the reference repeats itself.
    cases = [case for case in read_cases(GOLDEN) if case["env"] == env]
    wanted = sum(2 * int(case.get("stable_texts", len(case["observations"]))) for case in cases)
    assert sum(case.texts for case in report.cases) == wanted
