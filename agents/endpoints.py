"""What calling a model endpoint needs, as plain data (no HTTP client import:
the models module uses it, and every process loads the models)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from games.jsontypes import JSONValue


class EndpointMisconfigured(Exception):
    pass


@dataclass(frozen=True)
class EndpointSettings:
    """What the runner needs of a ModelEndpoint: plain data, safe to share
    between threads (no ORM access while a model call is in flight)."""

    pk: int
    name: str
    provider: str
    base_url: str
    model_id: str
    api_key_env: str = ""
    temperature: float = 1.0
    max_tokens: int = 8192
    timeout: float = 120.0
    retries: int = 5
    retry_base_delay: float = 2.0
    vision: bool = False
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0
    extra_body: Mapping[str, JSONValue] = field(default_factory=dict)

    def api_key(self) -> str:
        if not self.api_key_env:
            return "none"  # local servers (vLLM, Ollama, the dev server) accept any key
        value = os.environ.get(self.api_key_env, "")
        if not value:
            raise EndpointMisconfigured(
                f"the environment variable {self.api_key_env} (API key of {self.name}) is not set"
            )
        return value

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_price_per_mtok + output_tokens * self.output_price_per_mtok) / 1e6
