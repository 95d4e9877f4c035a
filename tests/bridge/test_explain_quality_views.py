"""The attributions on the days the realized quality fell, over real days of a synthetic project, bridged:
evmon.attribution_by_quality, evmon.attribution_on_quality_drops and evmon.attribution_quality_drop_summary hold
the labelled days whose ROC AUC fell below the model-quality rule's 0.6, each day's columns ranked by the move of
their share, and the summary; a day whose labels had not arrived is in none of them. The app's core
(evmon.compare.quality_drops) and the Grafana panel give the same."""

from __future__ import annotations

import math
import statistics
import uuid
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from evmon.bridge.sync import Bridge
from evmon.compare.quality_drops import QUALITY_MIN, LabelledDay, labelled_day, project_quality_drops, quality_drops
from evmon.config.model import EvmonConfig
from evmon.fleet.sql import RULES
from evmon.run.day import run_day
from evmon.snapshot.catalog import Catalog, SnapshotEntry, catalog, entry_from_header
from evmon.snapshot.codec import loads as parse_json
from evmon.snapshot.contract import meta_of
from evmon.snapshot.flatten import MetricRow, flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.bridge.helpers import all_files
from tests.explain.synthetic import FIRST_DAY, frame, project_with_model, saved, tree_model

DAYS = [FIRST_DAY + timedelta(days=i) for i in range(5)]
CLEAN = (DAYS[0], DAYS[2])
SHIFT_FALL = DAYS[1]  # the labels flipped, and income all at the reference's median: the model no longer leans on it
CONCEPT_FALL = DAYS[3]  # the labels flipped, the inputs as usual
UNLABELLED = DAYS[4]  # as SHIFT_FALL, but run before its labels arrived
FALLS = (SHIFT_FALL, CONCEPT_FALL)
PANEL = "Columns that moved most on the days quality fell"


@pytest.fixture(scope="module")
def quality_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvmonConfig, FilesWorkspace]:
    folder = tmp_path_factory.mktemp("quality_days")
    rng = np.random.default_rng(17)
    reference = frame(rng, 3_000)
    daily = {day: frame(rng, 1_500, day) for day in DAYS}
    for day in (SHIFT_FALL, UNLABELLED):
        daily[day]["income"] = float(reference["income"].median())
    for day in (*FALLS, UNLABELLED):
        daily[day]["y"] = 1 - daily[day]["y"]
    saved(folder, tree_model(reference))
    config = project_with_model(
        folder, reference, daily, {"path": "model.joblib", "columns": ["income", "age", "balance", "tier"]}
    )
    ws = FilesWorkspace(config.resolve(config.workspace))
    for day in DAYS:
        today = day if day == UNLABELLED else day + timedelta(days=1)  # labels arrive the day after
        result = run_day(config, config.projects[0], day, workspace=ws, today=today)
        assert result.outcome == "ok", result.line()
    return config, ws


def snapshot_rows(ws: FilesWorkspace) -> dict[date, list[MetricRow]]:
    out = {}
    for file in all_files(ws).values():
        snapshot = parse_json(file.path.read_bytes())
        day = meta_of(snapshot).day
        assert day is not None
        out[day] = list(flatten(snapshot))
    return out


def roc_auc_of(rows: list[MetricRow]) -> float | None:
    found = [r.value for r in rows if r.metric_type == "RocAuc" and r.segment == "default" and r.value is not None]
    return found[0] if found and not math.isnan(found[0]) else None


def changes_of(rows: list[MetricRow]) -> dict[str, float]:
    return {
        str(r.column): float(r.value)
        for r in rows
        if r.metric_type == "FeatureAttribution" and r.label == "day" and r.value_kind == "share_change" and r.value
    }


def bridged(ws: FilesWorkspace, dsn: str) -> None:
    result = Bridge(ws, dsn, settle_s=0.0).sync_once()
    assert result.failed == [], result.line()


SUMMARY_SQL = """SELECT rank, "column", drop_days, other_days, mean_abs_change_on_drops, mean_change_on_drops,
       mean_abs_change_other_days, excess_on_drops, first_drop_day, last_drop_day
FROM evmon.attribution_quality_drop_summary WHERE project = 'synth' AND kind = 'daily' ORDER BY rank"""


def test_the_views_hold_the_falls_of_the_labelled_days_and_their_moves(
    quality_days: tuple[EvmonConfig, FilesWorkspace], pg_dsn: str
) -> None:
    _, ws = quality_days
    bridged(ws, pg_dsn)
    rows = snapshot_rows(ws)
    roc = {day: value for day, r in rows.items() if (value := roc_auc_of(r)) is not None}
    assert set(roc) == set(DAYS) - {UNLABELLED}  # the unlabelled day has no quality at all
    assert {d for d, v in roc.items() if v < QUALITY_MIN} == set(FALLS), roc
    with psycopg.connect(pg_dsn) as conn:
        by_quality = conn.execute(
            """SELECT day, quality_metric, quality, quality_min, quality_fell, rank, "column", share, reference_share,
                      share_change, mean_abs_shap
               FROM evmon.attribution_by_quality WHERE project = 'synth' AND kind = 'daily' ORDER BY day, rank"""
        ).fetchall()
        drops = conn.execute(
            """SELECT day, quality, rank, "column", share_change FROM evmon.attribution_on_quality_drops
               WHERE project = 'synth' AND kind = 'daily' ORDER BY day, rank"""
        ).fetchall()
        summary = conn.execute(SUMMARY_SQL).fetchall()
        explained = {r[0] for r in conn.execute("SELECT day FROM evmon.explanations WHERE project = 'synth'")}
    assert UNLABELLED in explained  # explained like every day, but not a labelled one
    assert {r[0] for r in by_quality} == set(roc)
    for day, metric, quality, quality_min, fell, *_ in by_quality:
        assert (metric, quality, quality_min, fell) == ("ROC AUC", roc[day], QUALITY_MIN, roc[day] < QUALITY_MIN)
    for day in roc:
        changes = changes_of(rows[day])
        ranked = [(r[5], r[6], r[9]) for r in by_quality if r[0] == day]
        want = sorted(changes, key=lambda c: (-abs(changes[c]), c))
        assert ranked == [(i, c, changes[c]) for i, c in enumerate(want, 1)]
    assert [(d, q, rank, c) for d, q, rank, c, _ in drops] == [r[:1] + r[2:3] + r[5:7] for r in by_quality if r[4]]
    # the shifted fall: the model leans on income far less than on the reference
    assert drops[0][:4] == (SHIFT_FALL, roc[SHIFT_FALL], 1, "income") and drops[0][4] < 0
    # the summary: per column, its moves on the two falls against the two other labelled days
    assert summary[0][:2] == (1, "income") and [r[0] for r in summary] == [1, 2, 3, 4]
    for _, column, drop_days, other_days, on_drops, signed, on_others, excess, first, last in summary:
        fall = [changes_of(rows[d]).get(column, 0.0) for d in FALLS]
        other = [changes_of(rows[d]).get(column, 0.0) for d in CLEAN]
        assert (drop_days, other_days, first, last) == (2, 2, SHIFT_FALL, CONCEPT_FALL)
        assert on_drops == pytest.approx(statistics.mean(abs(c) for c in fall))
        assert signed == pytest.approx(statistics.mean(fall))
        assert on_others == pytest.approx(statistics.mean(abs(c) for c in other))
        assert excess == pytest.approx(on_drops - on_others)
    assert summary[0][7] > 0  # income moved more on the falls than on the other labelled days


def _catalog_of(ws: FilesWorkspace) -> Catalog:
    pid = project_id("synth")
    entries = [
        entry_from_header(str(f.snapshot_id), ws.read_snapshot_header(pid, f.snapshot_id), f.size, f.mtime_ns)
        for f in ws.list_snapshots(pid)
    ]
    return catalog(entries, canonical=lambda d: str(daily_snapshot_id("synth", d)))


def test_the_apps_core_gives_what_the_views_give(quality_days: tuple[EvmonConfig, FilesWorkspace], pg_dsn: str) -> None:
    _, ws = quality_days
    bridged(ws, pg_dsn)
    read: list[date] = []

    def read_day(day: date, entry: SnapshotEntry) -> LabelledDay | None:
        read.append(day)
        return labelled_day(day, flatten(ws.read_full_snapshot(project_id("synth"), uuid.UUID(entry.snapshot_id))))

    result = project_quality_drops(_catalog_of(ws), read_day)
    assert sorted(read) == sorted(set(DAYS) - {UNLABELLED})  # its header says it has no labels: not read
    from_rows = quality_drops(d for day, r in snapshot_rows(ws).items() if (d := labelled_day(day, r)) is not None)
    assert from_rows == result
    assert [d.day for d in result.drops] == list(FALLS) and result.other_days == len(CLEAN)
    with psycopg.connect(pg_dsn) as conn:
        drops = conn.execute(
            """SELECT day, quality, rank, "column", share, reference_share, share_change, mean_abs_shap
               FROM evmon.attribution_on_quality_drops WHERE project = 'synth' ORDER BY day, rank"""
        ).fetchall()
        summary = conn.execute(SUMMARY_SQL).fetchall()
    core = [
        (d.day, d.quality, m.rank, m.column, m.share, m.reference_share, m.share_change, m.mean_abs_shap)
        for d in result.drops
        for m in d.columns
    ]
    assert core == drops
    assert [(s.rank, s.column, s.drop_days, s.other_days) for s in result.summary] == [r[:4] for r in summary]
    for s, row in zip(result.summary, summary, strict=True):
        assert (s.mean_abs_change_on_drops, s.mean_change_on_drops, s.mean_abs_change_other_days) == pytest.approx(
            row[4:7]
        )
        assert s.excess_on_drops == pytest.approx(row[7])


def test_the_grafana_panel_lists_the_summary_of_the_falls_in_its_range(
    quality_days: tuple[EvmonConfig, FilesWorkspace], pg_dsn: str
) -> None:
    """The panel's own SQL, expanded as Grafana expands it for project synth: over every day, the summary view's
    rows; over the first three days, the one fall among them (its ranks that day)."""
    from tests.grafana.checks import run
    from tests.grafana.grafana_sql import TimeRange, day_start, expand
    from tests.grafana.provisioned import load_dashboards, panel_queries, resolve_variables

    _, ws = quality_days
    bridged(ws, pg_dsn)
    dashboard = next(d for d in load_dashboards() if d["uid"] == "evmon-explanations")
    [query] = [q for q in panel_queries(dashboard) if q.title == PANEL]
    everything = TimeRange(day_start(DAYS[0]), day_start(DAYS[-1] + timedelta(days=2)))
    first_three = TimeRange(day_start(DAYS[0]), day_start(DAYS[3]) - timedelta(seconds=1))
    with psycopg.connect(pg_dsn) as conn:
        summary = conn.execute(SUMMARY_SQL).fetchall()
        ranked = conn.execute(
            """SELECT rank, "column", abs(share_change), share_change FROM evmon.attribution_on_quality_drops
               WHERE project = 'synth' AND day = %s ORDER BY rank""",
            (SHIFT_FALL,),
        ).fetchall()
        shown = {}
        for name, time_range in (("all", everything), ("first three", first_three)):
            variables = resolve_variables(conn, dashboard, time_range, {"project": ["synth"]})
            shown[name] = run(conn, expand(query.sql, variables, time_range)).rows
    assert [(r[0], r[1], r[2]) for r in shown["all"]] == [("synth", s[0], s[1]) for s in summary]
    for row, s in zip(shown["all"], summary, strict=True):
        assert row[3:7] == pytest.approx(s[4:8])
        assert row[7:] == (s[2], s[3], s[9])
    in_range = shown["first three"]
    assert [(r[1], r[2]) for r in in_range] == [(rank, column) for rank, column, _, _ in ranked]
    for row, (_, _, moved, signed) in zip(in_range, ranked, strict=True):
        assert row[3:5] == pytest.approx((moved, signed))
        assert row[7:] == (1, 2, SHIFT_FALL)  # one fall day, two other labelled days in the range


def test_quality_fell_is_the_model_quality_rules_threshold() -> None:
    """The views, the app and the rule evmon-model-quality (as provisioned and as the fleet evaluates it) agree."""
    from tests.grafana.provisioned import alert_rules

    rule = next(r for r in alert_rules() if r["uid"] == "evmon-model-quality")
    condition = next(i for i in rule["data"] if i["refId"] == rule["condition"])
    evaluator = condition["model"]["conditions"][0]["evaluator"]
    assert (evaluator["type"], evaluator["params"]) == ("lt", [QUALITY_MIN])
    assert RULES["evmon-model-quality"].threshold == QUALITY_MIN
