# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timing for the benchmarks: one median-of-runs helper shared by tests/benchmarks/*."""

from __future__ import annotations

import statistics
import time


def median_time(fn, runs):
    """Median wall time in seconds of `runs` calls of fn()."""
    times = []
    for dummy in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
