"""The one token bucket: a burst, then a sustained rate. Used per websocket
connection (ops.websocket) and per key in process memory (play.limits)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated: float  # time.monotonic() of the last refill

    @classmethod
    def full(cls, rate: float, capacity: float, now: float | None = None) -> TokenBucket:
        return cls(rate, capacity, capacity, time.monotonic() if now is None else now)

    def take(self, now: float | None = None) -> bool:
        """Spend one token if there is one (refilled for the time since the last call)."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
