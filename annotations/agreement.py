"""Inter-annotator agreement: Cohen's kappa and Krippendorff's alpha.

Plain functions on plain data, no Django.

Krippendorff's alpha follows K. Krippendorff, "Computing Krippendorff's
Alpha-Reliability" (2011): values are pairable within a unit when the unit
has at least two of them; the coincidence matrix counts, for every unit u
with m_u pairable values, each ordered pair of values from different coders
with weight 1 / (m_u - 1); then

    alpha = 1 - (n - 1) * sum_ck o_ck d2(c, k) / sum_ck n_c n_k d2(c, k)

with n_c the marginal of value c and n the number of pairable values. The
difference functions d2 are the paper's nominal, ordinal, interval and ratio
ones. A unit is given as a mapping value -> how many coders gave it, which
lets thousands of identical units (a step nobody flagged) be counted once
with a multiplicity.

Undefined figures (a single value used throughout, no pairable data) are
returned as None, never as a made-up number.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any, Literal, TypeVar

V = TypeVar("V", bound=Hashable)
Metric = Literal["nominal", "ordinal", "interval", "ratio"]
UnitCounts = Mapping[V, int]  # value -> number of coders who gave it, in one unit
DifferenceFn = Callable[[Hashable, Hashable], float]  # the squared difference d2(c, k)


# ----- Krippendorff's alpha -----------------------------------------------------------------
def units_from_coders(data: Sequence[Sequence[V | None]]) -> list[Counter[V]]:
    """Reliability data as rows of coders x columns of units (None: missing)
    turned into one Counter of values per unit."""
    width = max((len(row) for row in data), default=0)
    units: list[Counter[V]] = [Counter() for _ in range(width)]
    for row in data:
        for unit, value in zip(units, row, strict=False):
            if value is not None:
                unit[value] += 1
    return units


def coincidences(units: Iterable[tuple[UnitCounts[V], int]]) -> dict[tuple[V, V], float]:
    """The coincidence matrix o_ck of (unit counts, multiplicity) pairs."""
    matrix: dict[tuple[V, V], float] = defaultdict(float)
    for counts, multiplicity in units:
        m = sum(counts.values())
        if m < 2 or multiplicity <= 0:
            continue  # a lone value has nothing to pair with
        scale = multiplicity / (m - 1)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    matrix[(c, k)] += pairs * scale
    return dict(matrix)


def alpha_from_units(units: Iterable[tuple[UnitCounts[V], int]], metric: Metric = "nominal") -> float | None:
    """Krippendorff's alpha of units given as (value counts, multiplicity)."""
    matrix = coincidences(units)
    marginals: dict[V, float] = defaultdict(float)
    for (c, _k), o in matrix.items():
        marginals[c] += o
    n = sum(marginals.values())
    if n <= 1:
        return None
    d2 = difference_function(metric, marginals)
    observed = sum(o * d2(c, k) for (c, k), o in matrix.items())
    values = list(marginals)
    expected = sum(marginals[c] * marginals[k] * d2(c, k) for c in values for k in values)
    if expected == 0:
        return None  # every pairable value is the same: agreement is undefined, not perfect
    return 1.0 - (n - 1) * observed / expected


def krippendorff_alpha(data: Sequence[Sequence[V | None]], metric: Metric = "nominal") -> float | None:
    """Alpha of reliability data: rows are coders, columns units, None missing."""
    return alpha_from_units(((unit, 1) for unit in units_from_coders(data)), metric)


def difference_function(metric: Metric, marginals: Mapping[V, float]) -> DifferenceFn:
    if metric == "nominal":
        return _nominal
    if metric == "interval":
        return _interval
    if metric == "ratio":
        return _ratio
    if metric == "ordinal":
        return _ordinal(marginals)
    raise ValueError(f"unknown metric {metric!r}")


def _nominal(c: Hashable, k: Hashable) -> float:
    return 0.0 if c == k else 1.0


def _interval(c: Hashable, k: Hashable) -> float:
    return (_number(c) - _number(k)) ** 2


def _ratio(c: Hashable, k: Hashable) -> float:
    a, b = _number(c), _number(k)
    return 0.0 if a + b == 0 else ((a - b) / (a + b)) ** 2


def _ordinal(marginals: Mapping[Any, float]) -> DifferenceFn:
    """d2(c, k) = (sum of n_g for g from c to k, minus (n_c + n_k) / 2) squared."""
    ranked = sorted(marginals, key=_number)
    cumulative: dict[Hashable, float] = {}
    total = 0.0
    for value in ranked:
        cumulative[value] = total  # n of the values ranked below
        total += marginals[value]

    def d2(c: Hashable, k: Hashable) -> float:
        low, high = (c, k) if _number(c) <= _number(k) else (k, c)
        between = cumulative[high] + marginals[high] - cumulative[low]
        return (between - (marginals[c] + marginals[k]) / 2) ** 2

    return d2


def _number(value: Hashable) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        return float(value)
    except ValueError:
        raise TypeError(f"{value!r} is not a number: use the nominal metric") from None


# ----- Cohen's kappa ---------------------------------------------------------------------------
def contingency(a: Sequence[V | None], b: Sequence[V | None]) -> Counter[tuple[V, V]]:
    """Counts of (a's value, b's value) over the units both coded."""
    if len(a) != len(b):
        raise ValueError("both coders must be given the same units")
    return Counter((x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None)


def cohen_kappa_from_table(table: Mapping[tuple[V, V], int]) -> float | None:
    """Cohen's kappa of a contingency table (a's value, b's value) -> count."""
    n = sum(table.values())
    if n == 0:
        return None
    rows: dict[V, int] = defaultdict(int)
    cols: dict[V, int] = defaultdict(int)
    agree = 0
    for (x, y), count in table.items():
        rows[x] += count
        cols[y] += count
        agree += count if x == y else 0
    p_observed = agree / n
    p_expected = sum(rows[v] * cols.get(v, 0) for v in rows) / (n * n)
    if p_expected == 1:
        return None  # both coders used one and the same value throughout
    return (p_observed - p_expected) / (1 - p_expected)


def cohen_kappa(a: Sequence[V | None], b: Sequence[V | None]) -> float | None:
    """Cohen's kappa of two coders over the same units (None: missing, skipped)."""
    return cohen_kappa_from_table(contingency(a, b))


def observed_agreement(table: Mapping[tuple[V, V], int]) -> float | None:
    n = sum(table.values())
    return None if n == 0 else sum(c for (x, y), c in table.items() if x == y) / n


def pairwise_kappas(coders: Mapping[str, Sequence[V | None]]) -> dict[tuple[str, str], float | None]:
    """Kappa for each pair of named coders over the same units."""
    names = sorted(coders)
    return {(x, y): cohen_kappa(coders[x], coders[y]) for x, y in combinations(names, 2)}
