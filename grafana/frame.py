"""The frame every evmon dashboard shares: its settings, annotation, links, template variables, panel layout."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.panels import SqlTarget, postgres
from evmon.grafana.ranges import ROLLUP_NOTE

GRID_COLUMNS = 24


class _VariableWithDefinition(model.VariableModel):
    """A query variable with its `definition` (the query text Grafana's editor shows), which the SDK's model lacks."""

    definition: str

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {"definition": self.definition}


class QueryVariable(cogbuilder.Builder[model.VariableModel]):
    """A multi-select query variable, "All" selected, its options sorted and fetched by Grafana when `refresh`
    says: by default a variable of the SQL dashboards whose options depend on the time range (and $project)."""

    def __init__(
        self,
        name: str,
        label: str,
        query: str,
        description: str,
        datasource: model.DataSourceRef | None = None,
        refresh: model.VariableRefresh = model.VariableRefresh.ON_TIME_RANGE_CHANGED,
        all_value: str | None = None,
    ) -> None:
        self._builder = (
            dashboard_builders.QueryVariable(name)
            .label(label)
            .datasource(datasource or postgres())
            .description(description)
            .query(query)
            .refresh(refresh)
            .multi(True)
            .include_all(True)
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .options([])
            .sort(model.VariableSort.ALPHABETICAL_ASC)
            .hide(model.VariableHide.DONT_HIDE)
            .regex("")
        )
        if all_value is not None:
            self._builder.all_value(all_value)
        self._definition = query

    def build(self) -> model.VariableModel:
        variable = _VariableWithDefinition(**vars(self._builder.build()))
        variable.definition = self._definition
        return variable


def project_variable() -> QueryVariable:
    """$project of the SQL dashboards: the projects the bridge and the run log know."""
    return QueryVariable(
        "project",
        "Project",
        "SELECT name FROM evmon.projects UNION SELECT project FROM evmon.runs ORDER BY 1",
        "Projects of projects.yaml (as the bridge and the run log know them). Multi-select.",
        refresh=model.VariableRefresh.ON_DASHBOARD_LOAD,
    )


def column_variable(metric_type: str, description: str) -> QueryVariable:
    """$column: the columns with a `metric_type` value in the newest daily snapshot of each selected project."""
    query = f"""SELECT DISTINCT v."column"
FROM (SELECT DISTINCT ON (s.project) s.snapshot_id
      FROM evmon.snapshots s
      WHERE s.project = ANY(ARRAY[$project]::text[]) AND s.kind = 'daily' AND $__timeFilter(s."timestamp")
      ORDER BY s.project, s."timestamp" DESC) l
JOIN evmon.metric_values v ON v.snapshot_id = l.snapshot_id
WHERE v.metric_type = '{metric_type}'
ORDER BY 1
"""
    return QueryVariable("column", "Column", query, description)


def board(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[QueryVariable],
    grid: Sequence[tuple[int, ...]],
    panels: Sequence[cogbuilder.Builder[model.Panel]],
    *,
    time_from: str = "now-30d",
    refresh: str = "5m",
    tags: Sequence[str] = (),
) -> model.Dashboard:
    """An evmon dashboard: UTC, shared crosshair, tagged evmon, a drop-down of the other evmon dashboards.

    `grid` is its layout, a row per tuple: the row's height, then the width of each of its panels (of 24
    columns, which they fill); the panels fill it in order, numbered from 1 (the SDK's builder places them).
    A panel whose query is a Daily or Binned specification (it reads the rollups over long ranges) says so in
    its description.
    """
    cells = [(width, row[0]) for row in grid for width in row[1:]]
    if len(cells) != len(panels) or any(sum(row[1:]) != GRID_COLUMNS for row in grid):
        raise ValueError(f"{uid}: {len(panels)} panels in a grid of {len(cells)} ({grid})")
    built = (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["evmon", *tags])
        .timezone("utc")
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .live_now(False)
        .refresh(refresh)
        .version(1)
        .fiscal_year_start_month(0)
        .week_start("")
        .time(time_from, "now")
        .annotation(
            dashboard_builders.AnnotationQuery()
            .built_in(1)
            .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .name("Annotations & Alerts")
            .type("dashboard")
        )
        .link(
            dashboard_builders.DashboardLink("evmon dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["evmon"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
            .icon("external link")
            .target_blank(False)
            .tooltip("")
            .url("")
        )
    )
    for variable in variables:
        built.with_variable(variable)
    for number, (panel, (width, height)) in enumerate(zip(panels, cells, strict=True), 1):
        built_panel = panel.build()
        built_panel.id_val, built_panel.grid_pos = number, model.GridPos(h=height, w=width)
        if any(isinstance(t, SqlTarget) and t.rolled for t in built_panel.targets or []):
            built_panel.description = (built_panel.description or "") + ROLLUP_NOTE
        built.with_panel(panel)
    return built.build()
