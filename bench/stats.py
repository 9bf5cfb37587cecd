"""Small statistics for noisy figures: medians, percentiles and the spread of repetitions."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """min-max of the repetitions, as text."""
    if len(values) < 2:
        return "n=1"
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"
