"""Aggregation methods: how a parent territory's value is made from its children's.

Methods are registered by the ``register_aggregation_methods`` hook (the core's come last);
an indicator names one in ``aggregation_method``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

# (value, weight): the weight is the child's population, or, for an indicator with a
# denominator, the child's denominator value at that date (then a weighted mean of the rates is
# exactly the ratio of the sums of numerators and denominators).
Inputs = Sequence[tuple[Decimal, int | None]]


@dataclass(frozen=True)
class AggregationMethod:
    key: str
    label: str
    combine: Callable[[Inputs], Decimal | None]
    owner: str = ""


def _sum(inputs: Inputs) -> Decimal | None:
    return sum((v for v, _ in inputs), Decimal(0)) if inputs else None


def _mean(inputs: Inputs) -> Decimal | None:
    return sum((v for v, _ in inputs), Decimal(0)) / len(inputs) if inputs else None


def _weighted_mean(inputs: Inputs) -> Decimal | None:
    """Mean weighted by population; a plain mean if a weight is missing."""
    if not inputs:
        return None
    if any(w is None or w <= 0 for _, w in inputs):
        return _mean(inputs)
    total = sum(w for _, w in inputs)
    return sum((v * w for v, w in inputs), Decimal(0)) / total


CORE_METHODS = [
    AggregationMethod("sum", "Somme", _sum),
    AggregationMethod("mean", "Moyenne", _mean),
    AggregationMethod("weighted_mean", "Moyenne pondérée par la population", _weighted_mean),
    AggregationMethod("ratio_of_sums", "Rapport des sommes (numérateurs / dénominateurs)",
                      lambda inputs: _weighted_mean(inputs) if inputs and all(w for _, w in inputs) else None),
    AggregationMethod("min", "Minimum", lambda i: min(v for v, _ in i) if i else None),
    AggregationMethod("max", "Maximum", lambda i: max(v for v, _ in i) if i else None),
    AggregationMethod("none", "Pas d'agrégation (saisie à chaque niveau)", lambda i: None),
]
