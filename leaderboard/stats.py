"""Statistics the leaderboard adds on top of BALROG's aggregation.

The means and BALROG's standard errors come from ``agents.aggregation`` (the
one place BALROG's rules live); this module adds what the reference does not
have, each method chosen by simulation (``bench/stats_coverage.py``, figures
in ``docs/statistics.md``):

- ``mean_interval``: Wilson's score interval for success/fail data, Wilson's
  with an effective sample size for other scores in [0, 1], Student's t
  otherwise; none (``None``, "too few episodes") below two episodes or with
  zero variance, so no interval is ever zero-width;
- ``overall_estimate``: the overall score (unweighted mean of env means) with
  a standard error from each env's sample variance and Welch-Satterthwaite
  degrees of freedom;
- ``confident_ranks``: rank = 1 + how many entries are better with the stated
  confidence, monotone in the displayed order;
- ``normalized_score``: the human-normalized score, undefined (with the
  reason) unless the humans are clearly above the random floor.

Pure functions on plain data; the analytic methods need no random numbers,
so the same data gives the same figures on every load.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95
#: fewer episodes than this: no interval ("too few episodes")
MIN_EPISODES = 2
TOO_FEW = "too few episodes for an interval"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error and the degrees of freedom of its t
    quantile: what intervals and pairwise comparisons are built from."""

    mean: float
    se: float
    df: float

    def interval(self, level: float = CONFIDENCE, bounds: tuple[float, float] = (0.0, 1.0)) -> Interval:
        """mean ± t * SE, clipped to the scale's bounds (progression is in [0, 1])."""
        half = t_quantile(level, self.df) * self.se
        return Interval(max(bounds[0], self.mean - half), min(bounds[1], self.mean + half))


def seed_for(key: str) -> int:
    """A stable seed per key (for any resampling method: the same data always gives the same figure)."""
    return zlib.crc32(key.encode("utf-8"))


def t_quantile(level: float, df: float) -> float:
    return float(scipy_stats.t.ppf(1 - (1 - level) / 2, df))


def clean(values: Iterable[float | None]) -> list[float]:
    """The finite values, sorted (NaN and None dropped; order never matters)."""
    return sorted(float(v) for v in values if v is not None and math.isfinite(v))


def all_equal(data: Sequence[float]) -> bool:
    """Equal up to rounding (0.5 - 0.2 and 0.4 - 0.1 differ in the last bit): no variance to go on."""
    return math.isclose(min(data), max(data), rel_tol=1e-9, abs_tol=1e-12)


def is_success_fail(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mean_interval(values: Iterable[float | None], *, seed: int, level: float = CONFIDENCE) -> Interval | None:
    """The interval of a mean: Wilson's score interval when every value is 0
    or 1 (it is never zero-width, even when all are equal), ``effective_wilson``
    for other values within [0, 1], else Student's t (both cover at n = 5
    where the percentile bootstrap does not). None below MIN_EPISODES values,
    or for non-binary values that are all equal.

    ``seed`` is part of the stable entry point for resampling methods; the
    methods chosen are analytic and deterministic, so it is not used."""
    data = clean(values)
    n = len(data)
    if n < MIN_EPISODES:
        return None
    if is_success_fail(data):
        ci = scipy_stats.binomtest(int(sum(data)), n).proportion_ci(confidence_level=level, method="wilson")
        return Interval(float(ci.low), float(ci.high))
    if all_equal(data):
        return None
    if data[0] >= 0.0 and data[-1] <= 1.0:
        return effective_wilson(data, level)
    estimate = t_estimate(data)
    return None if estimate is None else estimate.interval(level, bounds=(-math.inf, math.inf))


def effective_wilson(data: Sequence[float], level: float = CONFIDENCE) -> Interval:
    """Scores in [0, 1] (progression): Wilson's score interval with the
    effective sample size n~ = p(1 - p) / (s^2 / n) and Student's t quantile
    (n - 1 df) in place of z, as survey statistics treat a mean proportion
    with a design effect. It bends toward the middle where the scale's bound
    makes the mean's distribution skewed: zero-heavy progression at n = 10,
    0.916 with Student's t, 0.95 with this (docs/statistics.md). Needs
    values that are not all equal."""
    n = len(data)
    p = math.fsum(data) / n
    n_eff = p * (1 - p) / (float(np.var(data, ddof=1)) / n)
    z = t_quantile(level, n - 1)
    shrink = 1 + z * z / n_eff
    center = (p + z * z / (2 * n_eff)) / shrink
    half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff)) / shrink
    return Interval(max(0.0, center - half), min(1.0, center + half))


def t_estimate(data: Sequence[float]) -> Estimate | None:
    """Mean, sample SE (n - 1) and n - 1 degrees of freedom; None when degenerate."""
    n = len(data)
    if n < MIN_EPISODES or all_equal(data):
        return None
    sd = float(np.std(sorted(data), ddof=1))
    return Estimate(math.fsum(data) / n, sd / math.sqrt(n), n - 1)


def mean_variance(data: Sequence[float], level: float = CONFIDENCE) -> float:
    """The variance of one env's mean: sample variance / n, and for
    success/fail data at least Agresti-Coull's p~(1 - p~) / n~, so an env
    where every episode failed (or succeeded) still carries its uncertainty."""
    n = len(data)
    variance = 0.0 if all_equal(data) else float(np.var(data, ddof=1)) / n
    if is_success_fail(data):
        z2 = t_quantile(level, math.inf) ** 2
        tilde_n = n + z2
        p = (sum(data) + z2 / 2) / tilde_n
        variance = max(variance, p * (1 - p) / tilde_n)
    return variance


def overall_estimate(values_by_env: Mapping[str, Iterable[float | None]], level: float = CONFIDENCE) -> Estimate | None:
    """BALROG's overall (unweighted mean of env means) with SE = sqrt(sum of
    env mean variances) / number of envs and Welch-Satterthwaite degrees of
    freedom. None when an env has fewer than MIN_EPISODES episodes or zero
    variance (equal scores that are not all successes or all failures)."""
    envs = [data for _env, data in sorted((env, clean(values)) for env, values in values_by_env.items()) if data]
    if not envs or any(len(data) < MIN_EPISODES for data in envs):
        return None
    variances = [mean_variance(data, level) for data in envs]
    if not all(v > 0 for v in variances):  # an env of equal non-binary scores: its uncertainty is unknown
        return None
    total = math.fsum(variances)
    df = total**2 / math.fsum(v**2 / (len(data) - 1) for v, data in zip(variances, envs, strict=True))
    mean = math.fsum(math.fsum(data) / len(data) for data in envs) / len(envs)
    return Estimate(mean, math.sqrt(total) / len(envs), df)


def better_counts(estimates: Sequence[Estimate], level: float = CONFIDENCE) -> list[int]:
    """For each estimate, how many others are better with the stated
    confidence: Welch's t on the difference of means (two-sided level, so a
    test at 1 - level; no overlap of two intervals would be about p < 0.006)."""
    if not estimates:
        return []
    mean = np.array([e.mean for e in estimates])
    var = np.array([e.se**2 for e in estimates])
    df = np.array([e.df for e in estimates])
    diff = mean[:, None] - mean[None, :]  # [i, j]: i's mean minus j's
    total = var[:, None] + var[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        welch = total**2 / (var[:, None] ** 2 / df[:, None] + var[None, :] ** 2 / df[None, :])
        quantile = scipy_stats.t.ppf(1 - (1 - level) / 2, np.nan_to_num(welch, nan=1.0))
    better = diff - quantile * np.sqrt(total) > 0  # [i, j]: i is better than j
    np.fill_diagonal(better, False)
    return [int(n) for n in better.sum(axis=0)]


def confident_ranks(estimates: Sequence[Estimate | None], level: float = CONFIDENCE) -> list[int | None]:
    """rank = 1 + the largest number of entries better with confidence than
    this entry or than any entry scoring at least as high. So ranks follow
    the order of the scores (an entry never ranks above one scoring higher),
    and an entry's rank is 1 + the count of entries confidently better than
    it whenever that count is itself monotone. None without an estimate."""
    present = [(i, e) for i, e in enumerate(estimates) if e is not None]
    counts = better_counts([e for _i, e in present], level)
    ranks: list[int | None] = [None] * len(estimates)
    worst = 0
    scored = sorted(zip(present, counts, strict=True), key=lambda item: -item[0][1].mean)
    for _mean, tied in groupby(scored, key=lambda item: item[0][1].mean):
        group = list(tied)
        worst = max(worst, *(count for _entry, count in group))  # entries scoring at least as high
        for (i, _estimate), _count in group:
            ranks[i] = 1 + worst
    return ranks


def sample_se(se: float, n: int) -> float | None:
    """BALROG's SE (population SD / sqrt(n)) as the sample SE (n - 1); None below two values."""
    return se * math.sqrt(n / (n - 1)) if n >= MIN_EPISODES else None


@dataclass(frozen=True)
class Normalization:
    value: float | None  # None: undefined
    reason: str  # why it is undefined ("" when defined)


def normalized_score(
    model: float | None, human: float | None, floor: float | None, human_se: float | None
) -> Normalization:
    """(model - random) / (human - random), defined only when the human
    baseline is clearly above the random floor: the gap exceeds the human
    mean's own standard error (else the ratio explodes: a gap of 1e-3 would
    turn a 0.4 model into 400)."""
    missing = [name for name, v in (("model score", model), ("human baseline", human), ("random floor", floor))
               if v is None or not math.isfinite(v)]  # fmt: skip
    if missing:
        return Normalization(None, "no " + ", no ".join(missing))
    assert model is not None and human is not None and floor is not None  # for mypy: checked above
    gap = human - floor
    if gap <= 0:
        return Normalization(None, "humans no better than random")
    if human_se is None or not math.isfinite(human_se):
        return Normalization(None, "one human episode: no standard error")
    if gap <= human_se:
        return Normalization(None, f"humans not clearly above random (gap {100 * gap:.1f} ≤ SE {100 * human_se:.1f})")
    return Normalization((model - floor) / gap, "")
