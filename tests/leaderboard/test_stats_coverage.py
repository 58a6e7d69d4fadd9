"""The intervals hold their coverage targets (issue 23) on a fast simulation:
a few hundred data sets per case with fixed seeds (tests/support/stats_simulation.py;
bench/stats_coverage.py runs the full table with 1,000). A missing interval counts as a miss."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from leaderboard.stats import mean_interval
from tests.support import stats_simulation

bench = stats_simulation  # the module the table in docs/statistics.md comes from
DISTRIBUTIONS, measure, mean_rows, new_mean = bench.DISTRIBUTIONS, bench.measure, bench.mean_rows, bench.new_mean
overall_rows, paired_rows = bench.overall_rows, bench.paired_rows

DATASETS = 400
SEED = 23  # the seed of the table in docs/statistics.md
BY_NAME = {d.name: d for d in DISTRIBUTIONS}
# The targets for continuous data: >= 0.90 at n = 5, >= 0.93 at n = 10 and 30.
MEAN_TARGETS = [
    ("normal", 5, 0.90), ("normal", 10, 0.93), ("normal", 30, 0.93),
    ("beta(2,5)", 5, 0.90), ("beta(2,5)", 10, 0.93), ("beta(2,5)", 30, 0.93),
    ("zero-heavy", 5, 0.90), ("zero-heavy", 10, 0.93), ("zero-heavy", 30, 0.93),
]  # fmt: skip


@pytest.mark.parametrize(("name", "n", "target"), MEAN_TARGETS)
def test_it_covers_the_mean_of_continuous_data(name: str, n: int, target: float) -> None:
    # 1,000 data sets (the analytic interval is cheap): the table's own figures.
    (row,) = mean_rows(BY_NAME[name], n, 1000, SEED, {"new": new_mean})
    assert row.coverage >= target, row
    assert row.zero_width == 0 and row.missing == 0


@pytest.mark.parametrize("n", [5, 10, 30])
def test_it_covers_success_rates_exactly(n: int) -> None:
    """Success/fail data: Wilson's interval, its coverage computed exactly from
    the binomial (no sampling error) on a grid of success rates."""
    intervals = [mean_interval([1.0] * k + [0.0] * (n - k), seed=0) for k in range(n + 1)]
    assert all(i is not None and i.width > 0 for i in intervals)  # all failed or all succeeded: still an interval
    for p in np.arange(0.05, 0.951, 0.05):
        covered = sum(
            scipy_stats.binom.pmf(k, n, p) for k, i in enumerate(intervals) if i is not None and i.low <= p <= i.high
        )
        assert covered >= 0.90, (n, p, covered)


@pytest.mark.parametrize(("shape", "target"), [((5, 1, 4), 0.88), ((5, 3, 3), 0.88), ((10, 2, 5), 0.92)])
def test_it_covers_the_paired_difference_by_game(shape: tuple[int, int, int], target: float) -> None:
    old, new = paired_rows(shape, DATASETS, SEED)
    assert new.coverage >= target, new
    assert old.coverage < 0.8  # the former pair bootstrap, kept in the bench as the baseline


def test_it_covers_the_overall() -> None:
    _old, new = overall_rows(DATASETS, SEED)
    assert new.coverage >= 0.93 and new.missing == 0, new


def test_it_ranks_apart_rarely_when_equal_and_more_often_than_before_when_not() -> None:
    (_, _old_equal, equal), (_, old_near, near), _far = bench.rank_rates(DATASETS, SEED)
    assert equal <= 0.06  # a false "better" at about the stated 5 %
    assert near > 2 * old_near and near > 0.15  # the old no-overlap rule told 0.05 apart ~4 % of the time


def test_it_counts_a_missing_interval_as_a_miss() -> None:
    row = measure("case", "m", 0.5, [None, mean_interval([0.4, 0.6], seed=0)])
    assert row.coverage == 0.5 and row.missing == 1
