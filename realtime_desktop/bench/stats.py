"""Timing helpers shared by the benchmarks: medians and percentiles, never single runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0..1) percentile by nearest rank; ``samples`` need not be sorted."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


def time_call_us(func: Callable[[], object], *, repeat: int, inner: int = 1) -> list[float]:
    """Microseconds per call of ``func``, one figure per ``inner`` calls, ``repeat`` times."""
    func()  # warm caches and lazy imports before timing
    figures = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(inner):
            func()
        figures.append((time.perf_counter_ns() - start) / inner / 1000.0)
    return figures


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
    }
