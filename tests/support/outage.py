"""A fake database for ops.outage's breaker to probe: the ``database`` and
``breaker`` fixtures (tests/conftest.py) put it in the process's place."""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.outage import DatabaseBreaker


@dataclass
class FakeDatabase:
    """What ops.outage's breaker probes: up or down, on a clock the test moves."""

    up: bool = False
    now: float = 100.0
    probes: list[float] = field(default_factory=list)

    def probe(self) -> bool:
        self.probes.append(self.now)
        return self.up

    def breaker(self) -> DatabaseBreaker:
        return DatabaseBreaker(probe=self.probe, interval_s=1.0, clock=lambda: self.now, applies=lambda: True)
