"""The Streamlit app run by AppTest on real snapshots: the values shown are the snapshots' values."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evmon.compare.explain import explained_of
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.app.conftest import CREDIT, TAXI, UI_URL
from tests.conftest import DEMO_END, DEMO_WORKSPACE_DAYS

Open = Callable[..., Any]


def _frame(at: Any, column: str) -> pd.DataFrame:
    """The first dataframe shown that has `column`."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    shown = [list(e.value.columns) for e in at.dataframe]
    raise AssertionError(f"no dataframe with a {column!r} column; shown: {shown}")


def _texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The ids of the snapshots read in full (not just their header) from now on."""
    seen: list[uuid.UUID] = []
    original = FilesWorkspace.read_snapshot

    def counting(self: FilesWorkspace, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any]:
        seen.append(sid)
        return original(self, pid, sid)

    monkeypatch.setattr(FilesWorkspace, "read_snapshot", counting)
    return seen


def _drift_scores(root: Path, project: str, day: date) -> dict[str, float]:
    snapshot = FilesWorkspace(root).read_snapshot(project_id(project), daily_snapshot_id(project, day))
    return {r.column: r.value for r in flatten(snapshot) if r.metric_type == "ValueDrift"}  # type: ignore[misc]


def test_days_come_from_listing_and_headers(
    app_env: Path, open_app: Open, reads: list[uuid.UUID], shift_days: tuple[date, date]
) -> None:
    at = open_app("Days")
    frame = _frame(at, "weekday")
    demo_days = [DEMO_END - timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS)]
    expected = sorted([*demo_days, *shift_days], reverse=True)
    assert list(frame["day"]) == [d.isoformat() for d in expected]
    workspace = FilesWorkspace(app_env)
    for row in frame.itertuples():
        sid = daily_snapshot_id(CREDIT, date.fromisoformat(row.day))
        header = workspace.read_snapshot_header(project_id(CREDIT), sid)
        assert row.rows == int(header["metadata"]["rows"])
        assert row.labels == header["metadata"]["labels"]
        assert row._9 == f"{UI_URL}/projects/{project_id(CREDIT)}/reports/{sid}"  # the "Evidently UI" link
    assert reads == []  # no snapshot parsed to list the days
    assert "None saved" in _texts(at.caption)


def test_compare_two_days(app_env: Path, open_app: Open, reads: list[uuid.UUID], shift_days: tuple[date, date]) -> None:
    clean, shifted = shift_days
    at = open_app("Compare two days")
    at.selectbox(key="cmp_b").set_value(shifted).run()
    at.selectbox(key="cmp_a").set_value(clean).run()
    assert not at.exception and not at.warning
    scores_a = _drift_scores(app_env, CREDIT, clean)
    scores_b = _drift_scores(app_env, CREDIT, shifted)
    frame = _frame(at, "Δ score")
    assert set(frame["column"]) == set(scores_b)
    for row in frame.to_dict("records"):
        assert row["score A"] == scores_a[row["column"]]
        assert row["score B"] == scores_b[row["column"]]
        assert row["Δ score"] == scores_b[row["column"]] - scores_a[row["column"]]
    magnitudes = list(frame["Δ score"].abs())
    assert magnitudes == sorted(magnitudes, reverse=True)
    flipped = frame[frame["flipped"]]
    assert "ExternalRiskEstimate" in set(flipped["column"])
    assert set(flipped["drift A"]) <= {"not drifted"} and set(flipped["drift B"]) <= {"drifted"}
    errors = _texts(at.error)
    assert "Verdict flipped" in errors and "**ExternalRiskEstimate** not drifted → drifted" in errors
    drifted = {m.label: m for m in at.metric}["Drifted columns (B)"]
    assert drifted.value == str(len(flipped)) and drifted.delta == str(len(flipped))  # A had none
    links = [b.proto.url for b in at.get("link_button")]
    pid = project_id(CREDIT)
    assert links == [f"{UI_URL}/projects/{pid}/reports/{daily_snapshot_id(CREDIT, d)}" for d in (clean, shifted)]
    quality = _frame(at, "segment")
    snapshot_b = FilesWorkspace(app_env).read_snapshot(pid, daily_snapshot_id(CREDIT, shifted))
    aucs = [r for r in flatten(snapshot_b) if r.metric_type == "RocAuc"]
    auc = next(r.value for r in aucs if r.params["classification_name"] == "default")
    assert quality[(quality.segment == "default") & (quality.metric == "RocAuc")]["B"].item() == auc
    assert at.get("vega_lite_chart"), "the drift-score chart A vs B"
    shown = len(reads)
    at.run()  # a rerun compares from the cache: nothing is read again
    assert len(reads) == shown


def test_same_weekday_a_week_before(app_env: Path, open_app: Open, shift_days: tuple[date, date]) -> None:
    clean, shifted = shift_days
    at = open_app("Compare two days")
    at.selectbox(key="cmp_b").set_value(shifted).run()
    at.toggle(key="cmp_week").set_value(True).run()
    assert f"Day A: **{clean.isoformat()} ({clean:%a})**" in _texts(at.markdown)
    assert "ExternalRiskEstimate" in _texts(at.error)
    at.selectbox(key="cmp_b").set_value(DEMO_END).run()  # a week before it, no snapshot
    week = DEMO_END - timedelta(days=7)
    assert f"Day A ({week.isoformat()} ({week:%a})) has no daily snapshot" in _texts(at.warning)
    assert not at.exception and not at.get("link_button")


def test_whatif_save_and_list(app_env: Path, open_app: Open) -> None:
    at = open_app("What-if", project=TAXI)
    at.date_input(key="wi_start").set_value(DEMO_END)
    at.date_input(key="wi_end").set_value(DEMO_END)
    at.number_input(key="wi_threshold").set_value(0.005)
    at.button(key="wi_run").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    table = _frame(at, "what-if score")
    stored_col = f"{DEMO_END.isoformat()} score"
    assert table["what-if score"].tolist() == pytest.approx(table[stored_col].tolist())  # same data and reference
    expected = int((table["what-if score"] >= 0.005).sum())  # Evidently's rule for these distances
    metric = {m.label: m for m in at.metric}["Drifted columns (what-if)"]
    assert metric.value == f"{expected} of {len(table)}"
    summary = _frame(at, "drifted columns").set_index("snapshot")
    assert summary.loc["what-if", "drifted columns"] == expected
    assert summary.loc[DEMO_END.isoformat(), "drifted columns"] == int(table[f"{DEMO_END.isoformat()} drift"].sum())
    assert expected > summary.loc[DEMO_END.isoformat(), "drifted columns"]
    frames = at.get("iframe")
    assert frames and "drawDashboard" in frames[0].proto.srcdoc  # the full report, inline
    assert at.get("download_button"), "the report as one offline HTML file"
    workspace = FilesWorkspace(app_env)
    pid = project_id(TAXI)
    # the window explained by the project's model: the stored day's attributions (same rows, same reference)
    shares = next(t.value for t in at.table if "reference share" in t.value.columns)
    stored = explained_of(flatten(workspace.read_snapshot(pid, daily_snapshot_id(TAXI, DEMO_END))))
    assert stored is not None and list(shares.index) == [c.column for c in stored.columns]
    assert shares["share"].tolist() == [f"{c.share * 100:.1f}%" for c in stored.columns if c.share is not None]
    before = {f.snapshot_id for f in workspace.list_snapshots(pid)}
    at.button(key="wi_save").click().run()
    saved = re.search(r"snapshot ([0-9a-f-]{36})", _texts(at.success))
    assert saved is not None, _texts(at.success)
    sid = uuid.UUID(saved.group(1))
    assert {f.snapshot_id for f in workspace.list_snapshots(pid)} == {*before, sid}
    header = workspace.read_snapshot_header(pid, sid)
    assert header["tags"] == ["whatif"] and header["metadata"]["evmon_kind"] == "whatif"
    assert header["metadata"]["overrides"] == '{"threshold": 0.005}'
    at.sidebar.radio(key="view").set_value("Days").run()
    listed = _frame(at, "overrides")
    assert listed["Evidently UI"].tolist() == [f"{UI_URL}/projects/{pid}/reports/{sid}"]
    assert len(_frame(at, "weekday")) == DEMO_WORKSPACE_DAYS  # the what-if is not a day


def test_whatif_methods_fit_the_chosen_columns(app_env: Path, open_app: Open) -> None:
    at = open_app("What-if")
    assert "ks" not in at.selectbox(key="wi_method").options  # region is categorical
    assert "psi" in at.selectbox(key="wi_method").options
    at.multiselect(key="wi_columns").unselect("region").run()
    assert "ks" in at.selectbox(key="wi_method").options


def test_whatif_empty_windows_are_messages(app_env: Path, open_app: Open) -> None:
    at = open_app("What-if", project=TAXI)
    at.date_input(key="wi_start").set_value(date(2025, 6, 1))
    at.date_input(key="wi_end").set_value(date(2025, 6, 2))
    at.button(key="wi_run").click().run()
    assert "the window 2025-06-01..2025-06-02 has no rows" in _texts(at.error)
    at.date_input(key="wi_start").set_value(DEMO_END)
    at.date_input(key="wi_end").set_value(DEMO_END)
    at.radio(key="wi_ref_kind").set_value("Another window of the source").run()
    at.date_input(key="wi_ref_start").set_value(date(2025, 6, 1))
    at.date_input(key="wi_ref_end").set_value(date(2025, 6, 1))
    at.button(key="wi_run").click().run()
    assert "the reference window 2025-06-01..2025-06-01 has no rows" in _texts(at.error)
    assert not at.exception and not at.get("iframe")


def test_rerun_replaces_the_daily_snapshots(app_env: Path, open_app: Open) -> None:
    workspace = FilesWorkspace(app_env)
    pid = project_id(TAXI)
    days = [DEMO_END - timedelta(days=1), DEMO_END]
    sids = {daily_snapshot_id(TAXI, d) for d in days}
    before = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    originals = {f.snapshot_id: f.path.read_bytes() for f in workspace.list_snapshots(pid)}
    at = open_app("Re-run days", project=TAXI)
    assert (at.date_input(key="rr_start").value, at.date_input(key="rr_end").value) == tuple(days)
    at.button(key="rr_run").click().run()
    assert not at.exception and not at.error
    assert f"{TAXI}: 2 days: 2 ok" in _texts(at.success)
    assert _frame(at, "outcome")["outcome"].tolist() == ["ok", "ok"]
    after = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(pid)}
    assert set(after) == set(before)  # still one file per day
    assert all(after[s] > before[s] for s in sids)
    # the other days were not re-run, only compacted afterwards (older than retention.full_days
    # by the real clock, as the scheduler would have): their originals are archived byte for byte
    assert all(workspace.archived_bytes(pid, s) == originals[s] for s in set(before) - sids)
    runs = [r for r in RunLog(workspace.evmon_dir).records(TAXI) if r.trigger == "app"]
    assert sorted(r.day for r in runs) == days and all(r.status == "ok" for r in runs)


def test_rerun_days_without_rows_is_a_warning(app_env: Path, open_app: Open) -> None:
    at = open_app("Re-run days", project=TAXI)
    at.date_input(key="rr_start").set_value(date(2025, 6, 1))
    at.date_input(key="rr_end").set_value(date(2025, 6, 2))
    at.button(key="rr_run").click().run()
    assert "2 skipped (no rows)" in _texts(at.warning) and not at.exception


def test_failing_source_is_a_message(broken_config: Path, open_app: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVMON_WORKSPACE", raising=False)
    monkeypatch.setenv("EVMON_CONFIG", str(broken_config))
    at = open_app("Compare two days", project="broken")
    assert "No daily snapshots of broken" in _texts(at.info)
    at.sidebar.radio(key="view").set_value("What-if").run()
    at.button(key="wi_run").click().run()
    assert "broken: cannot read" in _texts(at.error)
    at.sidebar.radio(key="view").set_value("Re-run days").run()
    at.button(key="rr_run").click().run()
    errors = _texts(at.error)
    assert "2 failed" in errors and "broken: cannot read" in errors  # the last two days before today
    at.sidebar.radio(key="view").set_value("Days").run()
    assert "2 day(s) were run but have no snapshot" in _texts(at.warning)
    failed = _frame(at, "status")
    assert failed["status"].tolist() == ["failed", "failed"] and failed["error"].str.contains("cannot read").all()
    assert not at.exception


def test_missing_config_is_a_message(open_app: Open, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    monkeypatch.setenv("EVMON_CONFIG", str(tmp_path / "nope.yaml"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert "Cannot load the projects" in _texts(at.error) and "file not found" in _texts(at.error)
    assert not at.exception


def test_a_compacted_days_full_report_comes_from_the_archive(app_env: Path, open_app: Open, demo_dir: Path) -> None:
    from evmon.config.loader import load_config
    from evmon.storage.compaction import compact_project

    config = load_config(demo_dir / "projects.yaml")
    workspace = FilesWorkspace(app_env)
    result = compact_project(config, config.project(TAXI), workspace, today=DEMO_END + timedelta(days=400))
    assert result.compacted == DEMO_WORKSPACE_DAYS
    at = open_app("Days", project=TAXI)
    assert _frame(at, "weekday")["compacted"].tolist() == [True] * DEMO_WORKSPACE_DAYS
    at.selectbox(key="full_day").set_value(DEMO_END).run()
    at.button(key="full_show").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    frames = at.get("iframe")
    assert frames and "drawDashboard" in frames[0].proto.srcdoc
    assert "Mean Absolute Error" in frames[0].proto.srcdoc or "MAE" in frames[0].proto.srcdoc
    compacted = workspace.read_snapshot(project_id(TAXI), daily_snapshot_id(TAXI, DEMO_END))
    assert compacted["widgets"] == []  # the workspace's own copy has no report view left
