"""Percentiles of one run, and the median and spread of a figure over repeated runs."""

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linearly interpolated; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan,
        "n": float(len(ms)),
    }


def spread(runs: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and relative spread ((max - min) / median) of repeated runs."""
    finite = [r for r in runs if not math.isnan(r)]
    if not finite:
        return {
            "median": math.nan,
            "min": math.nan,
            "max": math.nan,
            "spread": math.nan,
            "runs": [],
        }
    median = percentile(finite, 50)
    return {
        "median": round(median, 3),
        "min": round(min(finite), 3),
        "max": round(max(finite), 3),
        "spread": round((max(finite) - min(finite)) / median, 3) if median else math.nan,
        "runs": [round(r, 3) for r in runs],
    }


def combine(runs: Sequence[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per key (p50, p99, …): the spread of that key over the runs."""
    keys = [k for k in runs[0] if k != "n"] if runs else []
    return {key: spread([run[key] for run in runs]) for key in keys}


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, Any]:
    """Run-by-run ratios (each run's figure over the baseline measured beside it)."""
    return spread([n / d if d else math.nan for n, d in zip(numerator, denominator, strict=True)])
