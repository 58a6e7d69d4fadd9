"""The model's view people see is what the reference shows a model."""

from __future__ import annotations

from games.registry import make_adapter
from reference.prompts import feedback_prefix
from reference.view import model_view

TASK = "BabyAI-MixedTrainLocal-v0/goto"


def test_it_shows_the_current_observation_message_of_the_reference() -> None:
    adapter = make_adapter("babyai", TASK, {"protocol": "balrog"})
    adapter.reset(4)
    assert model_view(adapter) == "Current Observation:\n" + adapter.observation().long_term


def test_it_starts_with_the_feedback_line_after_an_invalid_answer() -> None:
    adapter = make_adapter("babyai", TASK, {"protocol": "balrog"})
    adapter.reset(4)
    adapter.step("fly away")
    expected = "Current Observation:\n" + feedback_prefix("go forward") + adapter.observation().long_term
    assert model_view(adapter) == expected
    adapter.step("turn left")
    assert model_view(adapter) == "Current Observation:\n" + adapter.observation().long_term


def test_it_shows_the_short_term_text_first_when_there_is_one() -> None:
    adapter = make_adapter("crafter", "default", {"protocol": "balrog"})
    adapter.reset(4)
    observation = adapter.observation()
    assert observation.short_term
    assert model_view(adapter) == f"Current Observation:\n{observation.short_term}\n{observation.long_term}"


def test_it_keeps_the_earlier_text_on_the_earlier_protocol() -> None:
    adapter = make_adapter("babyai", TASK, {"protocol": "balrogweb"})
    adapter.reset(4)
    assert model_view(adapter) == adapter.observation().text
