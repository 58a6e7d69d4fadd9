"""Every adapter of both protocols honours the same contract (games/base.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from games.base import GameAdapter, InvalidTask
from games.registry import ENVS, PROTOCOL_BALROG, PROTOCOLS, adapter_class, make_adapter, protocol_of
from reference.prompts import instruction

REFERENCE_TASK_COUNTS = {"babyai": 5, "crafter": 1, "textworld": 3, "babaisai": 40, "minihack": 8, "nle": 1}
REFERENCE_EPISODES = {"babyai": 10, "crafter": 10, "textworld": 10, "babaisai": 3, "minihack": 5, "nle": 5}
DEFAULT_ACTIONS = {"babyai": "go forward", "crafter": "Noop", "textworld": "help", "minihack": "north", "nle": "esc"}


ADAPTERS = [(env, protocol) for env in ENVS for protocol in PROTOCOLS]


@pytest.fixture(params=ADAPTERS, ids=[f"{env}-{protocol}" for env, protocol in ADAPTERS])
def adapter(request: pytest.FixtureRequest) -> Iterator[GameAdapter]:
    env, protocol = request.param
    game = make_adapter(env, adapter_class(env, protocol).tasks()[0].task, {"protocol": protocol})
    game.reset(11)
    yield game
    game.close()


@pytest.mark.parametrize(("env", "protocol"), ADAPTERS)
def test_it_lists_the_reference_tasks(env: str, protocol: str) -> None:
    tasks = adapter_class(env, protocol).tasks()
    assert len(tasks) == REFERENCE_TASK_COUNTS[env]
    assert len({t.task for t in tasks}) == len(tasks)
    assert all(t.env == env and t.episodes_per_task == REFERENCE_EPISODES[env] for t in tasks)
    assert all(t.description for t in tasks)


@pytest.mark.parametrize(("env", "protocol"), ADAPTERS)
def test_it_refuses_an_unknown_task(env: str, protocol: str) -> None:
    with pytest.raises(InvalidTask):
        make_adapter(env, "no-such-task", {"protocol": protocol})


def test_it_uses_balrogs_default_actions(adapter: GameAdapter) -> None:
    if adapter.env in DEFAULT_ACTIONS:
        assert adapter.default_action == DEFAULT_ACTIONS[adapter.env]
    assert adapter.is_valid(adapter.default_action)


def test_it_describes_the_state_for_models_and_people(adapter: GameAdapter) -> None:
    observation = adapter.observation()
    assert observation.long_term.strip()
    assert json.loads(json.dumps(adapter.frame())) == adapter.frame()
    assert adapter.render_png().startswith(b"\x89PNG\r\n\x1a\n")
    assert adapter.instructions().strip()
    assert json.dumps(adapter.hud())


def test_it_binds_keys_to_valid_actions(adapter: GameAdapter) -> None:
    bindings = adapter.key_bindings()
    if adapter.accepts_free_text:
        return
    assert bindings
    valid = set(adapter.action_space())
    assert {b.action for b in bindings} <= valid | {a for a in (b.action for b in bindings) if adapter.is_valid(a)}
    assert len({b.key for b in bindings}) == len(bindings)


def test_it_logs_json_raw_actions_and_stable_digests(adapter: GameAdapter) -> None:
    before = adapter.digest()
    assert adapter.digest() == before
    result = adapter.step(adapter.action_space()[0])
    assert json.loads(json.dumps(result.executed)) == result.executed and result.executed
    assert 0.0 <= result.progression <= 1.0 and adapter.steps == 1


def test_it_executes_the_default_action_for_an_invalid_answer(adapter: GameAdapter) -> None:
    invalid = "" if adapter.accepts_free_text else "definitely not an action ###"
    result = adapter.step(invalid)
    if adapter.accepts_free_text and protocol_of(adapter.options) == PROTOCOL_BALROG:
        # The reference's TextWorld takes any string, the empty one too, as a command.
        assert (result.valid, result.action) == (True, invalid)
        return
    assert (result.valid, result.action) == (False, adapter.default_action)


def test_it_reports_the_same_reset_for_the_same_seed(adapter: GameAdapter) -> None:
    twin = make_adapter(adapter.env, adapter.task, adapter.options)
    try:
        assert twin.reset(11) == adapter.reset(11)
        assert twin.digest() == adapter.digest()
    finally:
        twin.close()


def test_it_tells_a_model_the_references_instruction_on_its_protocol(adapter: GameAdapter) -> None:
    if protocol_of(adapter.options) != PROTOCOL_BALROG:
        return
    assert adapter.instructions() == instruction(adapter.env, adapter.task, adapter.mission())
