"""The bridge's fairness and outlier gauges, scraped over HTTP after real project-days with `fairness` and
`outliers`, equal the values in the stored snapshot files (as the bridge flattens them); the thresholds are
projects.yaml's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from evmon.bridge.metrics import bridge_registry
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.processes import free_port
from evmon.run.day import run_day
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.snapshot.flatten import MetricRow
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, write_config
from tests.prometheus.conftest import CREDIT, TAXI
from tests.prometheus.test_bridge_metrics import rows_of
from tests.prometheus.tools import of_metric, samples, scrape

LABELLED_DAY = date(2026, 3, 11)  # the demo's credit labels arrive weeks late: DEMO_END has none yet
LABELLED = {"equalized_odds_difference", "quality_gap", "tpr", "fpr"}
FAIRNESS = {
    "sensitive": ["region"],
    "reference_group": {"region": "north"},
    "thresholds": {"disparate_impact_min": 0.75, "equalized_odds_max": 0.2},
}
OUTLIERS = {"thresholds": {"column_share_max": 0.03, "multivariate_share_max": 0.07}}
Keyed = dict[tuple[str, ...], float]


def fairness_of(rows: list[MetricRow], between: bool) -> Keyed:
    """(column, measure) between the groups, or (column, group, measure) per group, from a snapshot's rows."""
    return {
        ((str(r.column), r.value_kind) if between else (str(r.column), str(r.label), r.value_kind)): float(r.value)
        for r in rows
        if r.metric_type == "FairnessValue" and (r.label is None) == between and r.value is not None
    }


def gauge(found: dict, name: str, keys: tuple[str, ...], project: str = CREDIT) -> Keyed:
    return {
        tuple(dict(labels)[k] for k in keys): v
        for labels, v in of_metric(found, name).items()
        if dict(labels)["project"] == project
    }


def test_the_newest_fairness_and_outlier_values_and_the_thresholds(demo_dir: Path, pg_dsn: str, tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "projects.yaml",
        demo_dir,
        credit_scorecard={"fairness": FAIRNESS, "outliers": OUTLIERS},
        taxi_duration={},
    )
    config = load_config(path)
    credit = next(p for p in config.projects if p.name == CREDIT)
    ws = FilesWorkspace(tmp_path / "ws")
    for day in (LABELLED_DAY, DEMO_END):
        result = run_day(config, credit, day, workspace=ws, today=DEMO_TODAY)
        assert result.outcome == "ok", result.line()
    newest, labelled = rows_of(ws, CREDIT, DEMO_END), rows_of(ws, CREDIT, LABELLED_DAY)

    bridge = Bridge(ws, pg_dsn, settle_s=0.0)
    registry, counters, state = bridge_registry(config, bridge)
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        counters.observe(bridge.sync_once())
        found = samples(scrape(server.address.url))
    state.close()
    bridge.close()

    # between the groups: the newest day's label-free measures, the labelled day's equalized odds and gap
    expected = {k: v for k, v in fairness_of(newest, True).items() if k[1] not in LABELLED}
    expected |= {k: v for k, v in fairness_of(labelled, True).items() if k[1] in LABELLED}
    between = {"demographic_parity_ratio", "equalized_odds_difference", "estimated_quality_gap"}
    assert {("region", measure) for measure in between} <= expected.keys()
    assert gauge(found, "evmon_project_fairness", ("column", "measure")) == pytest.approx(expected)
    assert not any(m in LABELLED for _, m in fairness_of(newest, True))  # so those did come from the older day

    wanted = {"rows", "ranked", "selection_rate", "disparate_impact", "estimated_accuracy"}  # label-free
    expected_groups = {k: v for k, v in fairness_of(newest, False).items() if k[2] in wanted}
    expected_groups |= {k: v for k, v in fairness_of(labelled, False).items() if k[2] in {"tpr", "fpr"}}
    assert ("region", "north", "selection_rate") in expected_groups and ("region", "south", "tpr") in expected_groups
    assert ("region", "south", "estimated_accuracy") in expected_groups
    got_groups = gauge(found, "evmon_project_fairness_group", ("column", "group", "measure"))
    assert got_groups == pytest.approx(expected_groups)

    kinds = {"OutRangeValueCount": "range", "OutListValueCount": "new_category"}
    expected_outliers = {
        (str(r.column), kinds[r.metric_type]): float(r.value)
        for r in newest
        if r.metric_type in kinds and r.value_kind == "share" and r.value is not None
    }
    assert {kind for _, kind in expected_outliers} == {"range", "new_category"}
    assert gauge(found, "evmon_project_outlier_share", ("column", "kind")) == pytest.approx(expected_outliers)
    [multivariate] = [
        r.value for r in newest if r.metric_type == "MultivariateOutlierCount" and r.value_kind == "share"
    ]
    assert of_metric(found, "evmon_project_multivariate_outlier_share") == {(("project", CREDIT),): multivariate}

    thresholds = {
        "evmon_project_disparate_impact_min": 0.75,
        "evmon_project_equalized_odds_max": 0.2,
        "evmon_project_outlier_column_share_max": 0.03,
        "evmon_project_multivariate_outlier_share_max": 0.07,
    }
    for name, threshold in thresholds.items():
        assert of_metric(found, name) == {(("project", CREDIT),): threshold}  # none for taxi: no such sections
    assert not [k for k in found if k[0].startswith("evmon_project_fairness") and ("project", TAXI) in k[1]]

    # explanations (projects.yaml declares both demo models): the newest day's nDCG and shares
    [ndcg] = [r.value for r in newest if r.metric_type == "AttributionNdcg"]
    assert of_metric(found, "evmon_project_attribution_ndcg") == {(("explainer", "linear"), ("project", CREDIT)): ndcg}
    shares = {
        (str(r.column),): float(r.value)
        for r in newest
        if r.metric_type == "FeatureAttribution" and r.label == "day" and r.value_kind == "share" and r.value
    }
    assert len(shares) == 8 and sum(shares.values()) == pytest.approx(1.0)
    assert gauge(found, "evmon_project_attribution_share", ("column",)) == pytest.approx(shares)
    assert of_metric(found, "evmon_project_attribution_ndcg_min") == {
        (("project", CREDIT),): 0.9,
        (("project", TAXI),): 0.9,
    }
