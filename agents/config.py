"""An agent's configuration: the prompting strategy and its history settings.

Stored as JSON on an evaluation run (``EvaluationRun.agent``); every episode
of the run plays with it, so results name exactly what produced them.
Defaults are BALROG's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from games.registry import PROTOCOL_BALROG

STRATEGIES: tuple[str, ...] = ("naive", "cot", "robust_naive", "robust_cot", "few_shot")
COT_STRATEGIES = frozenset({"cot", "robust_cot"})
MAX_HISTORY = 1000


#: EvaluationRun.meta key, True on few_shot runs of the "balrog" protocol: the reference's
#: demonstrations (a separate download, not staged) are not obtainable, so these runs show
#: recorded episodes of this server instead and are never ranked with reference entries.
OWN_DEMONSTRATIONS = "own_demonstrations"


def uses_own_demonstrations(strategy: str, protocol: str) -> bool:
    return strategy == "few_shot" and protocol == PROTOCOL_BALROG


class AgentConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AgentConfig:
    strategy: str = "naive"
    #: observations (with the actions between them) kept in the prompt, the current one included
    max_text_history: int = 16
    #: observations sent with their image; >= 1 makes it a VLM run
    max_image_history: int = 0
    #: previous answers kept whole (reasoning included) for the CoT strategies
    max_cot_history: int = 1
    #: start the observation after an invalid answer with a note saying so
    feedback_on_invalid: bool = True
    #: few_shot: demonstration episodes in the prompt, and the steps kept of each
    demo_episodes: int = 1
    demo_max_steps: int = 200

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise AgentConfigError(f"unknown strategy {self.strategy!r}; known: {', '.join(STRATEGIES)}")
        for name in ("max_text_history", "max_image_history", "max_cot_history", "demo_episodes", "demo_max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HISTORY:
                raise AgentConfigError(f"{name} must be an integer in 0..{MAX_HISTORY}, not {value!r}")
        if self.max_text_history < 1:
            raise AgentConfigError("max_text_history must be at least 1 (the current observation)")
        if self.max_image_history > self.max_text_history:
            raise AgentConfigError("max_image_history cannot exceed max_text_history")

    @property
    def uses_images(self) -> bool:
        return self.max_image_history >= 1

    @property
    def is_cot(self) -> bool:
        return self.strategy in COT_STRATEGIES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AgentConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise AgentConfigError(f"unknown agent settings: {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def label(self) -> str:
        """Short text naming the configuration (e.g. ``cot h16``, ``naive h16 img1``)."""
        parts = [self.strategy, f"h{self.max_text_history}"]
        if self.uses_images:
            parts.append(f"img{self.max_image_history}")
        return " ".join(parts)
