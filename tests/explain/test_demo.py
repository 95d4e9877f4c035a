"""The demo's models, declared in projects.yaml as skops files, explained each day: the nDCG of the credit
model's SHAP ranking falls below 0.9 on the attribution-shift days and on no clean day; concept drift
(the inputs as usual, the labels' relation changed) leaves it alone."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.days import day_window_utc
from evmon.demo.data import CREDIT, TAXI
from evmon.explain.daily import ExplainDay, day_explanations
from evmon.run.day import reference_frame
from evmon.sources.read import located, read_window
from tests.conftest import DEMO_END


def explained(demo_dir: Path, project_name: str, days: list[date]) -> dict[date, ExplainDay]:
    config = load_config(demo_dir / "projects.yaml")
    project = config.project(project_name)
    assert project.model is not None
    reference = reference_frame(config, project)
    out = {}
    for day in days:
        current = read_window(config, project, *day_window_utc(day, project.timezone))
        out[day] = day_explanations(project, located(config, project.model.path), current, reference)
    return out


def test_the_credit_models_ndcg_falls_on_the_attribution_shift_days_only(demo_dir: Path, demo_episodes: Any) -> None:
    # every day from the first clean one to the last concept-drift one
    first, last = demo_episodes.clean[0], demo_episodes.concept_drift[-1]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    result = explained(demo_dir, CREDIT, days)
    assert {d.explainer for d in result.values()} == {"linear"}
    below = {day for day, e in result.items() if e.alert}
    ndcgs = {str(day): round(e.ndcg, 3) for day, e in result.items()}
    # the outlier day: a quarter of MSinceMostRecentInqexcl7days at 60..120 months makes it the top column too
    assert below == {*demo_episodes.attribution_shift, demo_episodes.outlier_spike}, ndcgs
    for day in demo_episodes.attribution_shift:
        top = result[day].columns[0]
        assert top.column != "ExternalRiskEstimate" and top.reference_share < top.share
        risk = next(c for c in result[day].columns if c.column == "ExternalRiskEstimate")
        assert risk.share_change < -0.3
    for day in [*demo_episodes.clean, *demo_episodes.concept_drift]:
        assert result[day].ndcg >= 0.97, ndcgs  # concept drift: inputs as usual, attributions as usual


def test_the_taxi_model_is_explained_by_its_trees(demo_dir: Path) -> None:
    result = explained(demo_dir, TAXI, [DEMO_END - timedelta(days=1), DEMO_END])
    for day in result.values():
        assert day.explainer == "tree" and day.rows > 400  # ~500 rows a day: all of them
        assert day.ndcg == pytest.approx(1.0, abs=0.03)
        assert day.columns[0].column in ("trip_distance", "fare_amount")
