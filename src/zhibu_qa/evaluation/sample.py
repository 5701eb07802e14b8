"""A deterministic quick-run sample of an evaluation dataset, stratified by question type.

A limit of n questions takes every question type (the unanswerable ones included, so refusal
metrics are measured), at least one of each when n allows, the rest in proportion to the type's
size (largest remainders), each type's questions spread evenly over its dataset order. Same
dataset and n give the same sample; the sample keeps dataset order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """How many questions of each type a sample of n takes.

    Example: allocate({"a": 8, "b": 1, "c": 1}, 4) == {"a": 2, "b": 1, "c": 1}
    """
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    types = list(sizes)  # dataset order of first appearance
    if n <= len(types):  # not enough for one each: the largest types first (ties: dataset order)
        chosen = sorted(types, key=lambda t: -sizes[t])[:n]
        return {t: int(t in chosen) for t in types}
    counts = dict.fromkeys(types, 1)
    rest = n - len(types)
    pool = total - len(types)
    shares = {t: rest * (sizes[t] - 1) / pool for t in types}
    for t in types:
        counts[t] += int(shares[t])
    left = n - sum(counts.values())
    for t in sorted(types, key=lambda t: -(shares[t] - int(shares[t])))[:left]:
        counts[t] += 1
    return counts


def spread(count: int, k: int) -> list[int]:
    """k indices spread evenly over range(count), centred in their strata.

    Example: spread(10, 2) == [2, 7]
    """
    return [int((i + 0.5) * count / k) for i in range(k)]


def stratified_sample(cases: Sequence[T], n: int, type_of=lambda c: c.type) -> list[T]:
    """n cases covering every question type (see the module docstring); all cases when n >= len."""
    if n <= 0 or n >= len(cases):
        return list(cases)
    by_type: dict[str, list[int]] = {}
    for i, case in enumerate(cases):
        by_type.setdefault(type_of(case), []).append(i)
    counts = allocate({t: len(ix) for t, ix in by_type.items()}, n)
    picked = sorted(ix[j] for t, ix in by_type.items() for j in spread(len(ix), counts[t]))
    return [cases[i] for i in picked]
