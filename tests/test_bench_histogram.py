"""The benchmarks' lag histogram: percentiles to its 0.1 ms buckets, in constant memory."""

from __future__ import annotations

import math
import random

from bench.common import Histogram, percentile


def test_percentiles_match_the_exact_ones_to_the_bucket() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 0.004) for _ in range(20_000)]
    hist = Histogram()
    for v in values:
        hist.add(v)
    assert hist.count == len(values)
    assert hist.max == max(values)
    for p in (0, 50, 90, 99, 99.9, 100):
        assert abs(hist.percentile(p) - percentile(values, p)) <= Histogram.RESOLUTION_S


def test_memory_is_bounded_by_distinct_buckets_not_samples() -> None:
    hist = Histogram()
    for i in range(100_000):
        hist.add((i % 50) * 1e-4)
    assert len(hist.buckets) == 50
    assert hist.percentile(50) == 25 * Histogram.RESOLUTION_S


def test_empty_is_nan() -> None:
    assert math.isnan(Histogram().percentile(99))
