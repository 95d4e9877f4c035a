"""Where a project-day's time goes, by sampling its stack: figures, snapshot, reading, statistics.

A deterministic profiler (cProfile) inflates plotly's many small calls about tenfold, so the
shares here come from a sampling thread instead: every `interval` seconds it looks at the
working thread's stack and files the sample under the first kind of frame it finds there,
innermost first:
- figures: plotly, and Evidently's helpers that build figures (plot_*, traces, widgets);
- snapshot: JSON and pydantic (the snapshot's models, its bytes; also Evidently's result objects);
- reading: evmon's sources (reading the day's rows);
- statistics: everything else (Evidently's calculations, pandas, numpy, scipy, sklearn).
The first telling frame from the innermost outwards decides (numpy called by a plotting helper is
figures' time; by a metric's calculation, statistics').
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

_FIGURE_CODE = ("/plotly/", "/_plotly_utils/")
_SNAPSHOT_CODE = ("/json/", "/pydantic/", "evidently/core/serialization.py")
# Evidently's helpers that build figures and widgets (the rest of its modules compute)
_FIGURE_HELPERS = ("plot_", "add_traces", "collect_", "rect_trace", "get_traces", "plotly_", "figure")
_FIGURE_MODULES = ("evidently/legacy/utils/visualizations.py", "evidently/legacy/renderers/")


def _kind(frame: Any) -> str:
    """The kind of work `frame` (a stack's innermost frame) does: the first telling frame outwards."""
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if any(mark in path for mark in _FIGURE_CODE):
            return "figures"
        if any(mark in path for mark in _SNAPSHOT_CODE):
            return "snapshot"
        if "evmon/sources/" in path:
            return "reading"
        if any(mark in path for mark in _FIGURE_MODULES) and frame.f_code.co_name.startswith(_FIGURE_HELPERS):
            return "figures"
        if "site-packages/evidently/" in path and "visualizations.py" not in path:
            return "statistics"
        frame = frame.f_back
    return "statistics"


def sample_stack(work: Callable[[], Any], on_frame: Callable[[Any], None], interval: float) -> Any:
    """Run `work()` in this thread while another hands its innermost frame to `on_frame` every `interval`
    seconds; `work()`'s result."""
    target = threading.get_ident()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            frame = sys._current_frames().get(target)
            if frame is not None:
                on_frame(frame)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return work()
    finally:
        done.set()
        sampler.join()


def sampled(work: Callable[[], Any], interval: float = 0.002) -> tuple[Any, Counter[str]]:
    """Run `work()` in this thread while another samples its stack: its result and the samples by kind."""
    samples: Counter[str] = Counter()

    def file(frame: Any) -> None:
        samples[_kind(frame)] += 1

    return sample_stack(work, file, interval), samples


def shares(samples: Counter[str]) -> dict[str, float]:
    """Each kind's share of the samples, in a fixed order."""
    total = sum(samples.values()) or 1
    return {kind: samples[kind] / total for kind in ("statistics", "figures", "snapshot", "reading")}
