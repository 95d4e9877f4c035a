"""The Fleet page: every project in one table, from the bridge's Postgres (evmon.fleet), most trouble first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evmon.app.data import AppContext, days_view_link, ui_project_url
from evmon.errors import EvmonError
from evmon.fleet.table import DSN_ENV, FleetRow, bridge_dsn, filter_options, fleet_table


def render(ctx: AppContext) -> None:
    dsn = bridge_dsn(ctx.config)
    if dsn is None:
        st.info(
            "The fleet is read from the bridge's Postgres: set "
            f"{DSN_ENV} (or bridge.dsn in projects.yaml) to the database the bridge writes."
        )
        return
    try:
        owner_options, tag_options = filter_options(dsn)
        left, right = st.columns(2)
        owners = left.multiselect("Owner", owner_options, key="fleet_owner", placeholder="every owner")
        tags = right.multiselect("Tag", tag_options, key="fleet_tag", placeholder="every tag")
        rows = fleet_table(dsn, owners=owners, tags=tags)
    except EvmonError as exc:
        st.error(f"Cannot read the fleet: {exc}")
        return
    firing = sum(1 for r in rows if r.alerts)
    st.write(f"{len(rows)} projects, {firing} with alerts firing; the most trouble first.")
    st.dataframe(
        pd.DataFrame([_cells(ctx, r) for r in rows]),
        hide_index=True,
        width="stretch",
        column_config={
            "drift share": st.column_config.NumberColumn(format="percent"),
            "drift 7 days": st.column_config.LineChartColumn(y_min=0.0, y_max=1.0),
            "drift trend": st.column_config.NumberColumn(format="%+.3f"),
            "quality": st.column_config.NumberColumn(format="%.3f"),
            "Days": st.column_config.LinkColumn(display_text="days"),
            "Evidently UI": st.column_config.LinkColumn(display_text="dashboard"),
        },
        key="fleet_table",
    )
    st.caption(
        "Days missing: days from the first daily snapshot to yesterday without one. Drift trend: the newest "
        "share minus the mean of the 7 days before. Quality: the newest realized ROC AUC or R², or the "
        "estimate when it is newer (estimated: yes). Alerts: Grafana's alert rules firing now."
    )


def _cells(ctx: AppContext, r: FleetRow) -> dict[str, object]:
    # the links beside the name: a wide table shows its first columns first
    return {
        "project": r.project,
        "Days": days_view_link(r.project),
        "Evidently UI": ui_project_url(ctx.ui_url, r.project),
        "owner": r.owner,
        "tags": ", ".join(r.tag_labels),
        "alerts": ", ".join(r.alert_titles),
        "last day": r.last_day,
        "status": r.last_status,
        "days missing": r.days_missing,
        "drift share": r.drift_share,
        "drift 7 days": list(r.drift_7d),
        "drift trend": r.drift_trend,
        "quality": r.quality,
        "metric": r.quality_metric,
        "estimated": None if r.quality_estimated is None else "yes" if r.quality_estimated else "no",
        "disparate impact": r.disparate_impact,
        "fairness": "alert" if r.fairness_flag else None,
        "outlier share": r.outlier_share,
        "outliers": "alert" if r.outlier_flag else None,
    }
