"""evmon.compare.bias on real snapshots: each figure of A and B equals a direct computation on the day's rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference, selection_rate

from evmon.compare.bias import NOT_RANKED, BiasDelta, bias_rows, bias_table, compare_bias, headline_figures
from evmon.compare.values import SnapshotValues, snapshot_values
from evmon.snapshot.ids import daily_snapshot_id, project_id
from tests.compare.bias_days import DAY_A, DAY_B, DAY_C, bias_project, day_frame, run_days
from tests.outliers.test_oracle import _flags as forest_flags


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[object, SnapshotValues]]:
    folder = tmp_path_factory.mktemp("bias")
    workspace = run_days(bias_project(folder))
    pid = project_id("synth")
    return folder, {
        day: snapshot_values(workspace.read_snapshot(pid, daily_snapshot_id("synth", day)))
        for day in (DAY_A, DAY_B, DAY_C)
    }


def fairness_oracle(rows: pd.DataFrame) -> dict[str, float]:
    """Fairlearn on the day's rows: selection rate per channel; ratio and equalized odds over groups of >= 50 rows."""
    predicted = (rows["p"] >= 0.5).astype(int)
    rates = MetricFrame(metrics=selection_rate, y_true=rows["y"], y_pred=predicted, sensitive_features=rows["channel"])
    out = {f"rate:{g}": float(v) for g, v in rates.by_group.items()}
    ranked = rows["channel"].map(rows["channel"].value_counts()) >= 50
    kept = rows[ranked]
    ranked_rates = rates.by_group[[g for g in rates.by_group.index if (rows["channel"] == g).sum() >= 50]]
    out["ratio"] = float(ranked_rates.min() / ranked_rates.max())
    out["odds"] = float(
        equalized_odds_difference(kept["y"], predicted[ranked], sensitive_features=kept["channel"], agg="worst_case")
    )
    return out


def share_outside(folder: Path, rows: pd.DataFrame, column: str) -> float:
    reference = pd.read_parquet(folder / "reference.parquet")[column]
    low, high = reference.quantile(0.005), reference.quantile(0.995)
    values = rows[column].dropna()
    return float(((values < low) | (values > high)).mean())


def by_key(deltas: list[BiasDelta]) -> dict[tuple[str, str, str | None], BiasDelta]:
    return {(d.column, d.measure, d.group): d for d in deltas}


def test_both_days_fairness_figures_and_their_deltas(days: tuple[Path, dict[object, SnapshotValues]]) -> None:
    folder, values = days
    a, b = (fairness_oracle(day_frame(folder, d)) for d in (DAY_A, DAY_B))
    got = by_key(compare_bias(values[DAY_A].bias, values[DAY_B].bias, "fairness"))
    ratio = got["channel", "demographic_parity_ratio", None]
    assert (ratio.a, ratio.b, ratio.delta) == pytest.approx((a["ratio"], b["ratio"], b["ratio"] - a["ratio"]))
    odds = got["channel", "equalized_odds_difference", None]
    assert (odds.a, odds.b, odds.delta) == pytest.approx((a["odds"], b["odds"], b["odds"] - a["odds"]))
    for group in ("web", "branch", "phone"):
        rate = got["channel", "selection_rate", group]
        assert (rate.a, rate.b) == pytest.approx((a[f"rate:{group}"], b[f"rate:{group}"]))
        assert rate.note is None
    partner = got["channel", "selection_rate", "partner"]  # new on B, under min_rows
    assert (partner.a, partner.b, partner.delta) == (None, pytest.approx(b["rate:partner"]), None)
    assert partner.note == f"A absent (the group has no rows that day); B {NOT_RANKED}"
    assert list(got)[-1] == ("channel", "selection_rate", "partner")  # no delta: ranked after every change
    changes = [abs(d.delta) for d in got.values() if d.delta is not None]
    assert changes == sorted(changes, reverse=True)


def test_both_days_outlier_figures_and_their_deltas(days: tuple[Path, dict[object, SnapshotValues]]) -> None:
    folder, values = days
    rows_a, rows_b = day_frame(folder, DAY_A), day_frame(folder, DAY_B)
    got = by_key(compare_bias(values[DAY_A].bias, values[DAY_B].bias, "outliers"))
    for column in ("income", "age", "balance"):
        d = got[column, "OutRangeValueCount", None]
        expected = (share_outside(folder, rows_a, column), share_outside(folder, rows_b, column))
        assert (d.a, d.b) == pytest.approx(expected), column
        assert d.delta == pytest.approx(expected[1] - expected[0])
    channel = got["channel", "OutListValueCount", None]
    assert (channel.a, channel.b) == pytest.approx((0.0, (rows_b["channel"] == "partner").mean()))
    forest = got["all rows", "MultivariateOutlierCount", None]
    assert forest.b is not None and forest.a is not None and forest.b > 0.05 > forest.a
    table = bias_rows(got.values())
    assert table[0] == {
        "column": table[0]["column"],
        "figure": table[0]["figure"],
        "A": table[0]["A"],
        "B": table[0]["B"],
        "Δ": max((d.delta for d in got.values() if d.delta is not None), key=abs),
        "note": None,
    }


def test_both_days_quality_on_outlier_rows_and_on_the_others(days: tuple[Path, dict[object, SnapshotValues]]) -> None:
    """What the outliers cost: accuracy on the rows a seeded scikit-learn forest flags, and on the rest."""
    folder, values = days
    reference = pd.read_parquet(folder / "reference.parquet")
    got = by_key(compare_bias(values[DAY_A].bias, values[DAY_B].bias, "outliers"))
    expected = {}
    for day in (DAY_A, DAY_B):
        rows = day_frame(folder, day)
        right = ((rows["p"] >= 0.5) == (rows["y"] == 1)).to_numpy()
        flagged = forest_flags(reference, rows)
        expected[day] = {"outlier rows (IsolationForest)": right[flagged].mean(), "other rows": right[~flagged].mean()}
    for column in ("outlier rows (IsolationForest)", "other rows"):
        d = got[column, "accuracy", None]
        assert (d.a, d.b) == pytest.approx((expected[DAY_A][column], expected[DAY_B][column]), abs=1e-12), column
        assert d.delta == pytest.approx(expected[DAY_B][column] - expected[DAY_A][column], abs=1e-12)
    shown = {(r["column"], r["figure"]) for r in bias_table(got.values())}
    assert {("outlier rows (IsolationForest)", "model accuracy"), ("other rows", "model accuracy")} <= shown
    # a day without labels has no such figure: absent, said so
    unlabelled = compare_bias(values[DAY_A].bias, {}, "outliers")
    [quality] = [d for d in unlabelled if d.column == "other rows"]
    assert quality.b is None and quality.note == "B absent (no labels that day, or no labelled row among these rows)"


def test_an_undefined_disparate_impact_is_shown_undefined_not_ranked(
    days: tuple[Path, dict[object, SnapshotValues]],
) -> None:
    _, values = days
    deltas = compare_bias(values[DAY_A].bias, values[DAY_C].bias, "fairness")
    ratio = by_key(deltas)["channel", "demographic_parity_ratio", None]
    assert ratio.a is not None and ratio.b is None and ratio.delta is None
    assert ratio.note == "B undefined (no ranked group predicted positive)"
    assert deltas.index(ratio) > max(i for i, d in enumerate(deltas) if d.delta is not None)
    assert [d.column for d in headline_figures(deltas)] == ["channel"]
    assert bias_rows([ratio]) == [
        {
            "column": "channel",
            "figure": "disparate impact (demographic parity ratio)",
            "group": "between groups",
            "A": ratio.a,
            "B": None,
            "Δ": None,
            "note": "B undefined (no ranked group predicted positive)",
        }
    ]


def test_the_table_as_shown(days: tuple[Path, dict[object, SnapshotValues]]) -> None:
    _, values = days
    deltas = compare_bias(values[DAY_A].bias, values[DAY_C].bias, "fairness")
    shown = {(r["column"], r["figure"], r["group"]): r for r in bias_table(deltas)}
    ratio = by_key(deltas)["channel", "demographic_parity_ratio", None]
    assert shown["channel", "disparate impact (demographic parity ratio)", "between groups"] == {
        "column": "channel",
        "figure": "disparate impact (demographic parity ratio)",
        "group": "between groups",
        "A": f"{ratio.a:.4f}",
        "B": "undefined",
        "Δ (B - A)": "",
        "note": "B undefined (no ranked group predicted positive)",
    }
    web = by_key(deltas)["channel", "selection_rate", "web"]
    assert web.delta is not None and web.delta < 0  # C predicts no one positive
    assert shown["channel", "selection rate", "web"]["Δ (B - A)"] == f"{web.delta:+.4f}"
    assert shown["channel", "selection rate", "web"]["B"] == "0.0000"
