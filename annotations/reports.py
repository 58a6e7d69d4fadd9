"""Agreement figures of a queue, per label, from its submitted assignments.

Units: for a step label, every step of every episode that at least two
annotators submitted (a flag not set is a "no"); for an episode label, every
such episode (a label left unset is missing). Each pair of annotators gets
Cohen's kappa over the units both coded; all annotators together get
Krippendorff's alpha (nominal; interval too for ratings).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from annotations.agreement import alpha_from_units, cohen_kappa_from_table, observed_agreement
from annotations.finals import CoderWork, load_work
from annotations.models import Assignment, Label, Queue
from annotations.taxonomy import LabelView, load_taxonomy


@dataclass(frozen=True)
class PairFigure:
    a: str
    b: str
    units: int
    observed: float | None  # share of units where both gave the same value
    kappa: float | None


@dataclass(frozen=True)
class LabelFigures:
    label: LabelView
    units: int  # units with at least two values
    alpha_nominal: float | None
    alpha_interval: float | None = None  # ratings only
    pairs: list[PairFigure] = field(default_factory=list)
    prevalence: float | None = None  # step labels: share of coded (step, annotator) values that are "yes"


@dataclass
class _Item:
    steps: int
    coders: list[CoderWork]


def queue_agreement(queue: Queue) -> list[LabelFigures]:
    items = _items_with_overlap(queue)
    taxonomy = load_taxonomy()
    figures = [_step_label(label, items) for label in taxonomy.step if label.active]
    figures += [_episode_label(label, items) for label in taxonomy.episode if label.active]
    return figures


def _items_with_overlap(queue: Queue) -> list[_Item]:
    submitted = Assignment.objects.filter(item__queue=queue, status=Assignment.Status.SUBMITTED)
    by_item: dict[int, list[CoderWork]] = defaultdict(list)
    for work in load_work(submitted):
        by_item[work.item_id].append(work)
    steps = dict(queue.items.values_list("pk", "episode__steps"))
    return [_Item(steps[item_id], coders) for item_id, coders in sorted(by_item.items()) if len(coders) >= 2]


# ----- step labels ----------------------------------------------------------------------------
def _step_label(label: LabelView, items: Sequence[_Item]) -> LabelFigures:
    units: Counter[tuple[tuple[int, int], ...]] = Counter()  # sorted (value, count) pairs -> multiplicity
    tables: dict[tuple[str, str], Counter[tuple[int, int]]] = defaultdict(Counter)
    yes = coded = 0
    for item in items:
        flagged = {c.annotator: {i for i, codes in c.steps.items() if label.code in codes} for c in item.coders}
        m = len(item.coders)
        per_step = Counter(i for indexes in flagged.values() for i in indexes)
        for n_yes in per_step.values():
            units[_key({1: n_yes, 0: m - n_yes})] += 1
        units[_key({0: m})] += item.steps - len(per_step)  # steps nobody flagged
        yes += sum(per_step.values())
        coded += m * item.steps
        for a, b in combinations(sorted(flagged), 2):
            _add_binary_pair(tables[(a, b)], flagged[a], flagged[b], item.steps)
    alpha = alpha_from_units(((dict(key), n) for key, n in units.items()), "nominal")
    prevalence = (yes / coded) if coded else None
    return LabelFigures(label, sum(units.values()), alpha, None, _pairs(tables), prevalence)


def _key(counts: dict[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((v, n) for v, n in counts.items() if n))


def _add_binary_pair(table: Counter[tuple[int, int]], a: set[int], b: set[int], steps: int) -> None:
    table[(1, 1)] += len(a & b)
    table[(1, 0)] += len(a - b)
    table[(0, 1)] += len(b - a)
    table[(0, 0)] += steps - len(a | b)


# ----- episode labels -------------------------------------------------------------------------
def _episode_label(label: LabelView, items: Sequence[_Item]) -> LabelFigures:
    is_rating = label.kind == Label.Kind.RATING
    units: list[tuple[dict[Hashable, int], int]] = []
    tables: dict[tuple[str, str], Counter[tuple[Hashable, Hashable]]] = defaultdict(Counter)
    for item in items:
        values = {c.annotator: _value(c.values.get(label.code), is_rating) for c in item.coders}
        present = {name: v for name, v in values.items() if v is not None}
        if len(present) >= 2:
            units.append((dict(Counter(present.values())), 1))
        for a, b in combinations(sorted(present), 2):
            tables[(a, b)][(present[a], present[b])] += 1
    alpha_interval = alpha_from_units(units, "interval") if is_rating else None
    return LabelFigures(label, len(units), alpha_from_units(units, "nominal"), alpha_interval, _pairs(tables))


def _value(value: str | None, is_rating: bool) -> Hashable | None:
    if value is None:
        return None
    return int(value) if is_rating else value


def _pairs(tables: Mapping[tuple[str, str], Mapping[Any, int]]) -> list[PairFigure]:
    return [
        PairFigure(a, b, sum(table.values()), observed_agreement(table), cohen_kappa_from_table(table))
        for (a, b), table in sorted(tables.items())
    ]
