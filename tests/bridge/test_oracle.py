"""The correctness oracle: Evidently's own SQL storage flattens the same snapshots.

evmon's rows in evmon.metric_values and Evidently's rows in its `points` table (written by
SQLDataStorage.add_snapshot_points into the same Postgres) must agree value for value: same
count per snapshot, same metric type, params (Evidently stringifies them with str()) and value.
"""

from __future__ import annotations

import ast
import asyncio
import math
import uuid
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.flatten import short_type
from evmon.storage.base import Workspace
from tests.bridge.helpers import all_files, copy_workspace


def _evidently_snapshot_with_tests_and_frames() -> bytes:
    """A real snapshot with test results and DataframeValue results (the demo has neither)."""
    import numpy as np
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MissingValueCount, RowCount
    from evidently.metrics.data_quality import ColumnCorrelationMatrix, CorrelationMatrix
    from evidently.tests import gte, lte

    from evmon.evidently.report import snapshot_bytes

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.random(60), "b": rng.random(60), "c": rng.choice(["x", "y"], 60)})
    frame.loc[:4, "a"] = np.nan
    definition = DataDefinition(numerical_columns=["a", "b"], categorical_columns=["c"])
    data = Dataset.from_pandas(frame, data_definition=definition)
    metrics = [
        RowCount(tests=[gte(10)]),
        MissingValueCount(column="a", count_tests=[lte(0)]),
        ColumnCorrelationMatrix(column_name="a"),
        CorrelationMatrix(),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report(metrics, include_tests=True).run(data, data, metadata={"evmon_kind": "whatif"})
    return snapshot_bytes(snapshot.to_snapshot_model())


def _fairness_snapshot() -> bytes:
    """A snapshot of evmon's FairnessValue results (per group, and between groups without a group)."""
    from datetime import datetime

    from evmon.evidently.fairness import fairness_part
    from evmon.evidently.report import snapshot_bytes
    from evmon.fairness.daily import day_fairness
    from evmon.snapshot.contract import KIND_KEY
    from tests.fairness.data import project, with_gap

    frame = with_gap()
    part = fairness_part(day_fairness(project(), frame, frame, labelled=True), datetime(2026, 3, 1))
    part.metadata = {KIND_KEY: "whatif"}
    return snapshot_bytes(part)


def _outliers_snapshot(folder: Path) -> bytes:
    """A real daily snapshot with the outlier metrics (a generated project's labelled day; the demo has none)."""
    from datetime import timedelta

    import numpy as np

    from evmon.run.day import compute_day
    from tests.outliers.synthetic import FIRST_DAY, frame, write_project

    rng = np.random.default_rng(8)
    config = write_project(folder, frame(rng, 1_000), {FIRST_DAY: frame(rng, 300, FIRST_DAY, outliers=0.1)})
    computed = compute_day(config, config.projects[0], FIRST_DAY, FIRST_DAY + timedelta(days=1))
    assert computed.payload is not None, computed.error
    return computed.payload


def _evidently_points(dsn: str, ws: Workspace) -> dict[uuid.UUID, list[tuple[str, dict[str, str], float]]]:
    """Every snapshot of `ws` through Evidently's SQLDataStorage into tables `metrics`/`points`."""
    from evidently.core.serialization import SnapshotModel
    from evidently.ui.service.storage.sql.data import SQLDataStorage
    from sqlalchemy import create_engine

    with psycopg.connect(dsn, autocommit=True) as conn:
        # its models' create_all fails on PG15; these two tables (without their FKs) are all it writes here
        conn.execute("CREATE TABLE metrics (metric_hash varchar PRIMARY KEY, metric_json varchar NOT NULL)")
        conn.execute(
            """CREATE TABLE points (id serial PRIMARY KEY, project_id uuid NOT NULL, snapshot_id uuid NOT NULL,
               metric_type varchar NOT NULL, params json NOT NULL, value float NOT NULL)"""
        )
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    storage = SQLDataStorage(engine)
    for sid, file in all_files(ws).items():
        model = SnapshotModel.parse_obj(parse_json(file.path.read_bytes()))
        asyncio.run(storage.add_snapshot_points(file.project_id, sid, model))
    engine.dispose()
    out: dict[uuid.UUID, list[tuple[str, dict[str, str], float]]] = {}
    with psycopg.connect(dsn) as conn:
        for sid, metric_type, params, value in conn.execute(
            "SELECT snapshot_id, metric_type, params, value FROM points ORDER BY id"
        ):
            out.setdefault(sid, []).append((metric_type, params, value))
    return out


def _same_param(ours: Any, theirs: str) -> bool:
    """Evidently's str(value) against ours; nested objects compared as objects (jsonb reorders keys)."""
    if str(ours) == theirs:
        return True
    if isinstance(ours, dict | list):
        try:
            return bool(ast.literal_eval(theirs) == ours)
        except (ValueError, SyntaxError):
            return False
    return False


def _key(metric_type: str, params: dict[str, Any], value: float) -> tuple[Any, ...]:
    text = tuple(sorted((k, str(v)) for k, v in params.items()))
    return (metric_type, text, "NaN" if value is not None and math.isnan(value) else value)


def test_rows_agree_with_evidently_sql_storage(demo_workspace: Path, tmp_path: Path, pg_dsn: str) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    extra = ws.write_snapshot(
        next(iter(ws.list_projects())).id, uuid.uuid4(), _evidently_snapshot_with_tests_and_frames()
    )
    ws.write_snapshot(next(iter(ws.list_projects())).id, uuid.uuid4(), _fairness_snapshot())
    ws.write_snapshot(next(iter(ws.list_projects())).id, uuid.uuid4(), _outliers_snapshot(tmp_path / "outliers"))

    bridge = Bridge(ws, pg_dsn)
    assert bridge.sync_once().ingested == len(all_files(ws))
    bridge.close()
    theirs = _evidently_points(pg_dsn, ws)

    with psycopg.connect(pg_dsn) as conn:
        ours_rows = conn.execute("SELECT snapshot_id, metric_type, params, value FROM evmon.metric_values").fetchall()
        kinds = dict(conn.execute("SELECT snapshot_id, kind FROM evmon.snapshots").fetchall())
        tests = conn.execute("SELECT count(*) FROM evmon.test_results WHERE snapshot_id = %s", (extra.snapshot_id,))
        n_tests = tests.fetchone()
    ours: dict[uuid.UUID, list[tuple[str, dict[str, Any], float]]] = {}
    for sid, metric_type, params, value in ours_rows:
        ours.setdefault(sid, []).append((metric_type, params, value))

    assert set(ours) == set(theirs) == set(all_files(ws))
    total = 0
    for sid, points in theirs.items():
        assert len(ours[sid]) == len(points), f"snapshot {sid}: {len(ours[sid])} rows, Evidently {len(points)} points"
        # match each of our rows to one of Evidently's points: type, stringified params, value
        remaining = Counter(_key(short_type(t), p, v) for t, p, v in points)
        for metric_type, params, value in ours[sid]:
            exact = _key(metric_type, params, value)
            if remaining[exact] > 0:
                remaining[exact] -= 1
                continue
            candidates = [
                k
                for k, n in remaining.items()
                if n > 0
                and k[0] == metric_type
                and k[2] == exact[2]
                and dict(k[1]).keys() == params.keys()
                and all(_same_param(params[name], text) for name, text in k[1])
            ]
            assert candidates, f"snapshot {sid}: no Evidently point for {metric_type} {params} = {value}"
            remaining[candidates[0]] -= 1
        assert sum(remaining.values()) == 0
        total += len(points)
    assert total > 500
    # the extra snapshot exercised DataframeValue, tests and NaN; its kind comes from metadata
    assert {t for sid in theirs for t, _, _ in theirs[sid]} >= {
        "evidently:metric_v2:CorrelationMatrix",
        "evidently:metric_v2:ColumnCorrelationMatrix",
        "evidently:metric_v2:FairnessValue",
        "evidently:metric_v2:OutRangeValueCount",  # the outlier metrics (evmon.evidently.outliers)
        "evidently:metric_v2:OutListValueCount",
        "evidently:metric_v2:MultivariateOutlierCount",
        "evidently:metric_v2:OutlierQuality",
    }
    assert n_tests is not None and n_tests[0] >= 2
    assert kinds[extra.snapshot_id] == "whatif"
    assert set(kinds.values()) == {"daily", "whatif"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_parse_like_the_stdlib(literal: str) -> None:
    import json

    text = f'{{"a": [{literal}, 1.5], "b": {{"value": {literal}}}, "s": "x: {literal}, y"}}'.encode()
    assert repr(parse_json(text)["s"]) == repr(json.loads(text)["s"])
    from evmon.snapshot.flatten import _number

    parsed = parse_json(text)
    expected = json.loads(text)
    for got, want in ((parsed["a"][0], expected["a"][0]), (parsed["b"]["value"], expected["b"]["value"])):
        number = _number(got)
        assert number is not None and (number == want or (math.isnan(number) and math.isnan(want)))
