"""The bridge's /metrics reads projects.yaml again when it changed (an edited threshold shows at the next scrape,
without a restart), and its fairness query reads only the rows it exports of a project without labels.

A small project generated here (tests/outliers/synthetic.py) with fairness on `tier` and no target: two real days,
run by evmon's runner, bridged into a throwaway database, scraped over HTTP from the real exporter.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import yaml

from evmon.bridge.metrics import bridge_registry
from evmon.bridge.metrics_fairness import FAIRNESS_SQL, fairness_params, without_labels
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.processes import free_port
from evmon.run.day import run_day
from evmon.services.exporter import MetricsAddress, MetricsServer
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import FIRST_DAY, frame, write_project
from tests.prometheus.test_bridge_metrics import rows_of
from tests.prometheus.tools import of_metric, samples, scrape

PROJECT = "synth"
DAYS = (FIRST_DAY, FIRST_DAY + timedelta(days=1))


def without_target(folder: Path) -> EvmonConfig:
    """Project 'synth' with fairness on tier, its target and quality preset taken out (no labels, ever)."""
    rng = np.random.default_rng(31)
    config = write_project(
        folder, frame(rng, 600), {d: frame(rng, 300, d) for d in DAYS}, fairness={"sensitive": ["tier"]}
    )
    raw = yaml.safe_load(config.source_file.read_text())
    project = raw["projects"][0]
    del project["columns"]["target"]
    project["presets"] = {"data_drift": True}
    config.source_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(config.source_file)


def rows_read(plan: dict[str, Any]) -> int:
    """Rows the plan's scans of evmon.metric_values read: those they returned and those their filter dropped."""
    read = 0
    if plan.get("Relation Name") == "metric_values":
        read += (plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)) * plan["Actual Loops"]
    return read + sum(rows_read(child) for child in plan.get("Plans", []))


def test_an_edited_threshold_shows_at_the_next_scrape_and_a_project_without_labels_is_read_cheaply(
    tmp_path: Path, pg_dsn: str
) -> None:
    config = without_target(tmp_path)
    assert without_labels(config) == [PROJECT]
    ws = FilesWorkspace(config.resolve(config.workspace))
    for day in DAYS:
        result = run_day(config, config.projects[0], day, workspace=ws, today=day + timedelta(days=1))
        assert result.outcome == "ok", result.line()
    newest = {
        (str(r.column), r.value_kind): r.value
        for r in rows_of(ws, PROJECT, DAYS[-1])
        if r.metric_type == "FairnessValue" and r.label is None
    }

    bridge = Bridge(ws, pg_dsn, settle_s=0.0)
    registry, counters, state = bridge_registry(config, bridge)
    source = config.source_file
    try:
        with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
            counters.observe(bridge.sync_once())
            found = samples(scrape(server.address.url))
            assert of_metric(found, "evmon_project_disparate_impact_min") == {(("project", PROJECT),): 0.8}
            between = {
                (dict(labels)["column"], dict(labels)["measure"]): v
                for labels, v in of_metric(found, "evmon_project_fairness").items()
            }
            assert between == pytest.approx({k: v for k, v in newest.items() if k[0] == "tier"})
            assert ("tier", "demographic_parity_ratio") in between and (
                "tier",
                "equalized_odds_difference",
            ) not in between

            # projects.yaml edited while the exporter runs: the next scrape shows the new threshold
            source.write_text(
                source.read_text().replace("sensitive:", "thresholds: {disparate_impact_min: 0.7}\n    sensitive:")
            )
            found = samples(scrape(server.address.url))
            assert of_metric(found, "evmon_project_disparate_impact_min") == {(("project", PROJECT),): 0.7}
            # a file that no longer loads keeps the last one that did
            source.write_text(source.read_text().replace("disparate_impact_min: 0.7", "disparate_impact_min: 2"))
            found = samples(scrape(server.address.url))
            assert of_metric(found, "evmon_project_disparate_impact_min") == {(("project", PROJECT),): 0.7}
    finally:
        state.close()
        bridge.close()

    # the scrape's fairness query reads the newest day's rows and the one row saying which day is newest; it
    # would walk back through every day's fairness rows looking for a labelled day that cannot be there
    with psycopg.connect(pg_dsn) as conn:
        [(in_newest_day,)] = conn.execute(
            """SELECT count(*) FROM evmon.metric_values WHERE metric_type = 'FairnessValue'
               AND "timestamp" = (SELECT max("timestamp") FROM evmon.metric_values)"""
        ).fetchall()
        [(every_day,)] = conn.execute(
            "SELECT count(*) FROM evmon.metric_values WHERE metric_type = 'FairnessValue'"
        ).fetchall()

        def read(unlabelled: list[str]) -> int:
            [(plan,)] = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {FAIRNESS_SQL}", fairness_params(unlabelled))
            return rows_read(plan[0]["Plan"])

        assert read(without_labels(config)) == in_newest_day + 1
        assert read([]) == in_newest_day + 1 + every_day  # not skipped: every fairness row of the project, read
