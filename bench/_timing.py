"""Timing shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

D = TypeVar("D")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, max) seconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def paired_alternating(
    days: Sequence[D],
    rounds: int,
    run: Callable[[bool, D], float],
    after_pair: Callable[[D], None] | None = None,
) -> tuple[list[float], list[float]]:
    """(with, without) seconds: each day run without and with back to back, which goes first alternating.

    Paired this way a load that drifts over minutes (this VM is shared) weighs on both sides alike.
    `run(with_it, day)` returns one run's seconds; `after_pair(day)`, if given, follows each pair.
    """
    with_s: list[float] = []
    without_s: list[float] = []
    for round_ in range(rounds):
        for i, day in enumerate(days):
            for with_it in (False, True) if (i + round_) % 2 == 0 else (True, False):
                (with_s if with_it else without_s).append(run(with_it, day))
            if after_pair is not None:
                after_pair(day)
    return with_s, without_s
