"""The messages a model gets: history, CoT history, invalid-answer notes, images, demonstrations."""

from __future__ import annotations

from agents.config import AgentConfig
from agents.prompts import (
    FORMAT_INSTRUCTIONS,
    CurrentTurn,
    Demonstration,
    Message,
    PastTurn,
    PromptInputs,
    build_messages,
    invalid_note,
    prompt_digest,
)
from agents.sent import message_images

PNG = b"\x89PNG fake"


def turns(count: int, invalid: tuple[int, ...] = ()) -> list[PastTurn]:
    return [
        PastTurn(i, f"obs {i}", "go forward", f"reasoning {i}\nACTION: {'fly' if i in invalid else 'go forward'}",
                 valid=i not in invalid, image=PNG)
        for i in range(count)
    ]


def build(config: AgentConfig, history: list[PastTurn], **kwargs: object) -> list[Message]:
    current = CurrentTurn(len(history), "obs now", "short now", PNG)
    return build_messages(PromptInputs(config, "RULES", "go forward", history, current, **kwargs))  # type: ignore[arg-type]


def test_it_sends_rules_history_and_the_current_observation_with_the_format() -> None:
    messages = build(AgentConfig("naive", max_text_history=3), turns(5))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == "RULES"
    assert messages[1]["content"] == "Observation:\nobs 3"  # the last max_text_history - 1 past turns
    assert messages[2]["content"] == "go forward"  # naive: the executed action
    last = messages[-1]["content"]
    assert isinstance(last, str)
    assert last.startswith("Current observation:\nshort now\nobs now")  # short-term part first
    assert last.endswith(FORMAT_INSTRUCTIONS["naive"])


def test_it_keeps_whole_answers_for_the_last_cot_turns_only() -> None:
    messages = build(AgentConfig("cot", max_text_history=4, max_cot_history=1), turns(5))
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert answers == ["go forward", "go forward", "reasoning 4\nACTION: go forward"]
    no_cot = build(AgentConfig("cot", max_text_history=4, max_cot_history=0), turns(5))
    assert all(m["content"] == "go forward" for m in no_cot if m["role"] == "assistant")


def test_it_notes_an_invalid_answer_in_the_next_observation() -> None:
    messages = build(AgentConfig("naive", max_text_history=3), turns(5, invalid=(2, 4)))
    # turn 2 is out of the window but its note shows on turn 3, the first kept observation
    assert messages[1]["content"] == "Observation:\n" + invalid_note("go forward") + "obs 3"
    assert messages[3]["content"] == "Observation:\nobs 4"
    last = messages[-1]["content"]
    assert isinstance(last, str) and last.startswith(invalid_note("go forward") + "Current observation:")
    quiet = build(AgentConfig("naive", max_text_history=3, feedback_on_invalid=False), turns(5, invalid=(4,)))
    assert "not contain a valid action" not in str(quiet)


def test_it_attaches_images_to_the_newest_observations_only() -> None:
    messages = build(AgentConfig("naive", max_text_history=4, max_image_history=2), turns(5))
    with_image = [m for m in messages if isinstance(m["content"], list)]
    assert len(with_image) == 2  # the current observation and the one before it
    assert message_images(with_image[-1])[0].startswith("data:image/png;base64,")
    assert all(isinstance(m["content"], str) for m in build(AgentConfig("naive"), turns(5)))


def test_it_shows_demonstrations_before_the_game() -> None:
    demo = Demonstration(7, "human", 1.0, (("demo obs 0", "turn left"), ("demo obs 1", "go forward")))
    messages = build(AgentConfig("few_shot"), turns(1), demos=(demo,))
    text = [m["content"] for m in messages]
    assert "study the demonstration" in str(text[0])
    assert str(text[1]).startswith("*** Demonstration 1 begins: a human episode")
    assert text[2:6] == ["Observation:\ndemo obs 0", "turn left", "Observation:\ndemo obs 1", "go forward"]
    assert text[6] == "*** Demonstration 1 ends. ***"
    assert "your turn" in str(text[7])


def test_it_digests_equal_prompts_equally_and_images_by_content() -> None:
    config = AgentConfig("naive", max_image_history=1)
    first, second = build(config, turns(2)), build(config, turns(2))
    assert prompt_digest(first) == prompt_digest(second)
    current = CurrentTurn(2, "obs now", "short now", b"other")
    other = build_messages(PromptInputs(config, "RULES", "go forward", turns(2), current))
    assert prompt_digest(other) != prompt_digest(first)
