"""BALROG's own prompt strings, read from the vendored JSON (MIT, BALROG Team).

``data/balrog_reference_prompts.json`` holds every instruction template,
action list, format instruction and fixed observation fragment of the
reference evaluator (balrog-ai/BALROG@af7d1f1), verbatim. Everything that
shows a model the reference protocol reads its words from here, never from a
copy typed into code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
PROMPTS_PATH = DATA_DIR / "balrog_reference_prompts.json"

#: prepended to the long-term text of the observation after an invalid answer
FEEDBACK_TEMPLATE = (
    "\n\nYour previous output did not contain a valid action. Defaulted to action: {action}\n\nObservation:\n"
)


@cache
def reference_prompts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PROMPTS_PATH.read_text(encoding="utf-8"))
    return data


def env_prompts(env: str) -> dict[str, Any]:
    envs: dict[str, Any] = reference_prompts()["envs"]
    if env not in envs:
        raise KeyError(f"the reference has no env {env!r}")
    result: dict[str, Any] = envs[env]
    return result


def default_action(env: str) -> str:
    defaults: dict[str, str] = reference_prompts()["prompt_assembly"]["invalid_action"]["defaults"]
    return defaults[env]


def feedback_prefix(default: str) -> str:
    """What the reference puts before the next observation after an invalid answer."""
    return FEEDBACK_TEMPLATE.format(action=default)


#: the line the reference's evaluator wrote before commit c347aa8 (2025-01-28), always on
LEGACY_FEEDBACK_TEMPLATE = (
    "\n\nYour previous output action: '{answer}' is not a valid action. Defaulted to action: {action}\n"
)


def legacy_feedback_prefix(answer: str, default: str) -> str:
    """The 2024 evaluator's line after an invalid answer (in its logs, e.g. November 2024)."""
    return LEGACY_FEEDBACK_TEMPLATE.format(answer=answer, action=default)


def observation_message(*, current: bool, short_term: str = "", long_term: str | None, image: bool = False) -> str:
    """One observation's user message in the reference's history: the header
    ("Current Observation:" for the newest), the short-term text (newest only,
    when there is one), the long-term text (when still within the text history)
    and the image marker line (when its image is sent)."""
    history: dict[str, str] = reference_prompts()["prompt_assembly"]["history"]
    lines = [history["current_observation_header"] if current else history["past_observation_header"]]
    if current and short_term:
        lines.append(short_term)
    if long_term is not None:
        lines.append(long_term)
    if image:
        lines.append(history["image_marker_line"])
    return "\n".join(lines)


def _action_strings(pairs: list[list[str]]) -> str:
    return ",\n".join(f"{action}: {description}" for action, description in pairs)


def minihack_goal(task: str) -> str:
    for rule in env_prompts("minihack")["goal_rules"]:
        if _goal_rule_matches(rule["condition"], task):
            return str(rule["goal"])
    raise KeyError(f"no reference goal for {task!r}")


def _goal_rule_matches(condition: str, task: str) -> bool:
    # Conditions read "'corridor' in task.lower()"; the quoted word is the substring.
    word = condition.split("'")[1]
    return word in task.lower()


def instruction(env: str, task: str, mission: str | None = None) -> str:
    """The first user message of a reference episode."""
    prompts = env_prompts(env)
    if env == "textworld":
        return str(prompts["instruction_by_task"][task]).strip()
    if env == "minihack":
        derived = prompts["per_task_derived"][task]
        return str(derived["instruction_rendered"])
    template: str = prompts["instruction_template"]
    fields: dict[str, str] = {"action_strings": _action_strings(prompts["actions"])}
    if env == "babyai":
        if mission is None:
            raise ValueError("a BabyAI instruction needs the episode's mission")
        fields["mission"] = mission
    return template.format(**fields)


def valid_actions(env: str, task: str) -> list[str] | None:
    """The reference's accepted action strings (None: any text, TextWorld)."""
    prompts = env_prompts(env)
    if env == "textworld":
        return None
    if env == "minihack":
        return list(prompts["per_task_derived"][task]["action_keys"])
    if "valid_actions" in prompts:
        return list(prompts["valid_actions"])
    raise KeyError(f"{env}: the accepted actions come from the env (NetHack: see games.nethack.reference)")


def format_instruction(agent: str) -> str:
    agents: dict[str, Any] = reference_prompts()["agents"]
    return str(agents[agent]["format_instruction"])
