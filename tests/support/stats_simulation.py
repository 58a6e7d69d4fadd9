"""The coverage simulation of the leaderboard's intervals: distributions with
a known mean, the old and new interval methods, and the rows of the table in
docs/statistics.md. bench/stats_coverage.py prints the full table; the fast
coverage tests (tests/leaderboard/test_stats_coverage.py) run it small."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from leaderboard.stats import Interval, mean_interval, overall_estimate

Rng = np.random.Generator
Method = Callable[[np.ndarray, int], Interval | None]
REPLICATES = 2000


# ----- distributions with a known mean ------------------------------------------------------
@dataclass(frozen=True)
class Distribution:
    name: str
    mean: float
    draw: Callable[[Rng, int], np.ndarray]


def _zero_heavy(rng: Rng, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.6, 0.0, rng.beta(2, 3, n))


DISTRIBUTIONS = (
    Distribution("normal", 0.5, lambda rng, n: rng.normal(0.5, 0.15, n)),
    Distribution("beta(2,5)", 2 / 7, lambda rng, n: rng.beta(2, 5, n)),
    Distribution("success/fail p=.3", 0.3, lambda rng, n: (rng.random(n) < 0.3).astype(float)),
    Distribution("zero-heavy", 0.4 * 0.4, _zero_heavy),
)


# ----- the methods ----------------------------------------------------------------------------
def old_percentile(values: np.ndarray, seed: int) -> Interval | None:
    """The board's former ``bootstrap_mean``: 2,000 percentile resamples, in input order."""
    if not len(values):
        return None
    picks = np.random.default_rng(seed).integers(0, len(values), size=(REPLICATES, len(values)))
    low, high = np.percentile(values[picks].mean(axis=1), [2.5, 97.5])
    return Interval(float(low), float(high))


def bca(values: np.ndarray, seed: int) -> Interval | None:
    if len(values) < 2 or np.all(values == values[0]):
        return None
    result = scipy_stats.bootstrap((values,), np.mean, method="BCa", n_resamples=999, rng=seed)
    low, high = result.confidence_interval
    return None if not np.isfinite(low) or not np.isfinite(high) else Interval(float(low), float(high))


def new_mean(values: np.ndarray, seed: int) -> Interval | None:
    return mean_interval(values.tolist(), seed=seed)


# ----- measuring --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    case: str
    method: str
    coverage: float
    width: float  # mean over the intervals given
    missing: int  # data sets without an interval
    zero_width: int

    def line(self) -> str:
        return (
            f"| {self.case} | {self.method} | {self.coverage:.3f} | {self.width:.3f} | {self.missing} "
            f"| {self.zero_width} |"
        )


def measure(case: str, method: str, truth: float, intervals: Sequence[Interval | None]) -> Row:
    given = [i for i in intervals if i is not None]
    hits = sum(1 for i in given if i.low <= truth <= i.high)
    return Row(
        case=case, method=method, coverage=hits / len(intervals),
        width=float(np.mean([i.width for i in given])) if given else float("nan"),
        missing=len(intervals) - len(given), zero_width=sum(1 for i in given if i.width == 0),
    )  # fmt: skip


def mean_rows(dist: Distribution, n: int, datasets: int, seed: int, methods: dict[str, Method]) -> list[Row]:
    rng = np.random.default_rng([seed, n, DISTRIBUTIONS.index(dist)])
    samples = [dist.draw(rng, n) for _ in range(datasets)]
    case = f"mean {dist.name} n={n}"
    return [
        measure(case, name, dist.mean, [method(sample, k) for k, sample in enumerate(samples)])
        for name, method in methods.items()
    ]


# ----- the paired comparison ----------------------------------------------------------------
EDGE = 0.10  # the model's true mean advantage over games


def draw_games(rng: Rng, games: int, model_n: int, human_n: int) -> dict[int, tuple[list[float], list[float]]]:
    """Games share a difficulty (both sides move with it); the model's edge varies by game."""
    drawn = {}
    for game in range(games):
        difficulty = rng.normal(0.0, 0.15)
        edge = EDGE + rng.normal(0.0, 0.10)
        model = 0.5 + difficulty + edge + rng.normal(0.0, 0.15, model_n)
        human = 0.5 + difficulty + rng.normal(0.0, 0.15, human_n)
        drawn[game] = (model.tolist(), human.tolist())
    return drawn


def old_paired(games: dict[int, tuple[list[float], list[float]]], seed: int) -> Interval | None:
    """The former summarize_pairs: every model x human pair, bootstrapped as independent."""
    pairs = np.array([m - h for model, human in games.values() for m in model for h in human])
    return old_percentile(pairs, seed)


def paired_rows(shape: tuple[int, int, int], datasets: int, seed: int) -> list[Row]:
    from leaderboard.pairing import paired_difference

    games, model_n, human_n = shape
    rng = np.random.default_rng([seed, *shape])
    drawn = [draw_games(rng, games, model_n, human_n) for _ in range(datasets)]
    case = f"paired {games} games x {model_n} model x {human_n} human"
    return [
        measure(case, "old", EDGE, [old_paired(g, k) for k, g in enumerate(drawn)]),
        measure(case, "new", EDGE, [paired_difference(g, seed=k)[1] for k, g in enumerate(drawn)]),
    ]


PAIRED_SHAPES = ((5, 1, 4), (5, 3, 3), (10, 2, 5), (10, 1, 1))


# ----- the overall ----------------------------------------------------------------------------
OVERALL_ENVS = (  # env -> (distribution, episodes): a BALROG-like mix at small counts
    ("babyai", DISTRIBUTIONS[2], 10),
    ("crafter", DISTRIBUTIONS[1], 10),
    ("textworld", DISTRIBUTIONS[3], 6),
    ("babaisai", DISTRIBUTIONS[2], 12),
    ("minihack", DISTRIBUTIONS[2], 8),
    ("nle", DISTRIBUTIONS[3], 5),
)


def old_overall(values_by_env: dict[str, list[float]], seed: int) -> Interval | None:
    """The board's former ``bootstrap_overall`` (stratified percentile bootstrap)."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(REPLICATES)
    for values in values_by_env.values():
        distinct, counts = np.unique(np.asarray(values), return_counts=True)
        picks = rng.multinomial(len(values), counts / len(values), size=REPLICATES)
        totals += picks @ distinct / len(values)
    low, high = np.percentile(totals / len(values_by_env), [2.5, 97.5])
    return Interval(float(low), float(high))


def overall_rows(datasets: int, seed: int) -> list[Row]:
    rng = np.random.default_rng([seed, 6])
    truth = float(np.mean([dist.mean for _env, dist, _n in OVERALL_ENVS]))
    drawn = [{env: dist.draw(rng, n).tolist() for env, dist, n in OVERALL_ENVS} for _ in range(datasets)]
    case = "overall of 6 envs (5-12 episodes each)"
    new = [overall_estimate(values) for values in drawn]
    return [
        measure(case, "old", truth, [old_overall(values, k) for k, values in enumerate(drawn)]),
        measure(case, "new", truth, [estimate.interval() if estimate else None for estimate in new]),
    ]


# ----- ranks ------------------------------------------------------------------------------------
def shifted(dist: Distribution, shift: float) -> Callable[[Rng, int], np.ndarray]:
    """The distribution's scores moved up by ``shift`` (success/fail: p moved up)."""
    if dist is DISTRIBUTIONS[2]:
        return lambda rng, n: (rng.random(n) < 0.3 + shift).astype(float)
    return lambda rng, n: np.clip(dist.draw(rng, n) + shift, 0.0, 1.0)


def rank_rows(datasets: int, seed: int) -> list[str]:
    return [
        f"| ranked apart, true difference {shift:.2f} | {old:.3f} | {new:.3f} |"
        for shift, old, new in rank_rates(datasets, seed)
    ]


def rank_rates(datasets: int, seed: int) -> list[tuple[float, float, float]]:
    """Two entries on the overall mix: how often they get different ranks,
    with equal true scores (a false "better") and with one 0.05 higher on
    every env (power); new: confident_ranks, old: no overlap of the
    percentile intervals."""
    from leaderboard.stats import confident_ranks

    rates = []
    for shift in (0.0, 0.05, 0.10):
        rng = np.random.default_rng([seed, 7, int(shift * 100)])
        old = new = 0
        for k in range(datasets):
            a = {env: dist.draw(rng, n).tolist() for env, dist, n in OVERALL_ENVS}
            b = {env: shifted(dist, shift)(rng, n).tolist() for env, dist, n in OVERALL_ENVS}
            ia, ib = old_overall(a, 2 * k), old_overall(b, 2 * k + 1)
            old += ia is not None and ib is not None and not ia.overlaps(ib)
            ranks = confident_ranks([overall_estimate(a), overall_estimate(b)])
            new += ranks[0] != ranks[1]
        rates.append((shift, old / datasets, new / datasets))
    return rates


# ----- the table --------------------------------------------------------------------------------
def all_rows(datasets: int, seed: int, with_bca: bool) -> list[Row]:
    methods: dict[str, Method] = {"old": old_percentile, "new": new_mean}
    if with_bca:
        methods = {"old": old_percentile, "bca": bca, "new": new_mean}
    rows: list[Row] = []
    for dist in DISTRIBUTIONS:
        for n in (5, 10, 30):
            rows += mean_rows(dist, n, datasets, seed, methods)
    for shape in PAIRED_SHAPES:
        rows += paired_rows(shape, datasets, seed)
    return rows + overall_rows(datasets, seed)
