"""Each drift and distribution figure of a column built once per Report in Evidently 0.7.23, not three times.

A day's Report draws the same plotly figures of a column again and again: the histogram of the
column, current against reference, under each statistic of the data summary (min, max, mean,
std, every quantile...), in the column's ValueDrift widget and in the drift table's row; and the
column's mean-and-std line over the day in both of the last two. Each is a plotly
``make_subplots`` and ``update`` with their per-property validation: most of a Report's figure time.

Within `evmon.evidently.memo.memoized()` ``plot_distr_with_perc_button`` and ``plot_agg_line_data``,
as these two modules call them (both only hand the figure to ``plotly_figure``, which copies it into
its widget), build a figure once per Report for equal arguments: keyed by their content (the
histograms' and line data's values, exactly; every other argument by its repr), the same widget
JSON. Installed by `evmon.evidently.memo.install()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd

from evmon.evidently.memo_keys import ACTIVE, data_hash, values_key

ORIGINALS: dict[str, Callable[..., Any]] = {}
# the figure functions kept, with the argument that makes them return a figure (not its JSON)
FIGURES = {"plot_distr_with_perc_button": "to_json", "plot_agg_line_data": "return_json"}
# the modules whose calls of them only hand the figure to plotly_figure (Evidently 0.7.23)
_USERS = ("evidently.metrics.column_statistics", "evidently.legacy.metrics.data_drift.data_drift_table")


def install() -> None:
    """Wrap the two figure functions where those modules call them (once, under memo's install lock)."""
    visualizations = importlib.import_module("evidently.legacy.utils.visualizations")
    for name, returns_json in FIGURES.items():
        ORIGINALS[name] = getattr(visualizations, name)
        for module_name in _USERS:
            module = importlib.import_module(module_name)
            if getattr(module, name, None) is ORIGINALS[name]:
                setattr(module, name, _kept(name, returns_json))


def _kept(name: str, returns_json: str) -> Callable[..., Any]:
    def figure(*args: Any, **kwargs: Any) -> Any:
        build = ORIGINALS[name]
        memo = ACTIVE.get()
        if memo is None or args or kwargs.get(returns_json, True):
            return build(*args, **kwargs)
        arguments = _content(kwargs)
        if arguments is None:
            return build(*args, **kwargs)
        key = ("figure", name, arguments)
        hit = memo.get(key)
        if hit is None:
            hit = (build(**kwargs), [])
            memo[key] = hit
        return hit[0]

    return figure


def _content(value: Any) -> Hashable | None:
    """An exact key of a figure's argument (numbers, text, columns, Evidently's models of them); None: unknown."""
    if value is None or isinstance(value, str | bool | int | float | np.number):
        return (type(value).__name__, repr(value))
    if isinstance(value, pd.Series | pd.DataFrame):
        return data_hash(value)
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return values_key(value)
    if isinstance(value, dict):
        items = tuple((repr(k), _content(v)) for k, v in value.items())
        return None if any(v is None for _, v in items) else ("dict", items)
    if isinstance(value, list | tuple):
        parts = tuple(_content(v) for v in value)
        return None if any(p is None for p in parts) else (type(value).__name__, parts)
    fields = getattr(value, "__fields__", None)  # Evidently's pydantic models (HistogramData, ColorOptions)
    if isinstance(fields, dict):
        content = _content({field: getattr(value, field) for field in fields})
        return None if content is None else (type(value).__qualname__, content)
    return None
