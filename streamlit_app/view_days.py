"""The project's days and saved what-ifs, from file listings, headers and the run log."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext, ui_snapshot_url
from evmon.app.view_explain import render_day, render_quality_drops
from evmon.app.view_whatif import fit_report
from evmon.compare.explain import explained_of
from evmon.config.model import Project
from evmon.errors import EvmonError
from evmon.run.whatif import stored_report_html
from evmon.snapshot.catalog import Catalog, SnapshotEntry
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import project_id
from evmon.storage.runlog import RunLog, RunRecord


def render(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    if not snapshots.daily:
        st.info(
            f"No daily snapshots of {project.name} yet. Run `evmon backfill {project.name} --start ... --end ...`, "
            "or compute days in 'Re-run days'."
        )
    else:
        runs = RunLog(ctx.workspace.evmon_dir).latest_ok(project.name)
        days = snapshots.days
        st.write(f"{len(days)} daily snapshots, {days[0]} to {days[-1]}.")
        missing = (days[-1] - days[0]).days + 1 - len(days)
        if missing:
            st.warning(f"{missing} days between {days[0]} and {days[-1]} have no snapshot.")
        rows = []
        for day in reversed(days):
            entry = snapshots.daily[day]
            run = runs.get(day)
            rows.append(
                {
                    "day": day.isoformat(),
                    "weekday": day.strftime("%a"),
                    "rows": entry.meta.rows,
                    "labels": _yes_no(entry.meta.labels),
                    "written": _written(entry),
                    "trigger": run.trigger if run else None,
                    "run seconds": round(run.duration_s, 1) if run else None,
                    "MB": round(entry.size / 1e6, 2),
                    "Evidently UI": ui_snapshot_url(ctx.ui_url, project.name, entry.snapshot_id),
                    "compacted": entry.meta.compacted,
                }
            )
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={"Evidently UI": st.column_config.LinkColumn(display_text="open")},
            key="days_table",
        )
        _full_report(ctx, project, snapshots)
        _explanations(ctx, project, snapshots)
        render_quality_drops(ctx, project, snapshots)
    _without_snapshot(ctx, project, snapshots)
    whatifs(ctx, project, snapshots)


def _full_report(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    """One day's full Evidently report; for a compacted day, from its archived original."""
    st.subheader("Full report of a day")
    st.caption(
        "Days older than retention.full_days are compacted in the workspace (the Evidently UI keeps their "
        "dashboard values, not their report view); their full report comes from the archive here."
    )
    days = sorted(snapshots.daily, reverse=True)
    day = st.selectbox("Day", days, key="full_day")
    if day is None or not st.button("Show the full report", key="full_show"):
        return
    entry = snapshots.daily[day]
    try:
        html = stored_report_html(ctx.workspace, project.name, entry.snapshot_id)
    except EvmonError as exc:
        st.error(f"Cannot open the report of {day}: {exc}")
        return
    st.iframe(fit_report(html), height=1100)


def _explanations(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    """A day's top columns by attribution beside the reference's (a project with `model:`)."""
    if project.model is None:
        return
    st.subheader("Explanations of a day")
    day = st.selectbox("Day to explain", sorted(snapshots.daily, reverse=True), key="explain_day")
    if day is None or not st.toggle("Show the day's explanations", key="explain_show"):
        return
    try:
        snapshot = ctx.workspace.read_snapshot(project_id(project.name), uuid.UUID(snapshots.daily[day].snapshot_id))
    except EvmonError as exc:
        st.error(f"Cannot read the snapshot of {day}: {exc}")
        return
    render_day(ctx, project, day, explained_of(flatten(snapshot)))


def _without_snapshot(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    """Days the run log has seen whose last run left no snapshot (no rows, or a failure)."""
    last: dict[date, RunRecord] = {}
    for record in RunLog(ctx.workspace.evmon_dir).records(project.name):
        if record.kind == "daily":
            last[record.day] = record
    missing = [r for day, r in sorted(last.items(), reverse=True) if day not in snapshots.daily]
    if not missing:
        return
    st.warning(f"{len(missing)} day(s) were run but have no snapshot: their last run found no rows or failed.")
    rows = [
        {"day": r.day.isoformat(), "status": r.status, "started": r.started_at.isoformat(), "error": r.error}
        for r in missing
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="days_missing")


def whatifs(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    st.subheader("Saved what-ifs")
    if not snapshots.whatifs:
        st.caption("None saved. A what-if is saved with the tag 'whatif', apart from the daily snapshots.")
        return
    rows = [
        {
            "window": e.meta.window,
            "reference": e.meta.reference,
            "overrides": e.meta.overrides,
            "rows": e.meta.rows,
            "tags": ", ".join(e.tags),
            "saved": _written(e),
            "saved by": e.meta.who,  # the signed-in user, when the app has a login
            "Evidently UI": ui_snapshot_url(ctx.ui_url, project.name, e.snapshot_id),
        }
        for e in snapshots.whatifs
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"Evidently UI": st.column_config.LinkColumn(display_text="open")},
        key="whatifs_table",
    )


def _written(entry: SnapshotEntry) -> str:
    return datetime.fromtimestamp(entry.mtime_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "no"
