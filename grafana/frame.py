"""The frame every evmon dashboard shares: its settings, annotation, links, template variables, panel layout."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.panels import postgres


class _VariableWithDefinition(model.VariableModel):
    """A query variable with its `definition` (the query text Grafana's editor shows), which the SDK's model lacks."""

    definition: str

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {"definition": self.definition}


class QueryVariable(cogbuilder.Builder[model.VariableModel]):
    """A multi-select query variable, "All" selected, its options sorted and fetched by Grafana (`refresh`: when)."""

    def __init__(
        self,
        name: str,
        label: str,
        query: str,
        *,
        description: str,
        datasource: model.DataSourceRef,
        refresh: model.VariableRefresh,
        all_value: str | None = None,
    ) -> None:
        self._builder = (
            dashboard_builders.QueryVariable(name)
            .label(label)
            .datasource(datasource)
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


PROJECTS_SQL = "SELECT name FROM evmon.projects UNION SELECT project FROM evmon.runs ORDER BY 1"


def project_variable() -> QueryVariable:
    """$project of the SQL dashboards: the projects the bridge and the run log know."""
    return QueryVariable(
        "project",
        "Project",
        PROJECTS_SQL,
        description="Projects of projects.yaml (as the bridge and the run log know them). Multi-select.",
        datasource=postgres(),
        refresh=model.VariableRefresh.ON_DASHBOARD_LOAD,
    )


def sql_variable(name: str, label: str, query: str, *, description: str) -> QueryVariable:
    """A variable of the SQL dashboards whose options depend on the time range (and $project)."""
    return QueryVariable(
        name,
        label,
        query,
        description=description,
        datasource=postgres(),
        refresh=model.VariableRefresh.ON_TIME_RANGE_CHANGED,
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
    return sql_variable("column", "Column", query, description=description)


def board(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[QueryVariable],
    panels: Sequence[cogbuilder.Builder[model.Panel]],
    *,
    time_from: str = "now-30d",
    refresh: str = "5m",
    tags: Sequence[str] = (),
) -> model.Dashboard:
    """An evmon dashboard: UTC, shared crosshair, tagged evmon, a drop-down of the other evmon dashboards.

    Its panels are numbered from 1 in order; the SDK's builder places them left to right from the top,
    a new row when one's 24 columns are full (so each row's panels should fill it).
    """
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
    for number, panel in enumerate(panels, 1):
        panel.build().id_val = number
        built.with_panel(panel)
    return built.build()
