"""The app's explanations, run by AppTest on real snapshots of the demo (its credit model declared in
projects.yaml): the compare view's shares are the snapshots', a day's top columns beside the reference's, and
one sampled row's waterfall ends at the row's own model output; the columns that moved most on the days quality
fell are the fall day's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evmon.config.loader import load_config
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.app.conftest import CREDIT
from tests.conftest import DEMO_END, DEMO_WORKSPACE_DAYS

Open = Callable[..., Any]


def shares(workspace: Path, day: date) -> dict[str, float]:
    snapshot = FilesWorkspace(workspace).read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, day))
    return {
        str(r.column): float(r.value)
        for r in flatten(snapshot)
        if r.metric_type == "FeatureAttribution" and r.label == "day" and r.value_kind == "share" and r.value
    }


def table_with(at: Any, column: str) -> Any:
    for element in at.table:
        if column in element.value.columns:
            return element.value
    raise AssertionError(f"no table with {column!r}: {[list(e.value.columns) for e in at.table]}")


def test_compare_shows_both_days_shares_beside_the_reference(
    app_env: Path, open_app: Open, shift_days: tuple[date, date]
) -> None:
    clean, shifted = shift_days
    at = open_app("Compare two days")
    at.selectbox(key="cmp_b").set_value(shifted).run()
    at.selectbox(key="cmp_a").set_value(clean).run()
    assert not at.exception
    table = table_with(at, "share A")
    a, b = shares(app_env, clean), shares(app_env, shifted)
    assert set(table.index) == set(a) == set(b)
    for column, row in table.iterrows():
        assert row["share A"] == f"{a[column] * 100:.1f}%" and row["share B"] == f"{b[column] * 100:.1f}%"
    labels = {m.label for m in at.metric}
    assert {"nDCG vs the reference (A)", "nDCG vs the reference (B)"} <= labels


def test_a_days_explanations_and_one_rows_waterfall(app_env: Path, open_app: Open, demo_dir: Path) -> None:
    at = open_app("Days")
    day = at.selectbox(key="explain_day").value
    at.toggle(key="explain_show").set_value(True).run()
    assert not at.exception
    top = table_with(at, "reference share")
    shown = shares(app_env, day)
    assert list(top.index) == sorted(shown, key=lambda c: -shown[c])  # largest share first
    at.number_input(key="shap_row").set_value(3).run()
    at.button(key="shap_explain").click().run()
    assert not at.exception
    assert all("have no snapshot" in str(w.value) for w in at.warning)  # the Days page's own gap warning only
    steps = table_with(at, "SHAP")
    assert steps.index[0] == "expected output" and steps.index[-1] == "this row's output"
    # the linear explainer's values add up to the row's margin (log-odds) of the demo's credit model
    config = load_config(demo_dir / "projects.yaml")
    credit = config.project(CREDIT)
    assert credit.model is not None
    from evmon.days import day_window_utc
    from evmon.explain.daily import sampled
    from evmon.explain.model import load_model
    from evmon.sources.read import located, read_window

    model = load_model(located(config, credit.model.path), credit.model).estimator
    rows = sampled(
        read_window(config, credit, *day_window_utc(day, credit.timezone))[credit.model.columns], credit.model
    )
    margin = float(model.decision_function(rows.iloc[[3]])[0])
    assert float(steps.loc["this row's output", "total"]) == float(np.round(margin, 4))


def test_the_columns_that_moved_most_on_the_days_quality_fell(
    app_env: Path, open_app: Open, demo_episodes: Any
) -> None:
    """The workspace's labelled days: two clean ones, the feature-shift day and one concept-drift day (DEMO_END - 4),
    whose ROC AUC falls below 0.6; the three newest days' labels have not arrived and count neither way."""
    [fall] = [d for d in demo_episodes.concept_drift if d >= DEMO_END - timedelta(days=DEMO_WORKSPACE_DAYS - 1)]
    at = open_app("Days")
    at.toggle(key="drops_show").set_value(True).run()
    assert not at.exception
    assert "Quality fell on 1 of the 4 labelled days with explanations." in [m.value for m in at.markdown]
    snapshot = FilesWorkspace(app_env).read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, fall))
    changes = {
        str(r.column): float(r.value)
        for r in flatten(snapshot)
        if r.metric_type == "FeatureAttribution" and r.label == "day" and r.value_kind == "share_change"
    }
    moved = sorted(changes, key=lambda c: (-abs(changes[c]), c))
    days = table_with(at, "Δ share vs reference")
    assert set(days.index) == {fall.isoformat()}
    assert list(days["column"]) == moved[:5] and list(days["rank"]) == ["1", "2", "3", "4", "5"]
    assert list(days["Δ share vs reference"]) == [f"{changes[c] * 100:+.1f} pts" for c in moved[:5]]
    summary = table_with(at, "mean |Δ share| on falls")
    assert list(summary.index) == moved  # one fall day: its own order
    assert set(summary["fall days"]) == {"1"} and set(summary["other labelled days"]) == {"3"}
