"""evmon's Streamlit app: layout only; every number comes from evmon and scheduler.

Run it with `evmon app` (127.0.0.1, headless, telemetry off). EVMON_CONFIG names the
projects.yaml (default ./projects.yaml), EVMON_WORKSPACE overrides its workspace and
EVMON_UI_URL is the Evidently UI to link snapshots to (default http://127.0.0.1:8000); the Fleet
page reads the bridge's Postgres named by EVMON_PG_DSN (or projects.yaml bridge.dsn).
Re-runs and saves need write access (streamlit_app/writes.py); without it the views are read-only.
"""

from __future__ import annotations

import streamlit as st

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is imported)
from evmon.app import view_compare, view_days, view_fleet, view_rerun, view_whatif
from evmon.app.data import follow_link, load_context, project_catalog
from evmon.app.writes import account
from evmon.errors import EvmonError

FLEET = "Fleet"  # every project at once: no project to pick
VIEWS = {
    "Days": view_days.render,
    "Compare two days": view_compare.render,
    "What-if": view_whatif.render,
    "Re-run days": view_rerun.render,
}

st.set_page_config(page_title="evmon", layout="wide")

try:
    ctx = load_context()
except EvmonError as exc:
    st.title("evmon")
    st.error(f"Cannot load the projects: {exc}")
    st.stop()

names = [p.name for p in ctx.config.projects]
follow_link(names, [FLEET, *VIEWS])
with st.sidebar:
    st.title("evmon")
    name = st.selectbox("Project", names, key="project")
    view = st.radio("View", [FLEET, *VIEWS], key="view")
    st.caption(f"Config: `{ctx.config.source_file}`")
    st.caption(f"Workspace: `{ctx.workspace.root}`")
    st.caption(f"Evidently UI: {ctx.ui_url}")
    account()


def project_view(name: str | None, view: str) -> None:
    """One project's view; returns early (not st.stop) so the script also runs bare, outside a server."""
    if name is None:
        st.info("projects.yaml declares no project.")
        return
    project = ctx.config.project(name)
    st.header(f"{project.name}: {view}")
    if project.description:
        st.caption(project.description)
    try:
        snapshots = project_catalog(ctx.workspace, project.name)
    except EvmonError as exc:
        st.error(f"Cannot list the workspace: {exc}")
        return
    VIEWS[view](ctx, project, snapshots)


if view == FLEET:
    st.header(FLEET)
    view_fleet.render(ctx)
else:
    project_view(name, view)
