"""What-if: re-run a window with other settings, next to the stored daily snapshots; save it tagged 'whatif'."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext, ui_snapshot_url, values_of
from evmon.app.view_explain import render_whatif
from evmon.app.writes import read_only, save
from evmon.compare.values import SnapshotValues, side_by_side
from evmon.config.model import DRIFT_METHODS, Project
from evmon.days import day_range, today_in
from evmon.errors import EvmonError
from evmon.evidently.loader import report_html
from evmon.run.whatif import Overrides, WhatIfResult, WhatIfSpec, run_whatif
from evmon.snapshot.catalog import Catalog

MAX_SIDE_DAYS = 14  # stored daily snapshots shown next to a what-if
REPORT_ZOOM = 0.8


def render(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    spec = _form(project, snapshots)
    if st.button("Run what-if", key="wi_run", type="primary") and spec is not None:
        with st.spinner(f"Running Evidently on {spec.window} (a few seconds)..."):
            try:
                result = run_whatif(ctx.config, spec)
            except EvmonError as exc:
                st.session_state.pop("wi_result", None)
                st.error(str(exc))
                return
        st.session_state["wi_result"] = result
        st.session_state.pop("wi_saved", None)
        st.session_state.pop("wi_html", None)
    shown: WhatIfResult | None = st.session_state.get("wi_result")
    if shown is None or shown.spec.project != project.name:
        return
    _result(ctx, project, snapshots, shown)


def _form(project: Project, snapshots: Catalog) -> WhatIfSpec | None:
    last = snapshots.days[-1] if snapshots.days else today_in(project.timezone) - timedelta(days=1)
    st.markdown("**Current window**")
    c1, c2 = st.columns(2)
    start = c1.date_input("First day", value=last, key="wi_start")
    end = c2.date_input("Last day", value=last, key="wi_end")
    ref_label = _reference_label(project)
    kind = st.radio("Reference", [ref_label, "Another window of the source"], key="wi_ref_kind", horizontal=True)
    reference: tuple[date, date] | None = None
    if kind != ref_label:
        r1, r2 = st.columns(2)
        ref_start = r1.date_input("Reference first day", value=last - timedelta(days=14), key="wi_ref_start")
        ref_end = r2.date_input("Reference last day", value=last - timedelta(days=8), key="wi_ref_end")
        reference = (_day(ref_start), _day(ref_end))
    overrides = _overrides(project)
    if overrides is None:
        return None
    return WhatIfSpec(project.name, _day(start), _day(end), reference, overrides)


def _overrides(project: Project) -> Overrides | None:
    drift = project.presets.data_drift
    if drift is None:
        st.caption("The data_drift preset is off for this project: the what-if runs its other presets as configured.")
        return Overrides()
    st.markdown("**Overrides** (unset: the project's own settings)")
    all_columns = project.drift_columns()
    chosen = st.multiselect("Drift columns", all_columns, default=all_columns, key="wi_columns")
    if not chosen:
        st.warning("Choose at least one column.")
        return None
    kinds = {project.columns.kind_of(c) for c in chosen}
    methods = [m for m, fits in DRIFT_METHODS.items() if kinds <= fits]
    c1, c2 = st.columns(2)
    method = c1.selectbox(
        "Drift method (all chosen columns)", ["(project's)", *methods], key="wi_method", help=_current(project)
    )
    threshold = c2.number_input(
        "Threshold (all chosen columns; empty: the project's, or the method's default)",
        value=None,
        min_value=0.0,
        format="%.4f",
        key="wi_threshold",
    )
    return Overrides(
        method=None if method == "(project's)" else method,
        threshold=None if threshold is None else float(threshold),
        columns=None if list(chosen) == all_columns else tuple(chosen),
    )


def _current(project: Project) -> str:
    drift = project.presets.data_drift
    assert drift is not None
    parts = [f"{k}={v}" for k, v in drift.model_dump(exclude_defaults=True).items() if k != "columns"]
    parts += [f"{c}: {o.model_dump(exclude_none=True)}" for c, o in drift.columns.items()]
    return "The project's drift settings: " + (", ".join(parts) or "Evidently's defaults")


def _reference_label(project: Project) -> str:
    ref = project.reference
    if ref.path is not None:
        return f"The project's reference ({ref.path})"
    return f"The project's reference ({ref.start}..{ref.end})"


def _day(value: object) -> date:
    assert isinstance(value, date)
    return value


def _result(ctx: AppContext, project: Project, snapshots: Catalog, result: WhatIfResult) -> None:
    spec, values = result.spec, result.values
    st.subheader(f"What-if {spec.window} against {spec.reference_label}")
    labels = "with" if result.labels_included else "without (labels not arrived)"
    st.caption(
        f"{result.rows} rows against {result.reference_rows} reference rows, model quality {labels}, "
        f"overrides {spec.overrides.as_dict() or 'none'}; computed in {result.duration_s:.1f}s, not saved yet."
    )
    stored = _stored(ctx, project, snapshots, spec.start, spec.end)
    _summary(values, stored)
    named = [("what-if", values), *((d.isoformat(), v) for d, v in stored)]
    table = pd.DataFrame(side_by_side(list(values.columns), named))
    if not table.empty:
        meta = pd.DataFrame(
            {
                "column": list(values.columns),
                "method": [c.method_name for c in values.columns.values()],
                "rule": [c.rule_text for c in values.columns.values()],
            }
        )
        st.dataframe(
            meta.merge(table, on="column"),
            hide_index=True,
            width="stretch",
            key="wi_columns_table",
            column_config={k: st.column_config.NumberColumn(format="%.4f") for k in table.columns if "score" in k},
        )
    render_whatif(values.explained)
    _save(ctx, project, result)
    with st.expander("The full Evidently report", expanded=True):
        html = st.session_state.get("wi_html")
        if html is None:
            html = st.session_state["wi_html"] = report_html(result.model)
        st.download_button(
            "Download the report (one offline HTML file)",
            html,
            file_name=f"{project.name}-whatif-{spec.window}.html",
            mime="text/html",
            key="wi_download",
        )
        st.iframe(fit_report(html), height=1100)


def fit_report(html: str) -> str:
    """Evidently's report is laid out for about 1200 px; zoom it out to fit the app's column."""
    return html.replace("<head>", f"<head><style>html {{ zoom: {REPORT_ZOOM}; }}</style>", 1)


def _stored(
    ctx: AppContext, project: Project, snapshots: Catalog, start: date, end: date
) -> list[tuple[date, SnapshotValues]]:
    days = [d for d in day_range(start, end) if d in snapshots.daily]
    missing = (end - start).days + 1 - len(days)
    if missing:
        st.caption(f"{missing} day(s) of the window have no stored daily snapshot.")
    if len(days) > MAX_SIDE_DAYS:
        st.caption(f"Showing the stored snapshots of the first {MAX_SIDE_DAYS} days of the window.")
        days = days[:MAX_SIDE_DAYS]
    out = []
    for day in days:
        entry = snapshots.daily[day]
        try:
            out.append((day, values_of(ctx.workspace, project.name, entry.snapshot_id, entry.mtime_ns)))
        except EvmonError as exc:
            st.warning(f"The stored snapshot of {day} could not be read: {exc}")
    return out


def _summary(values: SnapshotValues, stored: list[tuple[date, SnapshotValues]]) -> None:
    rows = [("what-if", values), *((d.isoformat(), v) for d, v in stored)]
    frame = pd.DataFrame(
        [
            {
                "snapshot": name,
                "drifted columns": v.evidently_drifted_count,
                "of": len(v.columns),
                "share": v.value("drift.share"),
                "dataset drift": {True: "yes", False: "no", None: "n/a"}[v.dataset_drift],
                "rows": v.value("data.rows"),
                "missing share": v.value("data.missing_share"),
            }
            for name, v in rows
        ]
    )
    count = values.evidently_drifted_count
    st.metric("Drifted columns (what-if)", "n/a" if count is None else f"{count} of {len(values.columns)}")
    st.dataframe(frame, hide_index=True, key="wi_summary")


def _save(ctx: AppContext, project: Project, result: WhatIfResult) -> None:
    saved = st.session_state.get("wi_saved")
    if saved is None and not ctx.access.allowed:
        read_only(ctx.access, "wi")
    elif saved is None and st.button("Save as what-if", key="wi_save"):
        try:
            file = save(ctx.access, ctx.workspace, result)
        except EvmonError as exc:
            st.error(f"Could not save: {exc}")
            return
        saved = st.session_state["wi_saved"] = str(file.snapshot_id)
    if saved is not None:
        st.success(f"Saved as what-if snapshot {saved} (tag 'whatif', kept apart from the daily snapshots).")
        st.link_button("Open the what-if in the Evidently UI", ui_snapshot_url(ctx.ui_url, project.name, saved))
