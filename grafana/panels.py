"""The typed pieces every evmon dashboard shares: datasources, query targets, panel kinds, table columns.

Each panel kind starts from evmon's look (legend, tooltip, colours, reducers), so a dashboard's list of
panels says only what differs: each panel's title, query, unit and thresholds, then its description
(the SDK's .description()). A query is SQL, a Daily or Binned specification of a time series over metric
values (ranges.py), or a PromQL target (promql()).
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

from evmon.grafana.ranges import Binned, Daily

Format = Literal["time_series", "table"]
Target = cogbuilder.Builder[cogvariants.Dataquery]
Query = str | Daily | Binned | Target
Thresholds = dashboard_builders.ThresholdsConfig
Step = tuple[float, str]  # a threshold step: from this value on, this colour
States = Mapping[str, tuple[str | None, str]]  # a value -> its text (None: keep it) and colour


def postgres() -> model.DataSourceRef:
    return model.DataSourceRef(type_val="grafana-postgresql-datasource", uid="evmon-pg")  # grafana/provisioning


def prometheus() -> model.DataSourceRef:
    return model.DataSourceRef(type_val="prometheus", uid="evmon-prometheus")


class SqlTarget(cogvariants.Dataquery, cogbuilder.Builder[cogvariants.Dataquery]):
    """A panel's SQL, run as written (Grafana expands its macros and variables first).

    The SDK has no Postgres query type: this is its JSON. One built from a Daily or Binned specification reads
    the rollups over long ranges (`rolled`); a Binned one aggregates per $__interval (`binned`).
    """

    def __init__(self, query: str | Daily | Binned, fmt: Format) -> None:
        self.raw_sql = query if isinstance(query, str) else query.sql()
        self.format, self.rolled, self.binned = fmt, not isinstance(query, str), isinstance(query, Binned)

    def build(self) -> Self:
        return self

    def to_json(self) -> dict[str, object]:
        return {
            "refId": "A",
            "datasource": postgres(),
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
        }


def promql(expr: str, legend: str = "{{project}}", *, instant: bool = True) -> prometheus_builders.Dataquery:
    """A PromQL target: an instant query (each series' newest value) or a range query (a line over time)."""
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


def thresholds(base: str, *steps: Step) -> Thresholds:
    """Absolute thresholds: `base` colour below the first step, then each (value, colour)."""
    colors = [model.Threshold(value=None, color=base), *(model.Threshold(value=v, color=c) for v, c in steps)]
    return dashboard_builders.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(colors)


def value_colors(options: States) -> list[model.ValueMapping]:
    """One value mapping: each value to (its text, or None to keep it; its colour), indexed in order."""
    results = {v: model.ValueMappingResult(text=t, color=c, index=i) for i, (v, (t, c)) in enumerate(options.items())}
    return [model.ValueMap(options=results)]


def organize(columns: Sequence[str]) -> model.DataTransformerConfig:
    """The `organize` transformation that puts a table's columns in this order."""
    index = {name: i for i, name in enumerate(columns)}
    return model.DataTransformerConfig(
        "organize", options={"excludeByName": {}, "indexByName": index, "renameByName": {}}
    )


class _Panel(Protocol):
    """What every panel builder of the SDK has."""

    def title(self, title: str, /) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef, /) -> Self: ...
    def targets(self, targets: list[Target], /) -> Self: ...
    def interval(self, interval: str, /) -> Self: ...
    def max_data_points(self, max_data_points: float, /) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[model.ThresholdsConfig], /) -> Self: ...


class _ValuePanel(_Panel, Protocol):
    """A stat, gauge or bar gauge builder: values coloured by thresholds."""

    def unit(self, unit: str, /) -> Self: ...
    def decimals(self, decimals: float, /) -> Self: ...
    def color_scheme(self, color: cogbuilder.Builder[model.FieldColor], /) -> Self: ...
    def reduce_options(self, options: cogbuilder.Builder[common.ReduceDataOptions], /) -> Self: ...
    def with_transformation(self, transformation: model.DataTransformerConfig, /) -> Self: ...


P = TypeVar("P", bound=_Panel)
V = TypeVar("V", bound=_ValuePanel)


def _panel(panel: P, title: str, queries: Sequence[Query], fmt: Format, colors: Thresholds) -> P:
    """The panel's title, datasource, targets (PromQL ones lettered A, B, ... in order) and thresholds; a
    binned time series shows at most 50 points of at least a day."""
    targets = [q if isinstance(q, cogbuilder.Builder) else SqlTarget(q, fmt) for q in queries]
    for i, target in enumerate(targets):
        if isinstance(target, prometheus_builders.Dataquery):
            target.ref_id(chr(ord("A") + i))
    source = prometheus() if isinstance(targets[0], prometheus_builders.Dataquery) else postgres()
    panel = panel.title(title).datasource(source).targets(targets)
    if any(isinstance(t, SqlTarget) and t.binned for t in targets):
        panel = panel.interval("1d").max_data_points(50)
    return panel.thresholds(colors)


def _colored(by: model.FieldColorModeId) -> dashboard_builders.FieldColor:
    return dashboard_builders.FieldColor().mode(by)


def _legend() -> common_builders.VizLegendOptions:
    legend = common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
    return legend.placement(common.LegendPlacement.BOTTOM).show_legend(True)


def time_series(
    title: str,
    query: Query | list[Target],
    unit: str = "none",
    *,
    style: Literal["line", "bars", "stacked bars", "points"] = "line",
    marks: Thresholds | None = None,
    lines: bool | None = None,
    colors: Mapping[str, str] | None = None,
    regexp: bool = False,
    limits: tuple[float | None, float | None] = (None, None),
    decimals: int | None = None,
) -> timeseries.Panel:
    """Lines of 2 px with a light fill, soft minimum 0, all series in the tooltip (largest first).

    Bars: whole numbers, 80% fill (stacked: on each other). Points: each value a dot. `marks`: thresholds,
    drawn as lines; `lines=False` says explicitly not to draw them. `colors`: a series (by name, or by
    regular expression) in one colour. `limits`: the axis's min and max (None: from the data).
    """
    stacking = common.StackingMode.NORMAL if style == "stacked bars" else common.StackingMode.NONE
    tooltip = (
        common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
    )
    queries = query if isinstance(query, list) else [query]
    panel = (
        _panel(timeseries.Panel(), title, queries, "time_series", marks or thresholds("green"))
        .unit(unit)
        .color_scheme(_colored(model.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(2)
        .fill_opacity(10)
        .point_size(5)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(False)
        .axis_soft_min(0)
        .stacking(common_builders.StackingConfig().mode(stacking).group("A"))
        .legend(_legend())
        .tooltip(tooltip)
    )
    if marks or lines is not None:
        drawn = common.GraphThresholdsStyleMode.LINE if marks or lines else common.GraphThresholdsStyleMode.OFF
        panel.thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(drawn))
    if style in ("bars", "stacked bars"):
        panel.decimals(0).draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    elif style == "points":
        panel.draw_style(common.GraphDrawStyle.POINTS)
    for name, color in (colors or {}).items():
        fixed = [model.DynamicConfigValue("color", model.FieldColor(model.FieldColorModeId.FIXED, color))]
        (panel.override_by_regexp if regexp else panel.override_by_name)(name, fixed)
    for value, setting in ((decimals, panel.decimals), (limits[0], panel.min), (limits[1], panel.max)):
        if value is not None:
            setting(value)
    return panel


@dataclass(frozen=True)
class Scale:
    """How a stat, gauge or bar gauge shows its values: unit, decimals and colours (thresholds())."""

    unit: str
    decimals: int
    colors: Thresholds


def scale(unit: str, decimals: int, base: str, *steps: Step) -> Scale:
    """A Scale coloured `base` below the first step, then each (value, colour)."""
    return Scale(unit, decimals, thresholds(base, *steps))


def _values(panel: V, title: str, query: Query, values: Scale, columns: Sequence[str]) -> V:
    """Values coloured by the thresholds: one per row, in `columns` order (a SQL table), or one per series."""
    reduce = common_builders.ReduceDataOptions().values(bool(columns)).calcs(["lastNotNull"]).fields("")
    panel = (
        _panel(panel, title, [query], "table", values.colors)
        .unit(values.unit)
        .decimals(values.decimals)
        .color_scheme(_colored(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(reduce)
    )
    return panel.with_transformation(organize(columns)) if columns else panel


def stat_panel(
    title: str, query: Query, values: Scale, columns: Sequence[str] = (), *, show_names: bool = True
) -> stat.Panel:
    """Big numbers on a background coloured by the thresholds, no sparkline."""
    return (
        _values(stat.Panel(), title, query, values, columns)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME if show_names else common.BigValueTextMode.VALUE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .wide_layout(True)
    )


def gauge_panel(title: str, query: Query, values: Scale) -> gauge.Panel:
    """A 0..1 gauge per series with its threshold markers."""
    return (
        _values(gauge.Panel(), title, query, values, ())
        .min(0)
        .max(1)
        .orientation(common.VizOrientation.AUTO)
        .show_threshold_labels(False)
        .show_threshold_markers(True)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(75)
        .min_viz_width(75)
    )


def bar_gauge(title: str, query: Query, values: Scale, columns: Sequence[str] = ()) -> bargauge.Panel:
    """Horizontal bars from 0, coloured by the thresholds."""
    return (
        _values(bargauge.Panel(), title, query, values, columns)
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


def state_timeline(title: str, query: Query, zero: tuple[str, str], one: tuple[str, str]) -> statetimeline.Panel:
    """A row per series of its two states, 0 and 1 (each a (text, colour)), equal neighbours merged."""
    return (
        _panel(statetimeline.Panel(), title, [query], "time_series", thresholds(zero[1], (1, one[1])))
        .fill_opacity(80)
        .line_width(0)
        .mappings(value_colors({"0": zero, "1": one}))
        .color_scheme(_colored(model.FieldColorModeId.THRESHOLDS))
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.8)
        .align_value(common.TimelineValueAlignment.LEFT)
        .legend(_legend())
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.SINGLE).sort(common.SortOrder.NONE))
    )


@dataclass(frozen=True)
class Column:
    """A table column: its header, unit, decimals, and optionally colours by thresholds or by value."""

    name: str
    header: str
    unit: str | None = None
    decimals: int | None = None
    steps: tuple[Step, ...] = ()
    base: str = "green"
    cell: Literal["color-text", "color-background"] | None = None
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


def columns(unit: str | None = None, decimals: int | None = None, **headers: str) -> list[Column]:
    """Columns alike but for their names and headers, in order: columns("none", 3, mean="Mean", std="Std")."""
    return [Column(name, header, unit, decimals) for name, header in headers.items()]


def table_panel(title: str, query: Query, columns: Sequence[Column]) -> table.Panel:
    """A table of `columns` in their order, each with its header and unit; no footer."""
    panel = (
        _panel(table.Panel(), title, [query], "table", thresholds("green"))
        .align(common.FieldTextAlignment.AUTO)
        .cell_options(common.TableAutoCellOptions())
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .footer(common_builders.TableFooterOptions().show(False).reducer(["sum"]))
        .with_transformation(organize([c.name for c in columns]))
    )
    for column in columns:
        panel.override_by_name(column.name, column.properties())
    return panel
