"""The "balrog" protocol's messages and parsers: the reference evaluator's, word for word
(balrog-ai/BALROG@af7d1f1: prompt_builder/history.py, agents/*.py; strings from the vendored JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from agents.config import AgentConfig
from agents.parsing import parse_reference, reference_failure_text
from agents.prompts import (
    CurrentTurn,
    Demonstration,
    Message,
    PastTurn,
    PromptInputs,
    build_messages,
    prompt_chars,
    shown_observation,
)
from agents.sent import message_images, message_text
from reference.prompts import feedback_prefix, format_instruction

PNG = b"\x89PNG fake"
NAIVE_FORMAT = format_instruction("naive")


def past(index: int, output: str = "go forward", *, valid: bool = True, answer: str = "", image: bytes | None = None,
         action: str = "") -> PastTurn:
    return PastTurn(index, f"obs {index}", action or (output if valid else "go forward"), answer or output, valid,
                    image, output=output)


def build(config: AgentConfig, history: list[PastTurn], current: CurrentTurn | None = None,
          **kwargs: Any) -> list[Message]:
    current = current or CurrentTurn(len(history), "obs now", "short now")
    inputs = PromptInputs(config, "INSTRUCTION", "go forward", history, current, protocol="balrog", **kwargs)
    return build_messages(inputs)


def text(message: Message) -> str:
    return message_text(message)  # the reference's messages: one text part (then maybe an image)


def test_it_sends_the_instruction_first_as_a_user_message_and_no_system_message() -> None:
    messages = build(AgentConfig("naive"), [past(0, "turn left"), past(1, "go forward")])
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": "INSTRUCTION"}]  # the client's list-of-parts form
    assert [text(m) for m in messages[1:5]] == ["Observation:\nobs 0", "turn left", "Observation:\nobs 1",
                                                "go forward"]
    # the current one: its header, the short-term text (current only), the long-term text, the format
    assert text(messages[-1]) == "Current Observation:\nshort now\nobs now\n\n" + NAIVE_FORMAT


def test_it_replays_the_parsed_output_not_the_action_executed() -> None:
    messages = build(AgentConfig("naive"), [past(0, "Go Forward", valid=False)])
    assert text(messages[2]) == "Go Forward"  # the reference's prev_action is response.completion


def test_it_adds_no_assistant_message_for_an_empty_output() -> None:
    messages = build(AgentConfig("naive"), [past(0, ""), past(1, "turn left")])
    assert [m["role"] for m in messages] == ["user", "user", "user", "assistant", "user"]  # `if prev_action:`


def test_it_keeps_the_reference_deque_of_twice_the_history_in_events() -> None:
    config = AgentConfig("naive", max_text_history=3)
    messages = build(config, [past(i, f"a{i}") for i in range(6)])
    # 6 events: the oldest kept one is an assistant message, right after the instruction
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert [text(m) for m in messages[1:6]] == ["a3", "Observation:\nobs 4", "a4", "Observation:\nobs 5", "a5"]


def test_it_shows_only_the_newest_texts_when_empty_outputs_crowd_the_deque() -> None:
    config = AgentConfig("naive", max_text_history=2)
    messages = build(config, [past(0, ""), past(1, ""), past(2, ""), past(3, "")])
    # four observation events fit, the newest two carry their text, the others only the header
    assert [text(m) for m in messages[1:]] == ["Observation:", "Observation:", "Observation:\nobs 3",
                                               "Current Observation:\nshort now\nobs now\n\n" + NAIVE_FORMAT]


def test_cot_shows_the_newest_answer_as_the_previous_plan() -> None:
    history = [past(i, f"a{i}", answer=f"I think {i}.\nACTION: a{i}") for i in range(3)]
    messages = build(AgentConfig("cot"), history)
    answers = [text(m) for m in messages if m["role"] == "assistant"]
    assert answers == ["a0", "a1", "Previous plan:\nI think 2.\nACTION: a2"]
    assert text(messages[-1]).endswith("\n\n" + format_instruction("cot"))
    robust = build(AgentConfig("robust_cot"), history)
    assert [text(m) for m in robust if m["role"] == "assistant"] == ["a0", "a1", "a2"]  # never a plan


def test_it_marks_and_attaches_the_newest_images() -> None:
    config = AgentConfig("naive", max_text_history=4, max_image_history=2)
    history = [past(i, image=PNG) for i in range(3)]
    messages = build(config, history, CurrentTurn(3, "obs now", "", PNG))
    imaged = [m for m in messages if len(m["content"]) == 2]
    assert len(imaged) == 2 and imaged[-1] is messages[-1]
    assert text(imaged[0]) == "Observation:\nobs 2\nImage observation provided."
    assert text(messages[-1]).startswith("Current Observation:\nobs now\nImage observation provided.\n\n")
    assert message_images(imaged[0])[0].startswith("data:image/png;base64,")
    assert prompt_chars(messages) > 0


def test_the_feedback_line_prefixes_the_observation_after_an_invalid_answer() -> None:
    config = AgentConfig("naive")
    invalid = past(0, "fly", valid=False, action="go forward")
    shown = shown_observation("you see a wall", invalid, config)
    assert shown == feedback_prefix("go forward") + "you see a wall"
    assert shown.startswith("\n\nYour previous output did not contain a valid action. Defaulted to action: go forward")
    assert shown_observation("x", past(0), config) == "x"
    assert shown_observation("x", invalid, AgentConfig("naive", feedback_on_invalid=False)) == "x"


def test_few_shot_uses_the_reference_layout() -> None:
    demo = Demonstration(7, "human", 1.0, (("demo obs 0", "turn left"),))
    messages = build(AgentConfig("few_shot"), [past(0)], demos=(demo,),)
    texts = [text(m) for m in messages]
    assert texts[1:5] == ["****** START OF DEMONSTRATION EPISODE 1 ******", "Obesrvation:\ndemo obs 0",
                          "turn left", "****** END OF DEMONSTRATION EPISODE 1 ******"]
    assert texts[5] == "****** Now it's your turn to play the game! ******"
    assert texts[6] == "Observation:\nobs 0" and "INSTRUCTION" not in texts[6:]


def test_few_shot_replaces_play_in_the_instruction() -> None:
    inputs = PromptInputs(AgentConfig("few_shot"), "Rules. PLAY!", "go forward", [], CurrentTurn(0, "o"),
                          protocol="balrog")
    assert text(build_messages(inputs)[0]) == "Rules. First, observe the demonstrations provided and learn from them!!"


@pytest.mark.parametrize(
    ("strategy", "answer", "candidate"),
    [
        ("naive", "go forward", "go forward"),
        ("naive", "Action: go forward.", "Action: go forward"),  # no label extraction, only the filter
        ("naive", "1. turn left", " turn left"),  # digits go, the space stays
        ("naive", "Go Forward", "Go Forward"),  # case kept: the game's validity is exact
        ("few_shot", "`pick up`", "pick up"),
        ("cot", "I should move.\nACTION: turn right", "turn right"),
        ("cot", "ACTION: north ... wait. ACTION: south!", "south"),  # the last marker
        ("cot", "Action: turn right", "Action: turn right"),  # case-sensitive marker: none here
        ("robust_naive", "<|ACTION|> go forward <|END|> and <|ACTION|>turn left<|END|>", "go forward"),  # the first
        ("robust_naive", "just go forward", "just go forward"),  # no marker: the whole answer
        ("robust_cot", "think... <|ACTION|>toggle\n<|END|>", "toggle"),
        ("robust_cot", "think... go forward", None),  # no marker: the fixed failure text
    ],
)
def test_it_parses_as_the_reference_agents(strategy: str, answer: str, candidate: str | None) -> None:
    parsed = parse_reference(strategy, answer)
    assert parsed.candidate == (reference_failure_text() if candidate is None else candidate)
    assert parsed.reasoning == (answer if strategy in ("cot", "robust_cot") else "")


def test_the_failure_text_is_the_reference_s() -> None:
    assert reference_failure_text() == "Failed to obtain a valid action from the reasoning."
