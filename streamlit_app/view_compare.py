"""Compare two days: values side by side, deltas, flipped verdicts, drift scores A vs B, estimated quality,
fairness and outlier figures (view_bias)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext, record_of, ui_snapshot_url, values_of
from evmon.app.view_bias import render_bias
from evmon.app.view_explain import render_compare
from evmon.compare.estimated import Key, Record
from evmon.compare.rows import delta_text, estimated_of, headline, quality_rows, record_for
from evmon.compare.values import Comparison, SnapshotValues, ValueDelta, compare, week_before
from evmon.config.model import Project
from evmon.errors import WorkspaceError
from evmon.snapshot.catalog import Catalog

NUMBER = st.column_config.NumberColumn(format="%.4f")


def render(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    days = list(reversed(snapshots.days))
    if len(days) < 1:
        st.info(f"No daily snapshots of {project.name} to compare yet.")
        return
    left, right = st.columns(2)
    day_b = right.selectbox("Day B", days, key="cmp_b", format_func=_label)
    week = left.toggle("Day A: the same weekday a week before B", key="cmp_week")
    if week:
        day_a = week_before(day_b)
        left.write(f"Day A: **{_label(day_a)}**")
    else:
        others = [d for d in days if d != day_b] or days
        day_a = left.selectbox("Day A", others, key="cmp_a", format_func=_label)
    for which, day in (("A", day_a), ("B", day_b)):
        if day not in snapshots.daily:
            st.warning(
                f"Day {which} ({_label(day)}) has no daily snapshot in the workspace. "
                "Compute it in 'Re-run days', or pick another day."
            )
            return
    entry_a, entry_b = snapshots.daily[day_a], snapshots.daily[day_b]
    try:
        values_a = values_of(ctx.workspace, project.name, entry_a.snapshot_id, entry_a.mtime_ns)
        values_b = values_of(ctx.workspace, project.name, entry_b.snapshot_id, entry_b.mtime_ns)
    except WorkspaceError as exc:
        st.warning(f"A snapshot could not be read (it may be being replaced right now): {exc}")
        return
    except Exception as exc:  # a file that is not an evmon snapshot: say so, no traceback
        st.warning(f"A snapshot could not be understood: {type(exc).__name__}: {exc}")
        return
    links = st.columns(2)
    for col, which, day, entry in ((links[0], "A", day_a, entry_a), (links[1], "B", day_b, entry_b)):
        labels = "with" if entry.meta.labels else "without"
        rows = "?" if entry.meta.rows is None else entry.meta.rows
        col.markdown(f"**Day {which}: {_label(day)}**, {rows} rows, {labels} labels")
        col.link_button(
            f"Open day {which} in the Evidently UI", ui_snapshot_url(ctx.ui_url, project.name, entry.snapshot_id)
        )
    result = compare(values_a, values_b)
    records = _records(ctx, project, snapshots) if values_a.estimated or values_b.estimated else {}
    _headline(values_a, values_b)
    _flipped(result)
    _columns(result, day_a, day_b)
    _values(result, values_a, values_b, records)
    render_bias(values_a, values_b)
    render_compare(values_a.explained, values_b.explained)


def _records(ctx: AppContext, project: Project, snapshots: Catalog) -> dict[Key, Record]:
    """The estimate's record over the project's daily snapshots (each read once, then cached)."""
    try:
        with st.spinner("Reading the estimate's record from the daily snapshots..."):
            return record_of(ctx.workspace, project.name, snapshots)
    except WorkspaceError as exc:
        st.warning(f"The estimate's record could not be read (a snapshot may be being replaced): {exc}")
        return {}


def _label(day: date) -> str:
    return f"{day.isoformat()} ({day.strftime('%a')})"


def _headline(a: SnapshotValues, b: SnapshotValues) -> None:
    cells = st.columns(5)
    items = [
        ("Drifted columns (B)", "drift.count", "{:.0f}"),
        ("Share of drifted columns (B)", "drift.share", "{:.3f}"),
        ("Rows (B)", "data.rows", "{:.0f}"),
        ("Missing values share (B)", "data.missing_share", "{:.4f}"),
    ]
    for cell, (label, key, fmt) in zip(cells, items, strict=False):
        vb, va = b.value(key), a.value(key)
        shown = fmt.format(vb) if vb is not None else "n/a"
        change, arrow = delta_text(vb - va if vb is not None and va is not None else None, fmt)
        cell.metric(label, shown, delta=change, delta_color="off", delta_arrow=arrow)  # type: ignore[arg-type]
    verdict = {True: "yes", False: "no", None: "n/a"}
    cells[4].metric("Dataset drift (A → B)", f"{verdict[a.dataset_drift]} → {verdict[b.dataset_drift]}")


def _flipped(result: Comparison) -> None:
    flips = result.flipped_columns
    if result.dataset_drift_flipped:
        st.error("The dataset drift verdict flipped between A and B.")
    if flips:
        text = "; ".join(f"**{c.column}** {_verdict(c.drifted_a)} → {_verdict(c.drifted_b)}" for c in flips)
        st.error(f"Verdict flipped for {len(flips)} column(s): {text}")
    else:
        st.success("No column's drift verdict flipped between A and B.")


def _verdict(drifted: bool | None) -> str:
    return {True: "drifted", False: "not drifted", None: "n/a"}[drifted]


def _columns(result: Comparison, day_a: date, day_b: date) -> None:
    st.subheader("Columns, by largest change of the drift score")
    frame = pd.DataFrame(
        [
            {
                "column": c.column,
                "method": c.method,
                "threshold": c.threshold,
                "score A": c.score_a,
                "score B": c.score_b,
                "Δ score": c.delta,
                "drift A": _verdict(c.drifted_a),
                "drift B": _verdict(c.drifted_b),
                "flipped": c.flipped,
                "missing A": c.missing_a,
                "missing B": c.missing_b,
                "Δ missing": c.missing_delta,
            }
            for c in result.columns
        ]
    )
    if frame.empty:
        st.info("Neither snapshot has per-column drift results (the data_drift preset is off).")
        return
    styled = frame.style.apply(
        lambda row: ["background-color: #ffd6d6" if row["flipped"] else "" for _ in row], axis=1
    ).format(precision=4, na_rep="n/a")
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        key="cmp_columns",
        column_config={k: NUMBER for k in ("threshold", "score A", "score B", "Δ score", "missing A", "missing B")},
    )
    if any(c.settings_changed for c in result.columns):
        st.caption("Some columns used another method or threshold on A than on B: their scores differ in meaning.")
    chart = frame[["column", "score A", "score B"]].rename(
        columns={"score A": f"A {day_a.isoformat()}", "score B": f"B {day_b.isoformat()}"}
    )
    st.caption("Drift score per column, A vs B (each column on its own method's scale)")
    st.bar_chart(chart, x="column", y=[f"A {day_a.isoformat()}", f"B {day_b.isoformat()}"], stack=False)


def _values(result: Comparison, a: SnapshotValues, b: SnapshotValues, records: dict[Key, Record]) -> None:
    dataset = [v for v in result.values if v.group != "quality"]
    quality = [v for v in result.values if v.group == "quality"]
    st.subheader("Dataset")
    st.dataframe(
        pd.DataFrame([{"value": v.name, "A": v.a, "B": v.b, "Δ": v.delta} for v in dataset]),
        hide_index=True,
        key="cmp_dataset",
        column_config={k: NUMBER for k in ("A", "B", "Δ")},
    )
    st.subheader("Model quality (whole model and segments), by largest change")
    if not quality:
        st.info("Neither day has model-quality metrics (their labels had not arrived when they ran).")
        return
    top = headline(quality)
    if top is not None:
        _estimate_headline(top, records)
    if any(v.estimated for v in quality):
        st.caption(
            "A day whose labels had not arrived when it ran shows its quality **estimated** (CBPE for probability "
            "scores, DLE for regression), with the estimate's band [lower, upper]; a labelled day shows the "
            "realized value, its estimate beside it. 'Δ between' says when a delta is an estimate against a "
            "realized value."
        )
    elif not a.segments or not b.segments:
        st.caption("One of the days has no model-quality metrics: its labels had not arrived when it ran.")
    st.dataframe(
        pd.DataFrame(quality_rows(quality, records)),
        hide_index=True,
        key="cmp_quality",
        column_config={k: NUMBER for k in ("A", "B", "Δ")},
    )


def _estimate_headline(top: ValueDelta, records: dict[Key, Record]) -> None:
    """The model-wide headline metric on A and B, realized or estimated (flagged, with its band), and its record."""
    est = estimated_of(top)
    assert est is not None
    cells = st.columns(2)
    for cell, which, side in ((cells[0], "A", top.shown_a), (cells[1], "B", top.shown_b)):
        if side is None:
            cell.metric(f"{est.name}, day {which}", "n/a")
            continue
        cell.metric(f"{est.name}, day {which} ({side.basis})", side.text)
        if side.beside is not None:
            cell.caption(side.beside)
    if top.delta is not None:
        st.markdown(f"Δ {est.name} (B - A): **{top.delta:+.3f}**, {top.basis}")
    record = record_for(top, records)
    if record is not None:
        st.markdown(f"{est.name}, model-wide: {record.text}")
