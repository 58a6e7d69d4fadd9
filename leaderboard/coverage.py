"""Which entries the main ranking may compare: one protocol, full coverage.

BALROG's overall is the mean of six env means, each over a fixed set of
tasks and episode counts (10 per BabyAI task, 3 per Baba Is AI task, ...).
An entry missing an env, a task or episodes has a different mixture of
tasks behind its figures, so it is not ranked with complete entries: it is
listed apart with what it covers. Entries of different protocols (see
games.registry) are never ranked together; the main ranking is BALROG's own
protocol.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from games.registry import ENVS, PROTOCOL_BALROG, adapter_class

#: how many missing pieces a row names before "and N more"
MISSING_SHOWN = 3


class Counted(Protocol):
    @property
    def env(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def count(self) -> int: ...


@dataclass(frozen=True)
class Coverage:
    envs: int  # envs with every task at the reference's count
    tasks: int  # tasks at the reference's count
    total_tasks: int
    missing: tuple[str, ...]  # what is short, e.g. "nle NetHackChallenge-v0: 3/5 episodes"

    @property
    def complete(self) -> bool:
        return self.tasks == self.total_tasks

    def text(self) -> str:
        if self.complete:
            return "full reference coverage"
        shown = ", ".join(self.missing[:MISSING_SHOWN])
        more = f" and {len(self.missing) - MISSING_SHOWN} more" if len(self.missing) > MISSING_SHOWN else ""
        return f"{self.tasks}/{self.total_tasks} tasks, {self.envs}/{len(ENVS)} games complete; short: {shown}{more}"


@cache
def reference_counts() -> dict[tuple[str, str], int]:
    """(env, task) -> episodes per task in BALROG's protocol, for all 58 tasks."""
    return {(info.env, info.task): info.episodes_per_task for env in ENVS for info in adapter_class(env).tasks()}


def coverage_of(groups: Iterable[Counted]) -> Coverage:
    played: dict[tuple[str, str], int] = defaultdict(int)
    for group in groups:
        played[(group.env, group.task)] += group.count
    return _coverage(played, reference_counts())


def _coverage(played: Mapping[tuple[str, str], int], wanted: Mapping[tuple[str, str], int]) -> Coverage:
    missing = [
        f"{env} {task}: {played.get((env, task), 0)}/{count} episodes"
        for (env, task), count in wanted.items()
        if played.get((env, task), 0) < count
    ]
    short_envs = {env for (env, task), count in wanted.items() if played.get((env, task), 0) < count}
    return Coverage(
        envs=len(ENVS) - len(short_envs),
        tasks=len(wanted) - len(missing),
        total_tasks=len(wanted),
        missing=tuple(missing),
    )


def ranking_refusal(protocol: str, coverage: Coverage, own_demonstrations: bool = False) -> str:
    """Why an entry stays out of the main ranking ('' when it belongs in it)."""
    if protocol != PROTOCOL_BALROG:
        return f"{protocol} protocol: other prompts and texts than BALROG's"
    if own_demonstrations:
        return "few-shot with this project's own demonstrations, not the reference's"
    if not coverage.complete:
        return coverage.text()
    return ""
