"""The typed pieces every evmon dashboard shares: datasources, query targets, panel kinds, table columns.

Each panel kind starts from evmon's look (legend, tooltip, colours, reducers) so a dashboard's table of
panels only says what differs: each panel's title, size, query, description, unit and thresholds.
A query is SQL, a Daily or Binned specification (ranges.py), or a PromQL target (promql()).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import bargauge, gauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from evmon.grafana.ranges import ROLLUP_NOTE, Binned, Daily, reads_rollups

POSTGRES_UID = "evmon-pg"  # pinned in grafana/provisioning/datasources
PROMETHEUS_UID = "evmon-prometheus"

Format = Literal["time_series", "table"]
Target = cogbuilder.Builder[cogvariants.Dataquery]
Query = str | Daily | Binned | Target
Step = tuple[float, str]  # a threshold step: from this value on, this colour
Size = tuple[int, int]  # a panel's width (of the grid's 24 columns) and height; frame.board() places it
States = Mapping[str, tuple[str | None, str]]  # a value -> its text (None: keep it) and colour


def postgres() -> model.DataSourceRef:
    return model.DataSourceRef(type_val="grafana-postgresql-datasource", uid=POSTGRES_UID)


def prometheus() -> model.DataSourceRef:
    return model.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)


class SqlQuery(cogvariants.Dataquery):
    """A raw-SQL target of the Postgres datasource (the SDK has no Postgres query type: this is its JSON)."""

    def __init__(self, raw_sql: str, fmt: Format) -> None:
        self.raw_sql = raw_sql
        self.format = fmt

    def to_json(self) -> dict[str, object]:
        return {
            "refId": "A",
            "datasource": postgres(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }


class SqlTarget(cogbuilder.Builder[cogvariants.Dataquery]):
    """A panel's SQL, run as written (Grafana expands its macros and variables first)."""

    def __init__(self, query: str | Daily | Binned, fmt: Format) -> None:
        self.binned = isinstance(query, Binned)
        self._query = SqlQuery(query if isinstance(query, str) else query.sql(), fmt)

    def build(self) -> SqlQuery:
        return self._query


def promql(expr: str, legend: str, *, instant: bool) -> prometheus_builders.Dataquery:
    """A PromQL target: an instant query (the newest value) or a range query (a line over time)."""
    query = (
        prometheus_builders.Dataquery()
        .ref_id("A")
        .datasource(prometheus())
        .editor_mode(prometheus_model.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend)
        .format(prometheus_model.PromQueryFormat.TIME_SERIES)
    )
    return query.instant() if instant else query.range()


class _Panel(Protocol):
    """What every panel builder of the SDK has."""

    def title(self, title: str, /) -> Self: ...
    def description(self, description: str, /) -> Self: ...
    def grid_pos(self, grid_pos: model.GridPos, /) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef, /) -> Self: ...
    def targets(self, targets: list[Target], /) -> Self: ...
    def interval(self, interval: str, /) -> Self: ...
    def max_data_points(self, max_data_points: float, /) -> Self: ...


class _ValuePanel(_Panel, Protocol):
    """A stat, gauge or bar gauge builder: values coloured by thresholds."""

    def unit(self, unit: str, /) -> Self: ...
    def decimals(self, decimals: float, /) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[model.ThresholdsConfig], /) -> Self: ...
    def color_scheme(self, color: cogbuilder.Builder[model.FieldColor], /) -> Self: ...
    def reduce_options(self, options: cogbuilder.Builder[common.ReduceDataOptions], /) -> Self: ...
    def with_transformation(self, transformation: model.DataTransformerConfig, /) -> Self: ...


P = TypeVar("P", bound=_Panel)
V = TypeVar("V", bound=_ValuePanel)


def _panel(panel: P, title: str, size: Size, queries: Sequence[Query], description: str, fmt: Format) -> P:
    """The panel's title, size, datasource and targets (PromQL ones lettered A, B, ... in order); a time series
    that reads the rollups says how, and a binned one shows at most 50 points of at least a day."""
    targets = [q if isinstance(q, cogbuilder.Builder) else SqlTarget(q, fmt) for q in queries]
    for i, target in enumerate(targets):
        if isinstance(target, prometheus_builders.Dataquery):
            target.ref_id(chr(ord("A") + i))
    sqls = [t.build().raw_sql for t in targets if isinstance(t, SqlTarget)]
    if fmt == "time_series" and any(reads_rollups(s) for s in sqls):
        description += ROLLUP_NOTE
    source = prometheus() if isinstance(targets[0], prometheus_builders.Dataquery) else postgres()
    panel = panel.title(title).description(description).grid_pos(model.GridPos(w=size[0], h=size[1]))
    panel = panel.datasource(source).targets(targets)
    binned = any(isinstance(t, SqlTarget) and t.binned for t in targets)
    return panel.interval("1d").max_data_points(50) if binned else panel


def thresholds(base: str, *steps: Step) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds: `base` colour below the first step, then each (value, colour)."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=None, color=base), *(model.Threshold(value=v, color=c) for v, c in steps)])
    )


def value_colors(options: States) -> list[model.ValueMapping]:
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


def _tooltip(mode: common.TooltipDisplayMode, sort: common.SortOrder) -> common_builders.VizTooltipOptions:
    return common_builders.VizTooltipOptions().mode(mode).sort(sort)


def time_series(
    title: str,
    size: Size,
    *queries: Query,
    description: str,
    unit: str,
    style: Literal["line", "bars", "points"] = "line",
    marks: dashboard_builders.ThresholdsConfig | None = None,
) -> timeseries.Panel:
    """Lines of 2 px with a light fill, soft minimum 0, all series in the tooltip (largest first).

    Bars: whole numbers, 80% fill. Points: each value a dot. `marks`: thresholds drawn as lines.
    """
    panel = (
        _panel(timeseries.Panel(), title, size, queries, description, "time_series")
        .unit(unit)
        .color_scheme(_color_mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(marks or thresholds("green"))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(2)
        .fill_opacity(10)
        .point_size(5)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(False)
        .axis_soft_min(0)
        .stacking(stacking(common.StackingMode.NONE))
        .legend(_legend())
        .tooltip(_tooltip(common.TooltipDisplayMode.MULTI, common.SortOrder.DESCENDING))
    )
    if marks:
        panel.thresholds_style(threshold_lines(True))
    if style == "bars":
        panel.decimals(0).draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    elif style == "points":
        panel.draw_style(common.GraphDrawStyle.POINTS)
    return panel


def series_colors(panel: timeseries.Panel, colors: Mapping[str, str], *, regexp: bool = False) -> timeseries.Panel:
    """Paint each series named (or matched by the regular expression) one colour."""
    for name, color in colors.items():
        (panel.override_by_regexp if regexp else panel.override_by_name)(name, fixed_color(color))
    return panel


def stacking(mode: common.StackingMode) -> common_builders.StackingConfig:
    return common_builders.StackingConfig().mode(mode).group("A")


def threshold_lines(show: bool) -> common_builders.GraphThresholdsStyleConfig:
    """Draw the thresholds on a time series as lines, or explicitly not."""
    mode = common.GraphThresholdsStyleMode.LINE if show else common.GraphThresholdsStyleMode.OFF
    return common_builders.GraphThresholdsStyleConfig().mode(mode)


def _values(
    panel: V,
    title: str,
    size: Size,
    query: Query,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
    columns: Sequence[str],
) -> V:
    """Values coloured by the thresholds: one per row, in `columns` order (a SQL table), or one per series."""
    panel = (
        _panel(panel, title, size, [query], description, "table")
        .unit(unit)
        .decimals(decimals)
        .thresholds(steps)
        .color_scheme(_color_mode(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(common_builders.ReduceDataOptions().values(bool(columns)).calcs(["lastNotNull"]).fields(""))
    )
    return panel.with_transformation(organize(columns)) if columns else panel


def stat_panel(
    title: str,
    size: Size,
    query: Query,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
    columns: Sequence[str] = (),
    show_names: bool = True,
) -> stat.Panel:
    """Big numbers on a background coloured by the thresholds, no sparkline."""
    text_mode = common.BigValueTextMode.VALUE_AND_NAME if show_names else common.BigValueTextMode.VALUE
    return (
        _values(stat.Panel(), title, size, query, description, unit, decimals, steps, columns)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(text_mode)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .wide_layout(True)
    )


def gauge_panel(
    title: str,
    size: Size,
    query: Query,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
) -> gauge.Panel:
    """A 0..1 gauge per series with its threshold markers."""
    return (
        _values(gauge.Panel(), title, size, query, description, unit, decimals, steps, ())
        .min(0)
        .max(1)
        .orientation(common.VizOrientation.AUTO)
        .show_threshold_labels(False)
        .show_threshold_markers(True)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(75)
        .min_viz_width(75)
    )


def bar_gauge(
    title: str,
    size: Size,
    query: Query,
    *,
    description: str,
    unit: str,
    decimals: int,
    steps: dashboard_builders.ThresholdsConfig,
    columns: Sequence[str] = (),
) -> bargauge.Panel:
    """Horizontal bars from 0, coloured by the thresholds."""
    return (
        _values(bargauge.Panel(), title, size, query, description, unit, decimals, steps, columns)
        .min(0)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .show_unfilled(True)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(common.BarGaugeNamePlacement.AUTO)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(10)
        .min_viz_width(0)
        .max_viz_height(300)
    )


def state_timeline(
    title: str,
    size: Size,
    query: Query,
    *,
    description: str,
    states: States,
    steps: dashboard_builders.ThresholdsConfig,
) -> statetimeline.Panel:
    """One row of coloured states per series, equal neighbours merged; `states` maps values to text and colour."""
    return (
        _panel(statetimeline.Panel(), title, size, [query], description, "time_series")
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
        .tooltip(_tooltip(common.TooltipDisplayMode.SINGLE, common.SortOrder.NONE))
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
    values: States | None = None

    def properties(self) -> list[model.DynamicConfigValue]:
        out: dict[str, object] = {"displayName": self.header, "unit": self.unit, "decimals": self.decimals}
        if self.steps:
            out["thresholds"] = thresholds(self.base, *self.steps).build()
        if self.values is not None:
            out["mappings"] = value_colors(self.values)
        if self.cell is not None:
            background = self.cell == "color-background"
            cell = common.TableColoredBackgroundCellOptions() if background else common.TableColorTextCellOptions()
            out["custom.cellOptions"] = cell
        return [model.DynamicConfigValue(id_val=k, value=v) for k, v in out.items() if v is not None]


def table_panel(title: str, size: Size, query: Query, *, description: str, columns: Sequence[Column]) -> table.Panel:
    """A table of `columns` in their order, each with its header and unit; no footer."""
    panel = (
        _panel(table.Panel(), title, size, [query], description, "table")
        .align(common.FieldTextAlignment.AUTO)
        .cell_options(common.TableAutoCellOptions())
        .thresholds(thresholds("green"))
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .footer(common_builders.TableFooterOptions().show(False).reducer(["sum"]))
        .with_transformation(organize([c.name for c in columns]))
    )
    for column in columns:
        panel.override_by_name(column.name, column.properties())
    return panel
