"""evmon.evidently.memo: the same snapshots as Evidently computes alone, with less work."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import evidently.metrics.column_statistics as statistics_module
import pandas as pd
import pytest

import evmon.evidently.report
from evmon.config.loader import load_config
from evmon.evidently import memo as evidently_memo
from evmon.evidently import memo_data, memo_figures
from evmon.evidently.report import snapshot_bytes
from evmon.sources import read as sources
from tests.evidently.day_snapshot import day_snapshot

DAY = date(2026, 3, 11)
# Evidently gives every widget a fresh time-based uuid: the only bytes that differ run to run
_UUID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


def _snapshot(demo_dir: Path, project_name: str, day: date) -> bytes:
    config = load_config(demo_dir / "projects.yaml")
    project = config.project(project_name)
    reference = sources.read_reference(config, project)
    model = day_snapshot(config, project, reference, day, reuse_reference=True)
    return _UUID.sub(b'"ID"', snapshot_bytes(model))


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls that reach Evidently's own function behind the wrapper `name`."""
    calls = [0]
    original: Callable[..., Any] = evidently_memo._ORIGINALS[name]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setitem(evidently_memo._ORIGINALS, name, counted)
    return calls


@pytest.mark.parametrize("project_name", ["credit_scorecard", "taxi_duration"])
def test_snapshots_are_the_same_as_evidently_alone(
    demo_dir: Path, project_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _snapshot(demo_dir, project_name, DAY - timedelta(days=1))  # the previous day fills the caches
    memoized = _snapshot(demo_dir, project_name, DAY)
    monkeypatch.setattr(evmon.evidently.report, "memoized", contextlib.nullcontext)
    alone = _snapshot(demo_dir, project_name, DAY)
    assert memoized == alone


def test_each_histogram_is_computed_once_per_report(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evidently_memo.install()
    wrapper_calls = [0]
    wrapper = evidently_memo._distribution

    def counted_wrapper(**kwargs: Any) -> Any:
        wrapper_calls[0] += 1
        return wrapper(**kwargs)

    monkeypatch.setattr(statistics_module, "get_distribution_for_column", counted_wrapper)
    computed = _counting(monkeypatch, "distribution")
    _snapshot(demo_dir, "credit_scorecard", DAY)
    numerical = len(load_config(demo_dir / "projects.yaml").project("credit_scorecard").columns.numerical)
    assert wrapper_calls[0] > 4 * numerical  # Evidently asks for each column's histogram per statistic
    assert computed[0] <= numerical + 2  # once per numerical column (and the probability column)


def test_the_reference_quality_is_computed_once_across_days(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evidently_memo.install()
    evidently_memo._QUALITY.clear()
    computed = _counting(monkeypatch, "quality")
    _snapshot(demo_dir, "credit_scorecard", DAY - timedelta(days=1))
    first = computed[0]
    _snapshot(demo_dir, "credit_scorecard", DAY)
    # the first day computes current and reference of the model and of each region segment;
    # the next day only its current side: the references are the same data
    assert computed[0] - first == first // 2


def test_each_figure_of_a_column_is_built_once_per_report(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary's statistics, the column's drift and the drift table share a column's figures."""
    evidently_memo.install()
    asked: Counter[str] = Counter()
    built: Counter[str] = Counter()
    for name in memo_figures.FIGURES:
        original, wrapper = memo_figures.ORIGINALS[name], getattr(statistics_module, name)
        assert wrapper is not original  # the memo's, where the summary and the drift call it

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            built[_name] += 1
            return _original(*args, **kwargs)

        def asking(*args: Any, _name: str = name, _wrapper: Any = wrapper, **kwargs: Any) -> Any:
            asked[_name] += 1
            return _wrapper(*args, **kwargs)

        monkeypatch.setitem(memo_figures.ORIGINALS, name, counted)
        monkeypatch.setattr(statistics_module, name, asking)
    _snapshot(demo_dir, "credit_scorecard", DAY)
    numerical = len(load_config(demo_dir / "projects.yaml").project("credit_scorecard").columns.numerical)
    assert asked["plot_distr_with_perc_button"] > 5 * numerical  # each statistic's widget and the drift's
    assert 0 < built["plot_distr_with_perc_button"] <= 2 * (numerical + 2)  # the summary's and the drift's
    assert asked["plot_agg_line_data"] >= numerical
    assert 0 < built["plot_agg_line_data"] <= numerical + 2  # the drift's and the table's, once


def test_the_reference_prediction_data_is_derived_once_across_days(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classification metrics' target and prediction of the reference: the first day only."""
    evidently_memo.install()
    memo_data._RESULTS.clear()
    derived: list[int] = []
    original = memo_data.ORIGINALS["target_prediction"]

    def counted(metric: Any, data: pd.DataFrame, column_mapping: Any) -> Any:
        derived.append(len(data))
        return original(metric, data, column_mapping)

    monkeypatch.setitem(memo_data.ORIGINALS, "target_prediction", counted)
    config = load_config(demo_dir / "projects.yaml")
    reference_rows = len(sources.read_reference(config, config.project("credit_scorecard")))
    _snapshot(demo_dir, "credit_scorecard", DAY - timedelta(days=1))
    first = list(derived)
    derived.clear()
    _snapshot(demo_dir, "credit_scorecard", DAY)
    assert reference_rows in first  # the whole (labelled) reference, on the first day
    assert max(derived) < reference_rows  # the next day: its own rows, and each region's, only
    assert len(derived) <= len(first) // 2 + 1


def test_outside_evmon_reports_evidently_runs_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    evidently_memo.install()
    computed = _counting(monkeypatch, "distribution")
    column = pd.Series([1.0, 2.0, 3.0, 5.0])
    first = statistics_module.get_distribution_for_column(column_type="num", current=column)
    again = statistics_module.get_distribution_for_column(column_type="num", current=column)
    assert computed[0] == 2
    assert first is not again
    with evidently_memo.memoized():
        inside = statistics_module.get_distribution_for_column(column_type="num", current=column)
        inside_again = statistics_module.get_distribution_for_column(column_type="num", current=column)
    assert computed[0] == 3
    assert inside is inside_again
    assert list(inside[0].y) == list(first[0].y)


def test_a_column_copied_for_the_call_is_not_cached() -> None:
    column = pd.Series([1, 2, None, 4], dtype="Int64")  # to_numpy() copies a nullable column
    with evidently_memo.memoized():
        one = statistics_module.get_distribution_for_column(column_type="num", current=column)
        two = statistics_module.get_distribution_for_column(column_type="num", current=column)
    assert one is not two


def test_on_an_evidently_version_it_was_not_tested_with_the_memo_stays_off(tmp_path: Path) -> None:
    """A fresh process that sees another Evidently version: one log line, Evidently's functions untouched."""
    import subprocess
    import sys

    script = """
import logging
import evidently.metrics.column_statistics as statistics
import evidently.legacy.calculations.classification_performance as calculations
import evmon.evidently
evmon.evidently.TESTED_VERSIONS = frozenset({"0.0.1"})  # as if the installed Evidently were another version
from evmon.evidently import memo
logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
original = statistics.get_distribution_for_column
widget, prediction = statistics.distribution, calculations.get_prediction_data
for _ in range(3):
    with memo.memoized():
        pass
assert statistics.get_distribution_for_column is original and not memo._ORIGINALS
assert statistics.distribution is widget and calculations.get_prediction_data is prediction
print("untouched")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "untouched\n"), done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING evmon.evidently.memo:")]
    assert warnings == [
        "WARNING evmon.evidently.memo: evidently 0.7.23 is not a version evmon's memo was tested with; "
        "Reports run as Evidently ships them (correct, slower)"
    ]
