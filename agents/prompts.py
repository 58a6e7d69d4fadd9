"""The messages sent to a model, built from the game's text and the history.

The conversation, in order:

1. system: the game's instructions (rules, goal, action meanings);
2. few_shot only: the demonstration episodes, each an alternation of
   observations (user) and the demonstrator's actions (assistant) between a
   start and an end line, then "now it is your turn";
3. the history: the last ``max_text_history - 1`` observations (long-term
   part only) each followed by the answer to it: the executed action, or the
   whole answer for the last ``max_cot_history`` turns of a CoT strategy;
4. the current observation (short-term part first, then long-term), with the
   strategy's answer-format instruction appended.

An observation that follows an invalid answer starts with a note saying so
and naming the action taken instead. Images (VLM runs) go with the last
``max_image_history`` observations. The messages are a pure function of these
inputs, so they can be rebuilt from the log and compared by digest.

That is the "balrogweb" protocol's layout. On the "balrog" protocol
(``PromptInputs.protocol``) the messages are the reference evaluator's
(``build_reference_messages``; its words from the vendored prompt JSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypedDict, cast

from agents.config import AgentConfig
from games.registry import PROTOCOL_BALROG, PROTOCOL_BALROGWEB
from reference.prompts import feedback_prefix, format_instruction, observation_message, reference_prompts


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImageURL(TypedDict):
    url: str  # a data: URL of the PNG


class ImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


class Message(TypedDict):
    """A chat message as the OpenAI API takes it: its content is text, or a list of parts."""

    role: str  # system, user or assistant
    content: str | list[TextPart | ImagePart]


FORMAT_INSTRUCTIONS: dict[str, str] = {
    "naive": "Answer with exactly one of the actions, and nothing else.",
    "few_shot": "Answer with exactly one of the actions, and nothing else, as in the demonstrations.",
    "cot": (
        "Think step by step about what to do next. Then end your answer with a last line of the form\n"
        "ACTION: <one of the actions>"
    ),
    "robust_naive": (
        "Answer with exactly one of the actions, written between the markers, like this:\n"
        "<|ACTION|>the action<|END|>\nWrite nothing else."
    ),
    "robust_cot": (
        "Think step by step about what to do next. Then give exactly one of the actions between the "
        "markers, like this:\n<|ACTION|>the action<|END|>\nOnly the last marked action counts."
    ),
}
FEW_SHOT_NOTE = "Before you play, study the demonstration episodes that follow."
YOUR_TURN = "The demonstrations are over. Now it is your turn to play."
IMAGE_NOTE = "(An image of the current state is attached.)"


@dataclass(frozen=True)
class PastTurn:
    """A step already played, as the prompt history shows it."""

    index: int
    observation: str  # the long-term part the model was shown
    action: str  # the action executed
    answer: str  # the model's whole answer
    valid: bool
    image: bytes | None = None
    output: str = ""  # the parsed answer (the "balrog" protocol's history shows it)


@dataclass(frozen=True)
class CurrentTurn:
    index: int
    observation: str  # long-term part
    short_term: str = ""
    image: bytes | None = None


@dataclass(frozen=True)
class Demonstration:
    """A recorded episode shown to a few-shot agent."""

    episode_id: int
    player: str  # "human", "scripted ...", "model ..."
    progression: float
    steps: tuple[tuple[str, str], ...]  # (observation, action executed)
    truncated: bool = False


@dataclass(frozen=True)
class PromptInputs:
    config: AgentConfig
    instructions: str
    default_action: str
    history: Sequence[PastTurn]
    current: CurrentTurn
    demos: Sequence[Demonstration] = field(default_factory=tuple)
    protocol: str = PROTOCOL_BALROGWEB  # games.registry.PROTOCOLS: which layout the messages follow


def invalid_note(default_action: str) -> str:
    return (
        f"Your previous answer did not contain a valid action, so the default action "
        f'"{default_action}" was taken instead.\n\n'
    )


def build_messages(inputs: PromptInputs) -> list[Message]:
    if inputs.protocol == PROTOCOL_BALROG:
        return build_reference_messages(inputs)
    config = inputs.config
    messages: list[Message] = [{"role": "system", "content": _system_text(inputs)}]
    if config.strategy == "few_shot" and inputs.demos:
        messages.extend(_demo_messages(inputs.demos))
    history = list(inputs.history)
    start = max(0, len(history) - (config.max_text_history - 1))
    kept = history[start:]
    with_image = _image_turns(config, kept, inputs.current)
    cot_turns = {turn.index for turn in kept[len(kept) - config.max_cot_history :]} if config.is_cot else set()
    previous_valid = history[start - 1].valid if start > 0 else True
    for turn in kept:
        text = "Observation:\n" + _note(inputs, previous_valid) + turn.observation
        messages.append(_user(text, turn.image if turn.index in with_image else None))
        messages.append({"role": "assistant", "content": turn.answer if turn.index in cot_turns else turn.action})
        previous_valid = turn.valid
    messages.append(_current_message(inputs, previous_valid, with_image))
    return messages


def _system_text(inputs: PromptInputs) -> str:
    if inputs.config.strategy == "few_shot" and inputs.demos:
        return f"{inputs.instructions}\n\n{FEW_SHOT_NOTE}"
    return inputs.instructions


def _image_turns(config: AgentConfig, kept: Sequence[PastTurn], current: CurrentTurn) -> set[int]:
    """Indexes of the observations sent with their image: the newest ones."""
    if not config.uses_images:
        return set()
    newest_first = [current.index, *(turn.index for turn in reversed(kept))]
    return set(newest_first[: config.max_image_history])


def _note(inputs: PromptInputs, previous_valid: bool) -> str:
    """The note that starts an observation following an invalid answer."""
    if previous_valid or not inputs.config.feedback_on_invalid:
        return ""
    return invalid_note(inputs.default_action)


def _current_message(inputs: PromptInputs, previous_valid: bool, with_image: set[int]) -> Message:
    current = inputs.current
    parts = [_note(inputs, previous_valid) + "Current observation:"]
    if current.short_term:
        parts.append(current.short_term)
    parts.append(current.observation)
    image = current.image if current.index in with_image else None
    if image is not None:
        parts.append(IMAGE_NOTE)
    parts.append("\n" + FORMAT_INSTRUCTIONS[inputs.config.strategy])
    return _user("\n".join(parts), image)


def _demo_messages(demos: Sequence[Demonstration]) -> list[Message]:
    messages: list[Message] = []
    for number, demo in enumerate(demos, start=1):
        outcome = f"a {demo.player} episode that reached progression {100 * demo.progression:.0f}%"
        cut = " (shortened)" if demo.truncated else ""
        messages.append(_user(f"*** Demonstration {number} begins: {outcome}{cut}. ***"))
        for observation, action in demo.steps:
            messages.append(_user("Observation:\n" + observation))
            messages.append({"role": "assistant", "content": action})
        messages.append(_user(f"*** Demonstration {number} ends. ***"))
    messages.append(_user(YOUR_TURN))
    return messages


def _user(text: str, image: bytes | None = None) -> Message:
    if image is None:
        return {"role": "user", "content": text}
    url = "data:image/png;base64," + base64.b64encode(image).decode("ascii")
    return {
        "role": "user",
        "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}],
    }


# ----- the reference evaluator's messages ("balrog" protocol) ---------------------------------------
# balrog/prompt_builder/history.py, balrog/agents/*.py and balrog/client.py of balrog-ai/BALROG@af7d1f1,
# as the vendored JSON's "agents" and "prompt_assembly" sections describe them:
#
# - the instruction is the FIRST message, role user (no system message); few_shot replaces it by
#   the instruction with "PLAY" replaced, the demonstrations and a "your turn" line;
# - then the events, oldest first: each observation (user), each parsed answer (assistant; an
#   empty one adds no event, as the reference's ``if prev_action:``), in a deque of
#   2 * max(max_text_history, max_image_history) events ending with the current observation;
# - an observation is "Current Observation:" (+ the short-term text) for the newest, else
#   "Observation:", then its long-term text if it is among the newest max_text_history, then
#   "Image observation provided." if its image is among the newest max_image_history;
# - cot: the newest max_cot_history assistant turns are "Previous plan:\n" + the whole answer;
# - the format instruction is appended to the last message after "\n\n";
# - the client sends every content as a list of parts (text, then the image).


class HistoryAssembly(TypedDict):
    """What this module reads of the vendored JSON's prompt_assembly.history."""

    cot_previous_plan_prefix: str


class FewShotStrings(TypedDict):
    play_replacement: list[str]  # [old, new]
    demo_start: str  # numbered (_numbered)
    demo_observation_prefix: str
    demo_end: str
    your_turn: str


def _assembly() -> HistoryAssembly:
    history: HistoryAssembly = reference_prompts()["prompt_assembly"]["history"]
    return history


def _few_shot_strings() -> FewShotStrings:
    strings: FewShotStrings = reference_prompts()["agents"]["few_shot"]["strings"]
    return strings


def reference_history_turns(config: AgentConfig) -> int:
    """The past turns that can still show in a reference prompt: the deque holds
    2 * max(text, image) events and each turn adds at least one."""
    return 2 * max(config.max_text_history, config.max_image_history)


def shown_observation(long_term: str, previous: PastTurn | None, config: AgentConfig) -> str:
    """The long-term text the reference shows: after an invalid answer, the
    feedback line naming the action executed instead comes first."""
    if previous is None or previous.valid or not config.feedback_on_invalid:
        return long_term
    return feedback_prefix(previous.action) + long_term


def build_reference_messages(inputs: PromptInputs) -> list[Message]:
    config = inputs.config
    if config.strategy == "few_shot":
        messages = _reference_demo_messages(inputs.instructions, inputs.demos)
    else:
        messages = [_parts("user", inputs.instructions)]
    messages.extend(_reference_events(inputs))
    last_text = cast(TextPart, messages[-1]["content"][0])  # _parts puts the text first
    last_text["text"] += "\n\n" + format_instruction(config.strategy)
    return messages


Event = tuple[str, PastTurn | CurrentTurn]


def _reference_events(inputs: PromptInputs) -> list[Message]:
    config = inputs.config
    events: list[Event] = []
    for past in inputs.history:
        events.append(("observation", past))
        if past.output:  # the reference skips an empty previous action
            events.append(("action", past))
    events.append(("observation", inputs.current))
    events = events[-reference_history_turns(config) :]
    observations = [turn for kind, turn in events if kind == "observation"]
    with_text = {id(turn) for turn in observations[len(observations) - config.max_text_history :]}
    imaged = [turn for turn in observations if turn.image is not None] if config.max_image_history else []
    with_image = {id(turn) for turn in imaged[len(imaged) - config.max_image_history :]} if imaged else set()
    actions = [turn for kind, turn in events if kind == "action"]
    cot = config.strategy == "cot" and config.max_cot_history > 0
    with_plan = {id(turn) for turn in actions[len(actions) - config.max_cot_history :]} if cot else set()
    assembly = _assembly()
    messages: list[Message] = []
    for kind, turn in events:
        if kind == "action":
            assert isinstance(turn, PastTurn)
            plan = id(turn) in with_plan
            content = assembly["cot_previous_plan_prefix"] + turn.answer if plan else turn.output
            messages.append(_parts("assistant", content))
            continue
        image = turn.image if id(turn) in with_image else None
        text = observation_message(
            current=turn is inputs.current,
            short_term=turn.short_term if isinstance(turn, CurrentTurn) else "",
            long_term=turn.observation if id(turn) in with_text else None,
            image=image is not None,
        )
        messages.append(_parts("user", text, image))
    return messages


def _numbered(template: str, number: int) -> str:
    """The JSON quotes the reference's f-strings: ``{len(self.icl_episodes) + 1}`` is the number."""
    start, end = template.index("{"), template.rindex("}")
    return template[:start] + str(number) + template[end + 1 :]


def _reference_demo_messages(instructions: str, demos: Sequence[Demonstration]) -> list[Message]:
    strings = _few_shot_strings()
    old, new = strings["play_replacement"]
    messages = [_parts("user", instructions.replace(old, new))]
    for number, demo in enumerate(demos, start=1):
        messages.append(_parts("user", _numbered(strings["demo_start"], number)))
        for observation, action in demo.steps:
            messages.append(_parts("user", strings["demo_observation_prefix"] + observation))
            messages.append(_parts("assistant", action))
        messages.append(_parts("user", _numbered(strings["demo_end"], number)))
    messages.append(_parts("user", strings["your_turn"]))
    return messages


def _parts(role: str, text: str, image: bytes | None = None) -> Message:
    """A message as the reference's OpenAI client sends it: content is a list of parts."""
    content: list[TextPart | ImagePart] = [{"type": "text", "text": text}]
    if image is not None:
        url = "data:image/png;base64," + base64.b64encode(image).decode("ascii")
        content.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": role, "content": content}


def image_digest(image: bytes | None) -> str:
    return hashlib.sha256(image).hexdigest()[:32] if image is not None else ""


def prompt_digest(messages: Sequence[Message]) -> str:
    """SHA-256 of the messages, images by their digest: equal digests prove
    that a rebuilt prompt is the one that was sent."""
    return hashlib.sha256(json.dumps(_without_image_data(messages), separators=(",", ":")).encode()).hexdigest()


def _without_image_data(value: object) -> object:
    if isinstance(value, dict):
        if value.get("type") == "image_url":
            url = str(value.get("image_url", {}).get("url", ""))
            return {"type": "image_url", "sha256": hashlib.sha256(url.encode()).hexdigest()}
        return {key: _without_image_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_image_data(item) for item in value]
    return value


def prompt_chars(messages: Sequence[Message]) -> int:
    """Characters of text in the messages (the size of the prompt, images aside)."""
    total = 0
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            total += len(content)
        else:
            total += sum(len(part["text"]) for part in content if part["type"] == "text")
    return total
