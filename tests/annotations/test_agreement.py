"""Agreement statistics against hand-computed and published figures.

Published: K. Krippendorff, "Computing Krippendorff's Alpha-Reliability"
(2011), sections A (binary, two observers: alpha = 0.095), B (nominal, two
observers: 0.692) and C (four observers, values 1-5, missing data: nominal
0.743, ordinal 0.815, interval 0.849, ratio 0.797); Cohen's kappa of the
textbook 2x2 table 20/5/10/15 (p_o = 0.7, p_e = 0.5, kappa = 0.4).
"""

from __future__ import annotations

import pytest

from annotations.agreement import (
    Metric,
    alpha_from_units,
    cohen_kappa,
    cohen_kappa_from_table,
    coincidences,
    krippendorff_alpha,
    observed_agreement,
    pairwise_kappas,
)

N = None
# Section C: rows are observers A-D, columns units 1-12.
RELIABILITY_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize(
    ("metric", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_it_reproduces_krippendorffs_worked_example_c(metric: Metric, published: float) -> None:
    assert krippendorff_alpha(RELIABILITY_C, metric) == pytest.approx(published, abs=5e-4)


def test_it_reproduces_krippendorffs_binary_example_a() -> None:
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha([a, b]) == pytest.approx(0.095, abs=5e-4)


def test_it_reproduces_krippendorffs_nominal_example_b() -> None:
    a = list("aabbdcccedda")
    b = list("babbbccceddd")
    assert krippendorff_alpha([a, b]) == pytest.approx(0.692, abs=5e-4)


def test_it_computes_a_small_case_by_hand() -> None:
    # Units (1,1), (1,2), (2,2): o_11 = 2, o_12 = o_21 = 1, o_22 = 2; n_1 = n_2 = 3, n = 6.
    # alpha = 1 - (n - 1) (o_12 + o_21) / (n_1 n_2 + n_2 n_1) = 1 - 5 * 2 / 18 = 4/9.
    data = [[1, 1, 2], [1, 2, 2]]
    assert coincidences((u, 1) for u in [{1: 2}, {1: 1, 2: 1}, {2: 2}]) == {(1, 1): 2, (1, 2): 1, (2, 1): 1, (2, 2): 2}
    assert krippendorff_alpha(data) == pytest.approx(4 / 9)
    # Interval: d2(1,2) = 1, same as nominal for two adjacent values.
    assert krippendorff_alpha(data, "interval") == pytest.approx(4 / 9)
    # Kappa: p_o = 2/3, p_e = (2*1 + 1*2) / 9 = 4/9, kappa = (2/9) / (5/9) = 0.4.
    assert cohen_kappa(data[0], data[1]) == pytest.approx(0.4)


def test_it_computes_cohens_textbook_kappa() -> None:
    table = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}
    assert observed_agreement(table) == pytest.approx(0.7)
    assert cohen_kappa_from_table(table) == pytest.approx(0.4)
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_it_skips_missing_values_and_lone_values() -> None:
    # The third unit has one value only: it is not pairable and changes nothing.
    with_lone = [[1, 1, 2, N], [1, 2, N, 1]]
    assert krippendorff_alpha(with_lone) == krippendorff_alpha([[1, 1], [1, 2]])
    assert cohen_kappa([1, N, 2, 2], [1, 1, N, 2]) == cohen_kappa([1, 2], [1, 2]) == 1.0


def test_it_counts_units_with_a_multiplicity() -> None:
    units = [{0: 2}] * 40 + [{1: 2}] * 3 + [{1: 1, 0: 1}] * 2
    weighted = [({0: 2}, 40), ({1: 2}, 3), ({1: 1, 0: 1}, 2)]
    assert alpha_from_units(weighted) == pytest.approx(alpha_from_units((u, 1) for u in units))
    # By hand: o_00 = 40 * 2 = 80, o_11 = 3 * 2 = 6, o_01 = o_10 = 2 * 1 = 2;
    # n_0 = 82, n_1 = 8, n = 90; alpha = 1 - 89 * (2 + 2) / (2 * 82 * 8) = 1 - 356 / 1312.
    assert alpha_from_units(weighted) == pytest.approx(1 - 356 / 1312)


def test_it_answers_none_when_agreement_is_undefined() -> None:
    assert krippendorff_alpha([[1, 1, 1], [1, 1, 1]]) is None  # one value throughout
    assert krippendorff_alpha([[1, N], [N, 2]]) is None  # nothing pairable
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    assert cohen_kappa([], []) is None
    assert observed_agreement({}) is None


def test_it_gives_perfect_and_chance_figures() -> None:
    assert krippendorff_alpha([[1, 2, 3, 1], [1, 2, 3, 1]]) == 1.0
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == 1.0
    # Systematic disagreement is below chance.
    assert cohen_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"]) == pytest.approx(-1.0)


def test_it_computes_kappa_for_every_pair() -> None:
    pairs = pairwise_kappas({"bob": [1, 2, 2], "anna": [1, 1, 2], "carl": [1, 1, 2]})
    assert set(pairs) == {("anna", "bob"), ("anna", "carl"), ("bob", "carl")}
    assert pairs[("anna", "carl")] == 1.0
    assert pairs[("anna", "bob")] == pytest.approx(0.4)


def test_it_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        cohen_kappa([1, 2], [1])
    with pytest.raises(TypeError):
        krippendorff_alpha([["a", "b"], ["a", "a"]], "interval")
    with pytest.raises(ValueError):
        krippendorff_alpha([[1, 2], [1, 1]], "cosine")  # type: ignore[arg-type]
