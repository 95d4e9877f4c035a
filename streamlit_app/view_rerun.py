"""Re-run scheduled days with the project's own config (like `evmon backfill --force`), with a progress bar."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext
from evmon.app.writes import read_only, rerun
from evmon.config.model import Project
from evmon.days import today_in
from evmon.errors import EvmonError
from evmon.run.batch import summarize
from evmon.run.day import DayResult
from evmon.snapshot.catalog import Catalog


def render(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    st.write(
        "Re-runs the chosen days with the project's own config (after late data or late labels) and "
        "replaces their daily snapshots, exactly like `evmon backfill --force`; the bridge then updates "
        "Postgres by itself."
    )
    last = snapshots.days[-1] if snapshots.days else today_in(project.timezone) - timedelta(days=1)
    c1, c2 = st.columns(2)
    start = c1.date_input("First day", value=last - timedelta(days=1), key="rr_start")
    end = c2.date_input("Last day", value=last, key="rr_end")
    assert isinstance(start, date) and isinstance(end, date)
    if end < start:
        st.warning(f"The last day ({end}) is before the first day ({start}).")
        return
    count = (end - start).days + 1
    existing = sum(1 for d in snapshots.daily if start <= d <= end)
    st.caption(f"{count} day(s); {existing} of them have a daily snapshot now, which will be replaced.")
    if not ctx.access.allowed:
        read_only(ctx.access, "rr")
        _last_results()
        return
    if not st.button(f"Re-run {count} day(s)", key="rr_run", type="primary"):
        _last_results()
        return
    bar = st.progress(0.0, text=f"0 of {count} days")
    done: list[DayResult] = []

    def progress(result: DayResult) -> None:
        done.append(result)
        bar.progress(len(done) / count, text=f"{len(done)} of {count}: {result.line()}")

    try:
        results = rerun(ctx.access, ctx.config, project, start, end, workspace=ctx.workspace, progress=progress)
    except EvmonError as exc:
        st.error(str(exc))
        return
    st.session_state["rr_results"] = (project.name, results)
    _last_results()


def _last_results() -> None:
    stored = st.session_state.get("rr_results")
    if stored is None:
        return
    name, results = stored
    summary = f"{name}: {summarize(results)}"
    failed = [r for r in results if r.failed]
    skipped = [r for r in results if r.outcome == "skipped"]
    if failed:
        st.error(summary + "\n\n" + "\n\n".join(r.line() for r in failed))
    elif skipped:
        st.warning(summary + "; no rows in the source (nothing written) for: " + ", ".join(str(r.day) for r in skipped))
    else:
        st.success(summary)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "day": r.day.isoformat(),
                    "outcome": r.outcome,
                    "rows": r.rows,
                    "labels": None if r.labels_included is None else ("yes" if r.labels_included else "no"),
                    "seconds": round(r.duration_s, 1),
                    "error": r.error,
                }
                for r in results
            ]
        ),
        hide_index=True,
        key="rr_table",
    )
