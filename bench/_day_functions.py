"""Where a warm project-day's time goes per function, and on whose rows: the reference's, the day's, or both.

    python bench/_versus_side.py functions CONFIG      (PYTHONPATH picks the evmon, as for `profile`)

Samples the working thread's stack every `interval` seconds, as bench/_day_profile.py does, and files
each sample twice:
- under every function on its stack (each once: inclusive shares), Evidently's, evmon's and the
  numeric libraries' (numpy, pandas, scipy, sklearn, plotly as one "plotly");
- under a side: the largest table (a pandas Series or DataFrame, a numpy array, an Evidently Dataset
  or column) among the locals of the innermost frame that holds one: "reference" when it has about
  the reference's rows, "both" when about the reference's and the day's together (a concatenation),
  "current" when at most about the day's, "none" when no frame on the stack holds one.
The side is a heuristic (a frame holding both tables is filed under the larger one), good for shares.
Reading another thread's frame locals is what debuggers do; it is for this profile only.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loaded by file path from bench/_versus_side.py
from _day_profile import sample_stack

SIDES = ("reference", "both", "current", "none")
_LIBRARIES = ("/numpy/", "/pandas/", "/scipy/", "/sklearn/")
_MAX_FRAMES = 200


def _name(frame: Any) -> str | None:
    """The function's name as printed (None: a frame not worth naming)."""
    path = frame.f_code.co_filename.replace("\\", "/")
    if "/plotly/" in path or "/_plotly_utils/" in path:
        return "plotly"
    for mark in ("/evidently/", "/evmon/", *_LIBRARIES):
        if mark in path:
            module = path.rsplit(mark, 1)[1].removesuffix(".py").replace("/", ".")
            return f"{mark.strip('/')}.{module}:{frame.f_code.co_qualname}"
    return None


def _rows(value: Any) -> int:
    """The rows of a table-like value (0: not one)."""
    kind = type(value).__name__
    if kind == "PandasDataset":
        value = value._data
    elif kind == "DatasetColumn":
        value = value.data
    if isinstance(value, pd.Series | pd.DataFrame | np.ndarray) and value.ndim >= 1:
        return int(value.shape[0])
    return 0


def _side(frame: Any, reference_rows: int, current_rows: int) -> str:
    while frame is not None:
        try:
            rows = max((_rows(v) for v in frame.f_locals.values()), default=0)
        except Exception:  # a frame whose locals cannot be read: the next one out
            rows = 0
        if rows:
            if rows >= reference_rows + current_rows // 2:
                return "both"
            if rows >= 0.9 * reference_rows:
                return "reference"
            return "current"
        frame = frame.f_back
    return "none"


def sampled(
    work: Callable[[], Any], reference_rows: int, current_rows: int, interval: float = 0.004
) -> tuple[Any, Counter[tuple[str, str]], Counter[str]]:
    """Run `work()` here while another thread samples it: its result, samples by (function, side), by side."""
    by_function: Counter[tuple[str, str]] = Counter()
    by_side: Counter[str] = Counter()

    def file(frame: Any) -> None:
        side = _side(frame, reference_rows, current_rows)
        by_side[side] += 1
        names: set[str] = set()
        walked = frame
        for _ in range(_MAX_FRAMES):
            if walked is None:
                break
            name = _name(walked)
            if name is not None:
                names.add(name)
            walked = walked.f_back
        for name in names:
            by_function[(name, side)] += 1

    return sample_stack(work, file, interval), by_function, by_side


def table(by_function: Counter[tuple[str, str]], by_side: Counter[str], top: int = 60, floor: float = 0.01) -> str:
    """The functions of at least `floor` of the samples, largest first: inclusive share, and its split by side."""
    total = sum(by_side.values()) or 1
    functions: Counter[str] = Counter()
    for (name, _), count in by_function.items():
        functions[name] += count
    lines = [
        f"{total} samples; by side: " + ", ".join(f"{side} {by_side[side] / total:.0%}" for side in SIDES),
        f"{'inclusive':>9}  {'ref':>5} {'both':>5} {'cur':>5} {'none':>5}  function",
    ]
    for name, count in functions.most_common(top):
        if count / total < floor:
            break
        split = " ".join(f"{by_function[(name, side)] / total:5.1%}" for side in SIDES)
        lines.append(f"{count / total:9.1%}  {split}  {name}")
    return "\n".join(lines)
