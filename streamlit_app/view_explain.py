"""The app's explanations: a day's top columns by attribution beside the reference's, both days of the compare
view side by side (evmon.compare.explain), one sampled row's SHAP values as a waterfall, on request, and the
columns whose attributions moved most on the days the realized quality fell (evmon.compare.quality_drops)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext, quality_drops_of
from evmon.compare.explain import Explained, compare_table, day_table
from evmon.compare.quality_drops import QUALITY_MIN, drop_days_table, summary_table
from evmon.config.model import Project
from evmon.days import day_window_utc
from evmon.errors import EvmonError
from evmon.explain.daily import ExplainDay, day_explanations
from evmon.run.day import reference_frame
from evmon.snapshot.catalog import Catalog
from evmon.sources.read import located, read_window

CAPTION = (
    "SHAP attributions of a seeded sample of the day's rows (projects.yaml model): each column's share of the "
    "total mean |SHAP|, beside the reference's. The nDCG compares the day's ranking with the reference's (1: the "
    "same; below the project's model.thresholds.ndcg_min the model leans on other columns). It moves only when "
    "the inputs move: concept drift alone does not move it (docs/explanations.md)."
)

DROPS_CAPTION = (
    "The labelled days whose realized quality fell: the model-wide ROC AUC (R² for a regressor) below "
    f"{QUALITY_MIN}, as Grafana's rule evmon-model-quality. A day whose labels have not arrived counts neither "
    "way. Above, per column, how far its share of the total mean |SHAP| moved from the reference's on those days "
    "on average, against the other labelled days (the bridge's evmon.attribution_quality_drop_summary); below, "
    "each such day's columns that moved most (evmon.attribution_on_quality_drops)."
)


def _ndcg(e: Explained | None) -> str:
    return "n/a" if e is None or e.ndcg is None else f"{e.ndcg:.3f}"


def render_compare(a: Explained | None, b: Explained | None) -> None:
    """The compare view's Explanations section (nothing when neither day has explanations)."""
    if a is None and b is None:
        return
    st.subheader("Explanations, by largest change of share")
    st.caption(CAPTION)
    left, right = st.columns(2)
    left.metric("nDCG vs the reference (A)", _ndcg(a))
    right.metric("nDCG vs the reference (B)", _ndcg(b))
    st.table(pd.DataFrame(compare_table(a, b)).set_index("column"))


def render_whatif(explained: Explained | None) -> None:
    """A what-if's explanations: its top columns beside its reference's (nothing without them)."""
    if explained is None:
        return
    st.subheader("Explanations of the what-if")
    st.caption(CAPTION)
    st.metric("nDCG vs the reference (what-if)", _ndcg(explained), help=f"explainer: {explained.explainer}")
    st.table(pd.DataFrame(day_table(explained)).set_index("column"))


def render_day(ctx: AppContext, project: Project, day: date, explained: Explained | None) -> None:
    """One day's top columns beside the reference's, and a sampled row's waterfall on request."""
    if project.model is None:
        return
    if explained is None:
        st.info(f"{day} has no explanations (its run log says why, or the day was run before model: was set).")
        return
    st.caption(CAPTION)
    st.metric("nDCG vs the reference", _ndcg(explained), help=f"explainer: {explained.explainer}")
    st.table(pd.DataFrame(day_table(explained)).set_index("column"))
    row = st.number_input("Explain one sampled row (its position in the day's sample)", 0, step=1, key="shap_row")
    if st.button("Explain this row", key="shap_explain"):
        _waterfall(ctx, project, day, int(row))


def _waterfall(ctx: AppContext, project: Project, day: date, position: int) -> None:
    """The row's SHAP values from the expected output to the row's, largest first (the day explained again)."""
    assert project.model is not None
    try:
        with st.spinner("Explaining the day's sample..."):
            reference = reference_frame(ctx.config, project)
            current = read_window(ctx.config, project, *day_window_utc(day, project.timezone))
            explained = day_explanations(project, located(ctx.config, project.model.path), current, reference)
    except EvmonError as exc:
        st.warning(str(exc))
        return
    if not 0 <= position < explained.rows:
        st.warning(f"The day's sample has {explained.rows} rows: choose 0 to {explained.rows - 1}.")
        return
    steps = waterfall_rows(explained.attributions.base_value, explained, position)
    st.caption(
        f"Row {position} of the day's sample ({explained.explainer} explainer): from the model's expected output "
        "over the background, each column's SHAP value, largest first, to this row's output."
    )
    st.bar_chart(pd.Series({str(s["step"]): float(str(s["SHAP"])) for s in steps[1:-1]}, name="SHAP"), horizontal=True)
    st.table(pd.DataFrame(steps).set_index("step"))


def waterfall_rows(base: float, explained: ExplainDay, position: int) -> list[dict[str, object]]:
    """The waterfall's steps: the expected output, then each column's SHAP value (largest |value| first)
    with the running total, then the row's output."""
    values = explained.attributions.values[position]
    row = explained.sample.iloc[position]
    steps: list[dict[str, object]] = [{"step": "expected output", "value": "", "SHAP": "", "total": f"{base:.4f}"}]
    total = base
    order = sorted(range(len(values)), key=lambda i: -abs(values[i]))
    for i in order:
        column = explained.attributions.columns[i]
        total += float(values[i])
        steps.append({"step": column, "value": str(row[column]), "SHAP": f"{values[i]:+.4f}", "total": f"{total:.4f}"})
    steps.append({"step": "this row's output", "value": "", "SHAP": "", "total": f"{total:.4f}"})
    return steps


def render_quality_drops(ctx: AppContext, project: Project, snapshots: Catalog) -> None:
    """The section "On days quality fell": the columns whose attributions moved most on those days."""
    if project.model is None:
        return
    st.subheader("On days quality fell")
    st.caption(DROPS_CAPTION)
    if not st.toggle("Show the attributions on the days quality fell", key="drops_show"):
        return
    try:
        with st.spinner("Reading the labelled days..."):
            drops = quality_drops_of(ctx.workspace, project.name, snapshots)
    except EvmonError as exc:
        st.error(f"Cannot read the labelled days: {exc}")
        return
    labelled = len(drops.drops) + drops.other_days
    if not drops.drops:
        st.info(f"Quality fell on none of the {labelled} labelled days with explanations.")
        return
    st.write(f"Quality fell on {len(drops.drops)} of the {labelled} labelled days with explanations.")
    st.table(pd.DataFrame(summary_table(drops)).set_index("column"))
    st.table(pd.DataFrame(drop_days_table(drops)).set_index("day"))
