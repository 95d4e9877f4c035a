"""The one flattening of a snapshot: a parsed snapshot file in, one row per metric value out.

Pure: no I/O, no Evidently import, no Postgres. The bridge stores these rows, the Streamlit
app compares days with them, and tests check them against Evidently's own SQL storage
(``evidently/ui/service/storage/sql/data.py``), which must agree value for value: the same
points (a single value -> 1, count -> 2, mean/std -> 2, by-label -> one per label, a
dataframe -> one per numeric cell), the same metric type, params and value. Unlike
Evidently, evmon keeps params as typed JSON (Evidently stringifies them with ``str``) and
adds the column, label and value kind as their own fields, for SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# bridge/parse.py reads NaN/Infinity literals (which orjson rejects) as these strings
NAN_SENTINELS: dict[str, float] = {"\x00nan": float("nan"), "\x00inf": float("inf"), "\x00-inf": float("-inf")}


class FlattenError(ValueError):
    """A snapshot (or one of its metric results) lacks a key its declared type needs."""


_RESULT_PREFIX = "evidently:metric_result_v2:"
_SKIPPED_METRIC_PARAMS = frozenset({"type", "tests", "count_tests", "share_tests", "mean_tests", "std_tests"})
_warned_types: set[str] = set()
# metric params that tell apart metrics of one type and column: a QuantileValue's quantile, a
# ColumnCount's column type (the dataset-wide ColumnCount has neither: its label stays NULL)
_LABEL_PARAMS = ("quantile", "column_type")
# the params naming a quality metric's task (evmon's segments, or "default" for the whole model)
_SEGMENT_PARAMS = ("classification_name", "regression_name")
# evmon's EstimatedQuality (evmon/evidently/metrics.py) is one SingleValue per value, and Evidently
# resets a SingleValue's location params: its own params name the label (the estimated metric, e.g.
# roc_auc) and the value kind (estimate, lower, upper, empirical_lower, empirical_upper, level, realized,
# gap, inside_band, inside_empirical); evmon's FairnessValue
# (evmon/evidently/fairness.py) likewise: the group (none between groups) and the measure; evmon's
# OutlierQuality (evmon/evidently/outliers.py): the rows (outliers, inliers) and the quality metric (accuracy, mae);
# FeatureAttribution (evmon/evidently/explain.py): the sample (day, reference) and the kind (mean_abs, share,
# share_change); AttributionNdcg: the explainer (tree, linear, permutation)
_LABEL_AND_KIND_PARAMS = {
    "FeatureAttribution": ("sample", "kind"),
    "AttributionNdcg": ("explainer", "value_type"),
    "EstimatedQuality": ("metric", "value_kind"),
    "FairnessValue": ("group", "measure"),
    "OutlierQuality": ("group", "metric"),
}


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One metric value of one snapshot."""

    metric_id: str
    metric_type: str  # short Evidently metric name, e.g. "ValueDrift"
    display_name: str
    column: str | None
    label: str | None
    value_kind: str  # value, count, share, mean, std, or a dataframe's value column
    value: float | None
    params: dict[str, Any]  # the value location's params, then the metric's params (as Evidently)
    segment: str | None = None  # a quality metric's task name: "default" (model-wide) or "<column>=<value>"


@dataclass(frozen=True, slots=True)
class TestRow:
    """One test outcome attached to a metric result."""

    metric_id: str
    test_id: str
    name: str
    description: str
    status: str


def short_type(full: str) -> str:
    """'evidently:metric_v2:ValueDrift' -> 'ValueDrift'."""
    return full.rsplit(":", 1)[-1]


def flatten(snapshot: Mapping[str, Any]) -> list[MetricRow]:
    """Every metric value of a parsed snapshot file, in file order.

    A result of an unknown type is logged once (per type and process) and skipped; a result
    of a known type that lacks a key it needs raises FlattenError naming the metric and key.
    """
    rows: list[MetricRow] = []
    results = snapshot.get("metric_results", {})
    if not isinstance(results, Mapping):
        raise FlattenError(f"metric_results: expected an object of metric results, got {type(results).__name__}")
    for metric_id, result in results.items():
        if not isinstance(result, Mapping):
            raise FlattenError(f"metric_results.{metric_id}: expected an object, got {type(result).__name__}")
        try:
            rows.extend(_result_rows(result))
        except (KeyError, TypeError, AttributeError) as exc:
            what = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            raise FlattenError(
                f"metric_results.{metric_id} ({result.get('type')!r}): not the shape of its type: {what}"
            ) from exc
    return rows


def flatten_tests(snapshot: Mapping[str, Any]) -> list[TestRow]:
    """Every test outcome carried by the snapshot's metric results."""
    rows: list[TestRow] = []
    for metric_id, result in snapshot.get("metric_results", {}).items():
        if not isinstance(result, Mapping):
            continue
        for test in _all_tests(result):
            rows.append(
                TestRow(
                    metric_id=str(metric_id),
                    test_id=str(test.get("id") or test.get("test_id") or ""),
                    name=str(test.get("name", "")),
                    description=str(test.get("description", "")),
                    status=str(test.get("status", "")),
                )
            )
    return rows


def _all_tests(result: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("tests", "count_tests", "share_tests", "mean_tests", "std_tests"):
        for test in result.get(key) or []:
            if isinstance(test, Mapping):
                yield test
    for key in ("count", "share", "mean", "std"):
        nested = result.get(key)
        if isinstance(nested, Mapping):
            yield from _all_tests(nested)


def _result_rows(result: Mapping[str, Any]) -> Iterator[MetricRow]:
    kind = str(result.get("type", "")).removeprefix(_RESULT_PREFIX)
    if kind == "SingleValue":
        yield _row(result)
    elif kind == "CountValue":
        yield from (_row(result[k]) for k in ("count", "share"))
    elif kind == "MeanStdValue":
        yield from (_row(result[k]) for k in ("mean", "std"))
    elif kind == "ByLabelValue":
        yield from (_row(v) for v in result["values"].values())
    elif kind == "ByLabelCountValue":
        yield from (_row(v) for v in result["counts"].values())
        yield from (_row(v) for v in result["shares"].values())
    elif kind == "DataframeValue":
        yield from _dataframe_rows(result)
    elif kind not in _warned_types:
        _warned_types.add(kind)
        log.warning("skipping metric results of unknown type %r (not flattened)", result.get("type"))


def _params(location_param: Mapping[str, Any], metric_params: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: _unsentinel(v) for k, v in location_param.items()}
    for key, value in metric_params.items():
        if key not in _SKIPPED_METRIC_PARAMS:
            params[key] = _unsentinel(value)
    return params


def _unsentinel(value: Any) -> Any:
    if isinstance(value, str) and value in NAN_SENTINELS:
        return NAN_SENTINELS[value]
    return value


def _row(
    value: Mapping[str, Any], location_param: Mapping[str, Any] | None = None, display: str | None = None
) -> MetricRow:
    location = value["metric_value_location"]
    metric = location["metric"]
    metric_params = metric.get("params", {})
    param = location.get("param", {}) if location_param is None else location_param
    params = _params(param, metric_params)
    column = metric_params.get("column", metric_params.get("column_name"))
    label = param.get("label")
    for key in _LABEL_PARAMS:
        if label is None and key in metric_params:
            label = metric_params[key]
    segment = next((metric_params[k] for k in _SEGMENT_PARAMS if metric_params.get(k) is not None), None)
    metric_type = short_type(str(metric_params.get("type", "")))
    value_kind = param.get("value_type", "value")
    if metric_type in _LABEL_AND_KIND_PARAMS:
        label_param, kind_param = _LABEL_AND_KIND_PARAMS[metric_type]
        label, value_kind = metric_params.get(label_param, label), metric_params.get(kind_param, value_kind)
    return MetricRow(
        metric_id=str(metric["metric_id"]),
        metric_type=metric_type,
        display_name=str(display if display is not None else value.get("display_name", "")),
        column=None if column is None else str(column),
        label=None if label is None else str(label),
        value_kind=str(value_kind),
        value=_number(value.get("value")),
        params=params,
        segment=None if segment is None else str(segment),
    )


def _dataframe_rows(result: Mapping[str, Any]) -> Iterator[MetricRow]:
    """A DataframeValue's numeric cells, as Evidently's iter_single_values yields them."""
    frame: Mapping[str, Mapping[str, Any]] = result.get("value") or {}
    numeric = [c for c, cells in frame.items() if _is_numeric_column(cells)]
    labels = [c for c in frame if c not in numeric]
    index = list(next(iter(frame.values()), {}).keys())
    row_labels = {i: ",".join(f"{c}={frame[c].get(i)}" for c in labels) for i in index}
    unique = len(set(row_labels.values())) == len(index)
    for i in index:
        label_values = {c: str(frame[c].get(i)) for c in labels}
        # the label identifies the row: its label columns, or its index where those repeat
        label = row_labels[i] if unique and row_labels[i] else ",".join(filter(None, [f"row={i}", row_labels[i]]))
        for column in numeric:
            param = {"column": column, **label_values}
            row = _row({**result, "value": frame[column].get(i)}, location_param=param, display=column)
            yield MetricRow(
                row.metric_id,
                row.metric_type,
                row.display_name,
                row.column,
                label,
                column,
                row.value,
                row.params,
                row.segment,
            )


def _is_numeric_column(cells: Mapping[str, Any]) -> bool:
    values = [v for v in cells.values() if v is not None]
    return bool(values) and all(
        (isinstance(v, int | float) and not isinstance(v, bool)) or (isinstance(v, str) and v in NAN_SENTINELS)
        for v in values
    )


def _number(value: Any) -> float | None:
    """A value as Evidently stores it: a float (NaN and infinities kept), None if not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value in NAN_SENTINELS:
        return NAN_SENTINELS[value]
    return None
