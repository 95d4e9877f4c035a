"""The typed pieces every evmon dashboard shares: datasources, query targets, panel kinds, table columns.

Each panel kind starts from evmon's look (legend, tooltip, colours, reducers) so a dashboard module
only says what differs: its query, position, unit and thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import bargauge, gauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from evmon.grafana.ranges import ROLLUP_NOTE, reads_rollups

POSTGRES_TYPE = "grafana-postgresql-datasource"
POSTGRES_UID = "evmon-pg"  # pinned in grafana/provisioning/datasources
PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "evmon-prometheus"

Format = Literal["time_series", "table"]
Target = cogbuilder.Builder[cogvariants.Dataquery]
Step = tuple[float, str]  # a threshold step: from this value on, this colour


def postgres() -> model.DataSourceRef:
    return model.DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)


def prometheus() -> model.DataSourceRef:
    return model.DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


class SqlQuery(cogvariants.Dataquery):
    """A raw-SQL target of the Postgres datasource (the SDK has no Postgres query type: this is its JSON)."""

    def __init__(self, raw_sql: str, fmt: Format, ref_id: str) -> None:
        self.raw_sql = raw_sql
        self.format = fmt
        self.ref_id = ref_id

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": postgres(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }


class SqlTarget(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, raw_sql: str, fmt: Format, ref_id: str) -> None:
        self._query = SqlQuery(raw_sql, fmt, ref_id)

    def build(self) -> SqlQuery:
        return self._query


def sql(raw_sql: str, fmt: Format = "time_series", ref_id: str = "A") -> SqlTarget:
    """A panel's SQL, run as written (Grafana expands its macros and variables first)."""
    return SqlTarget(raw_sql, fmt, ref_id)


def promql(expr: str, legend: str, *, instant: bool, ref_id: str = "A") -> prometheus_builders.Dataquery:
    """A PromQL target: an instant query (the newest value) or a range query (a line over time)."""
    query = (
        prometheus_builders.Dataquery()
        .ref_id(ref_id)
        .datasource(prometheus())
        .editor_mode(prometheus_model.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend)
        .format(prometheus_model.PromQueryFormat.TIME_SERIES)
    )
    return query.instant() if instant else query.range()


def _datasource_of(targets: Sequence[Target]) -> model.DataSourceRef:
    """A panel's datasource: Prometheus for PromQL targets, else Postgres."""
    return prometheus() if isinstance(targets[0], prometheus_builders.Dataquery) else postgres()


def _described(description: str, targets: Sequence[Target]) -> str:
    """A panel's description, saying how long ranges are shown when its query reads the rollups."""
    rolled = any(isinstance(t, SqlTarget) and reads_rollups(t.build().raw_sql) for t in targets)
    return description + ROLLUP_NOTE if rolled else description


def at(x: int, y: int, w: int, h: int) -> model.GridPos:
    """A panel's place on the 24-column grid."""
    return model.GridPos(x=x, y=y, w=w, h=h)


def thresholds(base: str, *steps: Step) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds: `base` colour below the first step, then each (value, colour)."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=None, color=base), *(model.Threshold(value=v, color=c) for v, c in steps)])
    )


def value_colors(options: Mapping[str, tuple[str | None, str]]) -> list[model.ValueMapping]:
    """One value mapping: each value to (its text, or None to keep it; its colour), indexed in order."""
    results = {
        value: model.ValueMappingResult(text=text, color=color, index=i)
        for i, (value, (text, color)) in enumerate(options.items())
    }
    return [model.ValueMap(options=results)]


def fixed_color(color: str) -> list[model.DynamicConfigValue]:
    """The properties of an override that paints the matched series one colour."""
    return [model.DynamicConfigValue(id_val="color", value=model.FieldColor(model.FieldColorModeId.FIXED, color))]


def organize(columns: Sequence[str]) -> model.DataTransformerConfig:
    """The `organize` transformation that puts a table's columns in this order."""
    index = {name: i for i, name in enumerate(columns)}
    return model.DataTransformerConfig(
        id_val="organize", options={"excludeByName": {}, "indexByName": index, "renameByName": {}}
    )


def _color_mode(mode: model.FieldColorModeId) -> dashboard_builders.FieldColor:
    return dashboard_builders.FieldColor().mode(mode)


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
    )


def _reduce(values: bool) -> common_builders.ReduceDataOptions:
    """Reduce each series (values=False) or show each row (values=True) to its last non-null value."""
    return common_builders.ReduceDataOptions().values(values).calcs(["lastNotNull"]).fields("")


def time_series(
    panel_id: int,
    title: str,
    pos: model.GridPos,
    *targets: Target,
    description: str,
    unit: str,
) -> timeseries.Panel:
    """Lines of 2 px with a light fill, soft minimum 0, all series in the tooltip (largest first)."""
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .title(title)
        .description(_described(description, targets))
        .grid_pos(pos)
        .datasource(_datasource_of(targets))
        .unit(unit)
        .color_scheme(_color_mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(thresholds("green"))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(2)
        .fill_opacity(10)
        .point_size(5)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(False)
        .axis_soft_min(0)
        .stacking(stacking(common.StackingMode.NONE))
        .legend(_legend())
        .tooltip(
            common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
    )
    return panel.targets(list(targets))


def stacking(mode: common.StackingMode) -> common_builders.StackingConfig:
    return common_builders.StackingConfig().mode(mode).group("A")


def threshold_lines(show: bool) -> common_builders.GraphThresholdsStyleConfig:
    """Draw the thresholds on a time series as lines, or explicitly not."""
    mode = common.GraphThresholdsStyleMode.LINE if show else common.GraphThresholdsStyleMode.OFF
    return common_builders.GraphThresholdsStyleConfig().mode(mode)


def stat_panel(
    panel_id: int,
    title: str,
    pos: model.GridPos,
    target: Target,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
    rows: bool,
    show_names: bool = True,
) -> stat.Panel:
    """Big numbers on a background coloured by the thresholds, no sparkline; one per row (rows=True) or series."""
    text_mode = common.BigValueTextMode.VALUE_AND_NAME if show_names else common.BigValueTextMode.VALUE
    return (
        stat.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(pos)
        .datasource(_datasource_of([target]))
        .unit(unit)
        .decimals(decimals)
        .thresholds(steps)
        .color_scheme(_color_mode(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(_reduce(rows))
        .orientation(common.VizOrientation.AUTO)
        .text_mode(text_mode)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .wide_layout(True)
        .with_target(target)
    )


def gauge_panel(
    panel_id: int,
    title: str,
    pos: model.GridPos,
    target: Target,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
) -> gauge.Panel:
    """A 0..1 gauge per series with its threshold markers."""
    return (
        gauge.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(pos)
        .datasource(_datasource_of([target]))
        .unit(unit)
        .min(0)
        .max(1)
        .decimals(decimals)
        .thresholds(steps)
        .color_scheme(_color_mode(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(_reduce(False))
        .orientation(common.VizOrientation.AUTO)
        .show_threshold_labels(False)
        .show_threshold_markers(True)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(75)
        .min_viz_width(75)
        .with_target(target)
    )


def bar_gauge(
    panel_id: int,
    title: str,
    pos: model.GridPos,
    target: Target,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
    rows: bool,
) -> bargauge.Panel:
    """Horizontal bars from 0, coloured by the thresholds; one per row (rows=True) or series."""
    return (
        bargauge.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(pos)
        .datasource(_datasource_of([target]))
        .unit(unit)
        .min(0)
        .decimals(decimals)
        .thresholds(steps)
        .color_scheme(_color_mode(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(_reduce(rows))
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(common.BarGaugeNamePlacement.AUTO)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(10)
        .min_viz_width(0)
        .max_viz_height(300)
        .with_target(target)
    )


def state_timeline(
    panel_id: int,
    title: str,
    pos: model.GridPos,
    target: Target,
    *,
    description: str,
    states: Mapping[str, tuple[str | None, str]],
    steps: dashboard_builders.ThresholdsConfig,
) -> statetimeline.Panel:
    """One row of coloured states per series, equal neighbours merged; `states` maps values to text and colour."""
    return (
        statetimeline.Panel()
        .id(panel_id)
        .title(title)
        .description(_described(description, [target]))
        .grid_pos(pos)
        .datasource(postgres())
        .fill_opacity(80)
        .line_width(0)
        .mappings(value_colors(states))
        .thresholds(steps)
        .color_scheme(_color_mode(model.FieldColorModeId.THRESHOLDS))
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.8)
        .align_value(common.TimelineValueAlignment.LEFT)
        .legend(_legend())
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.SINGLE).sort(common.SortOrder.NONE))
        .with_target(target)
    )


CellType = Literal["color-text", "color-background"]


@dataclass(frozen=True)
class Column:
    """A table column: its header, unit, decimals, and optionally colours by thresholds or by value."""

    name: str
    header: str
    unit: str | None = None
    decimals: int | None = None
    steps: tuple[Step, ...] = ()
    base: str = "green"
    cell: CellType | None = None
    values: Mapping[str, tuple[str | None, str]] | None = None

    def properties(self) -> list[model.DynamicConfigValue]:
        out = [model.DynamicConfigValue(id_val="displayName", value=self.header)]
        if self.unit is not None:
            out.append(model.DynamicConfigValue(id_val="unit", value=self.unit))
        if self.decimals is not None:
            out.append(model.DynamicConfigValue(id_val="decimals", value=self.decimals))
        if self.steps:
            out.append(model.DynamicConfigValue(id_val="thresholds", value=thresholds(self.base, *self.steps).build()))
        if self.values is not None:
            out.append(model.DynamicConfigValue(id_val="mappings", value=value_colors(self.values)))
        if self.cell == "color-text":
            out.append(model.DynamicConfigValue(id_val="custom.cellOptions", value=common.TableColorTextCellOptions()))
        elif self.cell == "color-background":
            cell = common.TableColoredBackgroundCellOptions()
            out.append(model.DynamicConfigValue(id_val="custom.cellOptions", value=cell))
        return out


def table_panel(
    panel_id: int, title: str, pos: model.GridPos, target: Target, *, description: str, columns: Sequence[Column]
) -> table.Panel:
    """A table of `columns` in their order, each with its header and unit; no footer."""
    panel = (
        table.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .grid_pos(pos)
        .datasource(postgres())
        .align(common.FieldTextAlignment.AUTO)
        .cell_options(common.TableAutoCellOptions())
        .thresholds(thresholds("green"))
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .footer(common_builders.TableFooterOptions().show(False).reducer(["sum"]))
        .with_transformation(organize([c.name for c in columns]))
        .with_target(target)
    )
    for column in columns:
        panel.override_by_name(column.name, column.properties())
    return panel
