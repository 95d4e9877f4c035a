"""evmon.estimated_quality and evmon.estimation_record over real estimated snapshots, bridged into Postgres.

The shared demo workspace: credit_scorecard's newest five days computed by the real runner with its
estimation on (two of them labelled, one of those a concept-drift day), taxi_duration without it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.contract import meta_of
from evmon.snapshot.flatten import flatten
from tests.bridge.helpers import all_files, copy_workspace

CREDIT = "credit_scorecard"
COLUMNS = {"estimate": "estimate", "lower": "lower", "upper": "upper", "realized": "realized", "gap": "difference"}


def expected(ws: Any) -> dict[tuple[date, str, str], dict[str, Any]]:
    """(day, segment, metric) -> the view's columns, from the snapshot files themselves."""
    out: dict[tuple[date, str, str], dict[str, Any]] = defaultdict(dict)
    for file in all_files(ws).values():
        snapshot = parse_json(file.path.read_bytes())
        day = meta_of(snapshot).day
        assert day is not None
        for row in flatten(snapshot):
            if row.metric_type != "EstimatedQuality":
                continue
            assert row.params["method"] == "CBPE" and row.segment is not None and row.label is not None
            entry = out[(day, row.segment, row.label)]
            value = None if row.value is None or math.isnan(row.value) else row.value
            if row.value_kind == "inside_band":
                entry["inside_band"] = None if value is None else value == 1.0
            else:
                entry[COLUMNS[row.value_kind]] = value
    return out


def test_the_views_hold_every_estimate_and_the_estimates_record(
    demo_workspace: Path, tmp_path: Path, pg_dsn: str
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "ws")
    Bridge(ws, pg_dsn).sync_once()
    want = expected(ws)
    assert len(want) == 5 * 5 * 5  # days x segments (model-wide and 4 regions) x metrics
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            """SELECT project, kind, day, segment, metric, method, estimate, lower, upper, realized, difference,
                      inside_band
               FROM evmon.estimated_quality"""
        ).fetchall()
        record = conn.execute(
            """SELECT project, segment, metric, method, labelled_days, median_abs_difference, inside_band_share,
                      first_day, last_day
               FROM evmon.estimation_record"""
        ).fetchall()
    assert {(r[0], r[1], r[5]) for r in rows} == {(CREDIT, "daily", "CBPE")}  # taxi_duration estimates nothing
    got = {
        (day, segment, metric): dict(estimate=e, lower=lo, upper=hi, realized=r, difference=d, inside_band=inside)
        for _, _, day, segment, metric, _, e, lo, hi, r, d, inside in rows
    }
    assert got.keys() == want.keys()
    for key, columns in got.items():
        wanted = {"realized": None, "difference": None, "inside_band": None, **want[key]}
        assert columns == pytest.approx(wanted, abs=1e-12), key
    labelled = sorted({day for (day, _, _), c in got.items() if c["realized"] is not None})
    assert labelled == [date(2026, 3, 27), date(2026, 3, 28)]
    # the concept drift of 2026-03-27: the gap says it, the band does not hold the realized value
    drifted = got[(date(2026, 3, 27), "default", "roc_auc")]
    assert drifted["difference"] > 0.2 and drifted["inside_band"] is False

    assert len(record) == 5 * 5
    for project, segment, metric, method, days, median, share, first, last in record:
        assert (project, method) == (CREDIT, "CBPE")
        known = [got[(d, segment, metric)] for d in labelled if got[(d, segment, metric)]["difference"] is not None]
        assert days == len(known) and (first, last) == (labelled[0], labelled[-1])
        assert median == pytest.approx(statistics.median(abs(c["difference"]) for c in known), abs=1e-12)
        assert share == pytest.approx(sum(bool(c["inside_band"]) for c in known) / len(known), abs=1e-12)
