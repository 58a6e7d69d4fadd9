"""Reading actions out of answers, per strategy, malformed answers included."""

from __future__ import annotations

import pytest

from agents.parsing import clean, parse_answer, resolve

CRAFTER = ["Noop", "Move West", "Move East", "Do", "Place Table"]


@pytest.mark.parametrize(
    ("answer", "candidate"),
    [
        ("go forward", "go forward"),
        ("  go forward.\n", "go forward"),
        ("Action: go forward", "go forward"),
        ("**turn left**", "turn left"),
        ("`pick up`", "pick up"),
        ('"toggle"', "toggle"),
        ("I think so.\nturn right", "turn right"),  # the last line counts
        ("<think>maybe left</think>\nturn left", "turn left"),
        ("examine type 3 chest", "examine type 3 chest"),  # digits kept (TextWorld objects)
        ("", ""),
        ("!!!", ""),
    ],
)
def test_it_reads_naive_answers(answer: str, candidate: str) -> None:
    assert parse_answer("naive", answer).candidate == candidate
    assert parse_answer("few_shot", answer).candidate == candidate


def test_it_reads_the_last_cot_marker_and_keeps_the_reasoning() -> None:
    parsed = parse_answer("cot", "The key is north. ACTION: go forward\nHmm, no.\nACTION: turn left\nthat's it")
    assert parsed.candidate == "turn left"
    assert parsed.reasoning.startswith("The key is north.") and parsed.marker_found


@pytest.mark.parametrize(
    ("answer", "candidate", "marker"),
    [
        ("Reasoning...\naction: Move West", "Move West", True),  # any case
        ("Reasoning...\nACTION:   **Do**.", "Do", True),
        ("Reasoning...\nACTION:", "", True),  # a marker with nothing after it
        ("no marker at all\nMove East", "Move East", False),  # falls back to the last line
        (None, "", False),
    ],
)
def test_it_reads_cot_answers(answer: str | None, candidate: str, marker: bool) -> None:
    parsed = parse_answer("cot", answer)
    assert (parsed.candidate, parsed.marker_found) == (candidate, marker)


@pytest.mark.parametrize(
    ("answer", "candidate", "marker"),
    [
        ("<|ACTION|>go forward<|END|>", "go forward", True),
        ("thinking <|ACTION|>turn left<|END|> no wait <|ACTION|> turn right <|END|>", "turn right", True),
        ("<|action|>pick up<|end|>", "pick up", True),
        ("<|ACTION|>\ndrop\n<|END|>", "drop", True),
        ("reasoning\n<|ACTION|>toggle", "toggle", False),  # unclosed: the rest of the line
        ("reasoning\nACTION: go forward", "go forward", False),  # no markers: the cot rule
        ("just text", "just text", False),
    ],
)
def test_it_reads_robust_answers(answer: str, candidate: str, marker: bool) -> None:
    for strategy in ("robust_naive", "robust_cot"):
        parsed = parse_answer(strategy, answer)
        assert (parsed.candidate, parsed.marker_found) == (candidate, marker)


def test_it_maps_candidates_onto_the_action_space_ignoring_case_and_spaces() -> None:
    assert resolve("move   west", CRAFTER) == "Move West"
    assert resolve("PLACE TABLE", CRAFTER) == "Place Table"
    assert resolve("fly", CRAFTER) == "fly"  # unknown: the game decides (its default action)


def test_it_cleans_to_the_allowed_characters() -> None:
    assert clean("  Final answer: <go forward>!  ") == "go forward"
    assert clean("far north-east") == "far north-east"
    assert len(clean("x" * 1000)) == 255
