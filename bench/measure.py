"""Timing and memory readings shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """(median seconds of ``runs`` calls, the result of a first, untimed warm-up call)."""
    result = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def status_mib(key: str) -> float:
    """A /proc/self/status size in MiB: VmRSS now, or VmHWM, the peak. (VmHWM, not
    ru_maxrss: ru_maxrss survives execve, so a child would report its parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")
