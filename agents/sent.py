"""What a model was sent at one step of a model episode: the exact messages.

The messages are not stored (only their digest, ``Step.meta["model"]["prompt"]``):
they are a pure function of the log (``agents.prompts``), so they are rebuilt
from it, and the digest proves the rebuilt messages are the ones sent. The
episode page's prompt view and ``manage.py show_prompt`` both read this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agents.episodes import rebuild_messages
from agents.models import RunEpisode
from agents.prompts import Message, prompt_digest
from games.models import Step


class NoPrompt(LookupError):
    """No model prompt exists for that episode and step."""


@dataclass(frozen=True)
class SentPrompt:
    slot: RunEpisode
    step: Step
    messages: list[Message]
    digest: str  # of the rebuilt messages
    sent_digest: str  # recorded when the messages were sent ('' for steps without a record)

    @property
    def verified(self) -> bool:
        return bool(self.sent_digest) and self.digest == self.sent_digest

    def to_json(self) -> dict[str, object]:  # encoded as it stands
        run = self.slot.run
        return {
            "episode": self.step.episode_id,
            "step": self.step.index,
            "run": run.pk,
            "protocol": run.protocol,
            "strategy": run.agent_config.strategy,
            "digest": self.digest,
            "sent_digest": self.sent_digest,
            "verified": self.verified,
            "messages": self.messages,
        }


def sent_prompt(episode_id: int, index: int) -> SentPrompt:
    slot = RunEpisode.objects.filter(episode_id=episode_id).select_related("episode", "run").first()
    if slot is None or slot.episode is None:
        raise NoPrompt(f"episode {episode_id} is not a model episode of an evaluation run")
    if not slot.episode.replayable:
        raise NoPrompt(f"episode {episode_id} was imported from a result folder: its prompts were never sent here")
    step = Step.objects.filter(episode_id=episode_id, index=index).first()
    if step is None:
        raise NoPrompt(f"episode {episode_id} has no step {index} (it has {slot.episode.steps})")
    messages = rebuild_messages(slot, index)
    model = step.meta.get("model", {}) if isinstance(step.meta, dict) else {}
    return SentPrompt(slot, step, messages, prompt_digest(messages), str(model.get("prompt", "")))


def message_text(message: Message) -> str:
    """A message's text parts, joined (its images are listed apart)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def message_images(message: Message) -> list[str]:
    """The data URLs of a message's images."""
    content = message["content"]
    if isinstance(content, str):
        return []
    return [str(part["image_url"]["url"]) for part in content if part["type"] == "image_url"]


def readable(prompt: SentPrompt) -> str:
    """The messages as plain text: one block per message, headed by its role."""
    verdict = "identical to what was sent" if prompt.verified else "NOT verified against the recorded digest"
    lines = [
        f"episode {prompt.step.episode_id} step {prompt.step.index} · run {prompt.slot.run_id} "
        f"({prompt.slot.run.protocol} protocol, {prompt.slot.run.agent_config.strategy}) · "
        f"{len(prompt.messages)} messages · sha256 {prompt.digest[:16]} {verdict}",
    ]
    for number, message in enumerate(prompt.messages):
        lines.append(f"----- [{number}] {message['role']} -----")
        lines.append(message_text(message))
        lines.extend(f"[image: {len(url)} characters of data URL]" for url in message_images(message))
    return "\n".join(lines) + "\n"


def as_json(prompt: SentPrompt) -> str:
    return json.dumps(prompt.to_json(), indent=2, ensure_ascii=False)
