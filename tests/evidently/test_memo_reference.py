"""The reference's side of a day kept across days (memo_bins, memo_summary): the same values, computed once.

The whole days' byte-identity with and without these wrappers is tests/evidently/test_memo_whole_day.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig, Project
from evmon.evidently import memo, memo_bins, memo_curves, memo_data, memo_drift, memo_statistics, memo_summary
from evmon.sources import read as sources
from tests.evidently.day_snapshot import day_snapshot

DAY = date(2026, 3, 11)


def _histograms(current: np.ndarray, reference: np.ndarray) -> tuple[Any, Any]:
    """The joint histograms of one column: evmon's (memo on) and Evidently's own."""
    memo.install()
    cur, ref = pd.Series(current), pd.Series(reference)
    shipped = memo_bins.ORIGINALS["distribution"](column_type="num", current=cur, reference=ref)
    with memo.memoized():
        kept = memo_bins._distribution(column_type="num", current=cur, reference=ref)
    return kept, shipped


def _bytes(histograms: tuple[Any, Any]) -> list[tuple[str, bytes, str, bytes]]:
    return [
        (str(np.asarray(h.x).dtype), np.asarray(h.x).tobytes(), str(np.asarray(h.y).dtype), np.asarray(h.y).tobytes())
        for h in histograms
    ]


@pytest.mark.parametrize(
    "case", ["continuous", "skewed", "many ties", "nan", "negative zero", "one value", "far from zero", "no current"]
)
def test_the_joint_histograms_are_bit_for_bit_evidentlys(case: str) -> None:
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=40_000), rng.normal(0.3, 1.2, size=1_500)
    if case == "skewed":
        reference, current = rng.exponential(size=40_000), rng.exponential(2.0, size=1_500)
    elif case == "many ties":
        reference, current = np.round(reference), np.round(current)
    elif case == "nan":
        reference[::9], current[::4] = np.nan, np.nan
    elif case == "negative zero":
        reference[:100], current[:10] = -0.0, 0.0
    elif case == "one value":
        reference, current = np.full(500, 3.0), np.full(20, 3.0)
    elif case == "far from zero":
        reference, current = reference + 1e9, current + 1e9
    elif case == "no current":
        current = np.array([np.nan, np.nan])
    kept, shipped = _histograms(current, reference)
    assert _bytes(kept) == _bytes(shipped)
    again, _ = _histograms(current, reference)  # the reference's moments and sorted values from the cache
    assert _bytes(again) == _bytes(shipped)
    if case in ("continuous", "skewed", "nan"):  # evmon's own path, not a fall-back to Evidently's
        values = reference[~np.isnan(reference)]
        kept_reference = memo_bins._reference(values)
        assert memo_bins._doane_bins(current[~np.isnan(current)], values, kept_reference) is not None


def _credit(demo_dir: Path) -> tuple[EvmonConfig, Project, pd.DataFrame]:
    """The demo's credit project, its config and its reference frame."""
    config = load_config(demo_dir / "projects.yaml")
    project = config.project("credit_scorecard")
    return config, project, sources.read_reference(config, project)


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, rows: Callable[..., int]) -> list[int]:
    """The row counts of the calls reaching `module`'s function `name` (its ORIGINALS entry)."""
    seen: list[int] = []
    original = module.ORIGINALS[name]

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(rows(*args, **kwargs))
        return original(*args, **kwargs)

    monkeypatch.setitem(module.ORIGINALS, name, counted)
    return seen


def test_the_reference_side_is_computed_on_the_first_day_only(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference's moments and sorted values (memo_bins) and its dataset statistics (memo_summary)."""
    memo.install()
    memo_bins._REFERENCES.clear()
    memo_data._RESULTS.clear()
    config, project, reference = _credit(demo_dir)
    summaries = _counting(monkeypatch, memo_summary, "common_stats", lambda metric, data, mapping: len(data))
    parts: list[int] = []
    part = memo_bins._part
    monkeypatch.setattr(memo_bins, "_part", lambda values: parts.append(values.size) or part(values))
    day_snapshot(config, project, reference, DAY - timedelta(days=1), reuse_reference=True)
    assert max(summaries) == len(reference)
    assert max(parts) > len(reference) // 2  # the reference's columns (their missing values dropped)
    first_parts, of_reference = len(parts), sum(1 for size in parts if size > len(reference) // 2)
    summaries.clear()
    parts.clear()
    day_snapshot(config, project, reference, DAY, reuse_reference=True)
    assert summaries and max(summaries) < len(reference)  # the day's own rows only
    assert parts and max(parts) < len(reference) // 2
    assert len(parts) == first_parts - of_reference  # the day's side as before, the reference's none


def test_each_drift_test_runs_once_per_report(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The column's drift, the drift table and the dataset drift ask for the same test: it runs once."""
    memo.install()
    config, project, reference = _credit(demo_dir)
    drift = project.presets.data_drift
    assert drift is not None and drift.num_method == "wasserstein"
    computed: list[int] = []
    kept_reference = memo_drift._reference
    monkeypatch.setattr(
        memo_drift, "_reference", lambda values, data: computed.append(1) or kept_reference(values, data)
    )
    day_snapshot(config, project, reference, DAY, reuse_reference=True)
    by_wasserstein = [c for c in project.columns.numerical if c not in drift.columns or not drift.columns[c].method]
    assert 0 < len(computed) <= len(by_wasserstein) + 1  # each column once (and the prediction), not three times


def test_the_reference_curves_and_matrices_are_computed_on_the_first_day_only(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """memo_curves: the reference's confusion matrices, class report, ROC and PR curves, ROC AUC: once across days."""
    memo.install()
    memo_data._RESULTS.clear()
    config, project, reference = _credit(demo_dir)
    seen = {
        "matrix": _counting(monkeypatch, memo_curves, "matrix", lambda target, *_: len(target)),
        "report": _counting(monkeypatch, memo_curves, "report", lambda y_true, *_: len(y_true)),
        "roc_curve": _counting(monkeypatch, memo_curves, "roc_curve", lambda metric, target, *_: len(target)),
        "pr_curve": _counting(monkeypatch, memo_curves, "pr_curve", lambda metric, target, *_: len(target)),
        "roc_auc": _counting(monkeypatch, memo_curves, "roc_auc", lambda y_true, *_, **__: len(y_true)),
    }
    day_snapshot(config, project, reference, DAY - timedelta(days=1), reuse_reference=True)
    assert {name: max(rows) for name, rows in seen.items()} == dict.fromkeys(seen, len(reference))
    for rows in seen.values():
        rows.clear()
    day_snapshot(config, project, reference, DAY, reuse_reference=True)
    assert all(rows and max(rows) < len(reference) // 2 for rows in seen.values()), seen  # the day's rows only


def test_the_reference_statistics_are_computed_on_the_first_day_only(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """memo_statistics: each column's minimum, maximum, mean, std, median and quantiles of the reference, once."""
    memo.install()
    memo_statistics._VALUES.clear()
    config, project, reference = _credit(demo_dir)
    seen = {
        name: _counting(monkeypatch, memo_statistics, name, lambda calculation, column: len(column.data))
        for name in memo_statistics.PURE
    }
    day_snapshot(config, project, reference, DAY - timedelta(days=1), reuse_reference=True)
    computed = {name for name, rows in seen.items() if rows}
    assert {"Min", "Max", "Mean", "Std", "Quantile"} <= computed  # the summary asks for these
    assert all(max(seen[name]) == len(reference) for name in computed)
    for rows in seen.values():
        rows.clear()
    day_snapshot(config, project, reference, DAY, reuse_reference=True)
    assert {name for name, rows in seen.items() if rows} == computed
    assert all(max(rows) < len(reference) // 2 for rows in seen.values() if rows), seen  # the day's rows only
