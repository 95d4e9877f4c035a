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
COLUMNS = {
    "estimate": "estimate",
    "lower": "lower",
    "upper": "upper",
    "realized": "realized",
    "gap": "difference",
    "empirical_lower": "empirical_lower",
    "empirical_upper": "empirical_upper",
    "level": "level",
}
NULL_UNTIL_LABELLED = {"realized": None, "difference": None, "inside_band": None, "inside_empirical": None}


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
            if row.value_kind in ("inside_band", "inside_empirical"):
                entry[row.value_kind] = None if value is None else value == 1.0
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
                      inside_band, empirical_lower, empirical_upper, level, inside_empirical
               FROM evmon.estimated_quality"""
        ).fetchall()
        record = conn.execute(
            """SELECT project, segment, metric, method, labelled_days, median_abs_difference, inside_band_share,
                      first_day, last_day, inside_empirical_share, median_band_width, median_empirical_width,
                      level, recent_days, recent_empirical_share, trusted
               FROM evmon.estimation_record"""
        ).fetchall()
    assert {(r[0], r[1], r[5]) for r in rows} == {(CREDIT, "daily", "CBPE")}  # taxi_duration estimates nothing
    names = ["estimate", "lower", "upper", "realized", "difference", "inside_band"]
    names += ["empirical_lower", "empirical_upper", "level", "inside_empirical"]
    got = {
        (day, segment, metric): dict(zip(names, values, strict=True)) for _, _, day, segment, metric, _, *values in rows
    }
    assert got.keys() == want.keys()
    for key, columns in got.items():
        wanted = {**NULL_UNTIL_LABELLED, **want[key]}
        assert columns == pytest.approx(wanted, abs=1e-12), key
    labelled = sorted({day for (day, _, _), c in got.items() if c["realized"] is not None})
    assert labelled == [date(2026, 3, 27), date(2026, 3, 28)]
    # the concept drift of 2026-03-27: the gap says it, the band does not hold the realized value
    drifted = got[(date(2026, 3, 27), "default", "roc_auc")]
    assert drifted["difference"] > 0.2 and drifted["inside_band"] is False

    assert len(record) == 5 * 5
    for project, segment, metric, method, days, median, share, first, last, *bands in record:
        assert (project, method) == (CREDIT, "CBPE")
        known = [got[(d, segment, metric)] for d in labelled if got[(d, segment, metric)]["difference"] is not None]
        assert days == len(known) and (first, last) == (labelled[0], labelled[-1])
        assert median == pytest.approx(statistics.median(abs(c["difference"]) for c in known), abs=1e-12)
        assert share == pytest.approx(sum(bool(c["inside_band"]) for c in known) / len(known), abs=1e-12)
        # both bands side by side: the empirical band's share and both median widths; its trust, judged on
        # the last 30 labelled days (here all 2), is a share at least its nominal 95%
        empirical_share, width, empirical_width, level, recent, recent_share, trusted = bands
        inside = sum(bool(c["inside_empirical"]) for c in known) / len(known)
        assert empirical_share == pytest.approx(inside, abs=1e-12) and recent_share == pytest.approx(inside)
        assert width == pytest.approx(statistics.median(c["upper"] - c["lower"] for c in known), abs=1e-12)
        want_width = statistics.median(c["empirical_upper"] - c["empirical_lower"] for c in known)
        assert empirical_width == pytest.approx(want_width, abs=1e-12)
        assert level == 0.95 and recent == len(known) and trusted is (inside >= 0.95)
