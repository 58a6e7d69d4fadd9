"""Statistics the leaderboard adds on top of BALROG's aggregation.

The means and standard errors themselves come from ``agents.aggregation``
(the one place BALROG's rules live); this module only adds what the
reference does not have: a seeded bootstrap interval for the overall score,
a rank that ties entries whose intervals overlap, and human-normalized
scores. Pure functions on plain data.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_REPLICATES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


def seed_for(key: str) -> int:
    """A stable seed per entry: the same data always gives the same interval."""
    return zlib.crc32(key.encode("utf-8"))


def bootstrap_overall(
    values_by_env: Mapping[str, Sequence[float]], seed: int, replicates: int = BOOTSTRAP_REPLICATES
) -> Interval | None:
    """95% percentile interval of the overall score (unweighted mean of env
    means), resampling episodes with replacement within each env. None
    without episodes.

    Resampling N episodes with replacement is drawing how many times each
    distinct score is picked from a multinomial with the scores' frequencies,
    so the cost grows with the number of distinct scores (few per game), not
    with the number of episodes."""
    present = {env: np.asarray(values, dtype=float) for env, values in sorted(values_by_env.items()) if len(values)}
    if not present:
        return None
    rng = np.random.default_rng(seed)
    totals = np.zeros(replicates)
    for values in present.values():
        distinct, counts = np.unique(values, return_counts=True)
        picks = rng.multinomial(len(values), counts / len(values), size=replicates)
        totals += picks @ distinct / len(values)
    overall = totals / len(present)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(overall, [tail, 100 - tail])
    return Interval(float(low), float(high))


def tied_ranks(intervals: Sequence[Interval | None]) -> list[int | None]:
    """Rank = 1 + the number of entries clearly better (whose interval lies
    wholly above this one's). Entries whose intervals overlap share a rank;
    entries without an interval get no rank."""
    ranks: list[int | None] = []
    for mine in intervals:
        if mine is None:
            ranks.append(None)
            continue
        better = sum(1 for other in intervals if other is not None and other.low > mine.high)
        ranks.append(1 + better)
    return ranks


def human_normalized(model: float | None, human: float | None, floor: float | None) -> float | None:
    """(model - random) / (human - random); None when any part is missing or
    the human is no better than the random floor (the ratio is undefined)."""
    if model is None or human is None or floor is None:
        return None
    span = human - floor
    if span <= 0 or math.isclose(span, 0.0, abs_tol=1e-12):
        return None
    return (model - floor) / span
