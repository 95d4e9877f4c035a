"""evmon.explanations, evmon.attribution_drift, its rollups and the nDCG threshold over real days, bridged."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.bridge.thresholds import from_config_file
from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.contract import meta_of
from evmon.snapshot.flatten import flatten
from evmon.storage.files import FilesWorkspace
from tests.bridge.helpers import all_files
from tests.explain.synthetic import FIRST_DAY, frame, project_with_model, saved, tree_model

DAYS = [FIRST_DAY + timedelta(days=i) for i in range(3)]
SHIFTED = DAYS[1]  # income all near the reference's median: the model no longer leans on it


@pytest.fixture(scope="module")
def explained(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvmonConfig, FilesWorkspace]:
    folder = tmp_path_factory.mktemp("explained")
    rng = np.random.default_rng(26)
    reference = frame(rng, 3_000)
    daily = {day: frame(rng, 1_500, day) for day in DAYS}
    daily[SHIFTED]["income"] = float(reference["income"].median())
    saved(folder, tree_model(reference))
    model = {"path": "model.joblib", "columns": ["income", "age", "balance", "tier"], "thresholds": {"ndcg_min": 0.95}}
    config = project_with_model(folder, reference, daily, model)
    ws = FilesWorkspace(config.resolve(config.workspace))
    for day in DAYS:
        result = run_day(config, config.projects[0], day, workspace=ws, today=day + timedelta(days=1))
        assert result.outcome == "ok", result.line()
    return config, ws


def test_the_views_hold_every_attribution_and_the_ndcg(
    explained: tuple[EvmonConfig, FilesWorkspace], pg_dsn: str
) -> None:
    config, workspace = explained
    Bridge(workspace, pg_dsn, thresholds=from_config_file(config)).sync_once()
    want: dict[tuple[object, ...], float | None] = {}
    for file in all_files(workspace).values():
        snapshot = parse_json(file.path.read_bytes())
        day = meta_of(snapshot).day
        for row in flatten(snapshot):
            if row.metric_type in ("FeatureAttribution", "AttributionNdcg"):
                value = None if row.value is None or math.isnan(row.value) else row.value
                want[(day, row.column, row.label, row.value_kind)] = value
    with psycopg.connect(pg_dsn) as conn:
        columns = conn.execute(
            """SELECT day, "column", mean_abs_shap, reference_mean_abs_shap, share, reference_share, share_change
               FROM evmon.explanations WHERE project = 'synth' AND kind = 'daily'"""
        ).fetchall()
        drift = dict(conn.execute("SELECT day, ndcg FROM evmon.attribution_drift WHERE project = 'synth'").fetchall())
        explainers = {r[0] for r in conn.execute("SELECT explainer FROM evmon.attribution_drift").fetchall()}
        weekly = conn.execute(
            """SELECT days, mean_ndcg, min_ndcg, max_ndcg FROM evmon.attribution_drift_rollups
               WHERE project = 'synth' AND grain = 'week' ORDER BY period_start"""
        ).fetchall()
        threshold = conn.execute(
            "SELECT value FROM evmon.alert_thresholds WHERE project = 'synth' AND threshold = 'ndcg_min'"
        ).fetchone()
    assert len(columns) == 3 * 4
    for day, column, mean_abs, ref_mean_abs, share, ref_share, change in columns:
        assert mean_abs == want[(day, column, "day", "mean_abs")]
        assert ref_mean_abs == want[(day, column, "reference", "mean_abs")]
        assert (share, ref_share) == (want[(day, column, "day", "share")], want[(day, column, "reference", "share")])
        assert change == pytest.approx(share - ref_share)
    assert explainers == {"tree"}
    assert drift == {day: want[(day, None, "tree", "value")] for day in DAYS}
    assert drift[SHIFTED] < 0.95 <= min(drift[d] for d in DAYS if d != SHIFTED)
    # the three days fall in one ISO week (2026-05-01 is a Friday: two weeks)
    assert sum(row[0] for row in weekly) == 3
    assert min(row[2] for row in weekly) == pytest.approx(drift[SHIFTED])
    assert threshold == (0.95,)


def test_the_alert_rule_fires_on_the_shifted_day_only(
    explained: tuple[EvmonConfig, FilesWorkspace], pg_dsn: str
) -> None:
    """The provisioned rule's own query, run as Grafana runs it at each day's noon, against the project's 0.95."""
    from tests.grafana.checks import check_alert, fires, run
    from tests.grafana.grafana_sql import day_start, expand
    from tests.grafana.provisioned import alert_queries, alert_range

    config, workspace = explained
    Bridge(workspace, pg_dsn, thresholds=from_config_file(config)).sync_once()
    [query] = [q for q in alert_queries() if q.rule["uid"] == "evmon-attribution-drift"]
    firing = {}
    with psycopg.connect(pg_dsn) as conn:
        for day in DAYS:
            at = day_start(day) + timedelta(hours=12)
            instances = check_alert(query, run(conn, expand(query.sql, {}, alert_range(query.rule, "A", at))))
            firing[day] = [labels["threshold"] for labels, value in instances if fires(query.rule, value)]
    assert firing == {DAYS[0]: [], SHIFTED: ["0.95"], DAYS[2]: []}
