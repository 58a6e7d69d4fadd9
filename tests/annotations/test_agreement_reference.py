"""The agreement statistics equal the reference libraries on random data:
Krippendorff's alpha against the ``krippendorff`` package (all four metrics,
missing values), Cohen's kappa against scikit-learn's ``cohen_kappa_score``.
Dev dependencies only (requirements-dev.txt); fixed seeds."""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotations.agreement import Metric, cohen_kappa, krippendorff_alpha

MATRICES = 300
VALUES = [1, 2, 3, 4, 5]


def random_matrix(rng: np.random.Generator) -> list[list[int | None]]:
    """2-5 coders x 3-15 units, values 1-5 (fewer used at times), about 20 % missing."""
    coders, units = int(rng.integers(2, 6)), int(rng.integers(3, 16))
    used = rng.choice(VALUES, size=int(rng.integers(2, 6)), replace=False)
    matrix = rng.choice(used, size=(coders, units))
    missing = rng.random((coders, units)) < 0.2
    return [[None if missing[c, u] else int(matrix[c, u]) for u in range(units)] for c in range(coders)]


def reference_alpha(matrix: list[list[int | None]], metric: Metric) -> float | None:
    data = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = krippendorff.alpha(reliability_data=data, level_of_measurement=metric, value_domain=VALUES)
    except (ValueError, ZeroDivisionError, AssertionError):
        return None  # the reference refuses: no pairable values or a single value
    return None if not math.isfinite(value) else float(value)


@pytest.mark.parametrize("metric", ["nominal", "ordinal", "interval", "ratio"])
def test_it_equals_the_krippendorff_package(metric: Metric) -> None:
    rng = np.random.default_rng(["nominal", "ordinal", "interval", "ratio"].index(metric) + 23)
    compared = 0
    for _ in range(MATRICES):
        matrix = random_matrix(rng)
        expected = reference_alpha(matrix, metric)
        mine = krippendorff_alpha(matrix, metric)
        if expected is None:
            assert mine is None or not math.isfinite(mine), matrix
            continue
        assert mine == pytest.approx(expected, abs=1e-12), (metric, matrix)
        compared += 1
    assert compared > MATRICES * 0.9  # nearly all matrices are defined: the comparison is not vacuous


def test_it_equals_scikit_learns_cohen_kappa() -> None:
    rng = np.random.default_rng(2323)
    compared = 0
    for _ in range(MATRICES):
        units = int(rng.integers(2, 40))
        used = rng.choice(VALUES, size=int(rng.integers(1, 6)), replace=False)
        a = [int(v) for v in rng.choice(used, size=units)]
        b = [int(v) for v in rng.choice(used, size=units)]
        if rng.random() < 0.3:  # a coder often agreeing
            b = [x if rng.random() < 0.7 else y for x, y in zip(a, b, strict=True)]
        mine = cohen_kappa(a, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = float(cohen_kappa_score(a, b))
        if not math.isfinite(expected):
            assert mine is None  # one value used throughout by both: undefined, never made up
            continue
        assert mine == pytest.approx(expected, abs=1e-12), (a, b)
        compared += 1
    assert compared > MATRICES * 0.7  # a fifth use one value throughout: undefined


def test_it_skips_units_one_coder_missed_like_scikit_learn() -> None:
    a = [1, 2, None, 3, 1, 2, 2]
    b = [1, 3, 2, 3, None, 2, 1]
    kept = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    expected = cohen_kappa_score([x for x, _ in kept], [y for _, y in kept])
    assert cohen_kappa(a, b) == pytest.approx(float(expected), abs=1e-12)
