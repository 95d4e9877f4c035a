"""The dashboard's series from the UI's Postgres, fast: evmon's storage component for `evidently ui`.

Evidently's `SQLDataStorage.get_data_series` (evidently/ui/service/storage/sql/data.py) selects every
point of the project joined with its snapshot, filters metric type and labels in Python, builds a
pydantic `SeriesSource` per point, and does all of it synchronously inside the async handler: at
1,095 days one request takes seconds and every other request of the UI waits behind it.

`EvmonSQLStorageComponent` is Evidently's own SQL storage component (`storage: {type: sql}`) with one
difference: its project manager's data storage is `FastSQLDataStorage`. The UI's config names it by
class path (`type: evmon.evidently.fast_series.EvmonSQLStorageComponent`, allowed by
`EVIDENTLY_TYPE_PREFIXES=evmon.`); no file of Evidently's is changed, and the stock `type: sql` still
works on the same database. (A `data:` section alone would not do: the SQL project manager builds its
own `SQLDataStorage` and never asks for the `data_storage` dependency.)

`FastSQLDataStorage.get_data_series` answers the same `SeriesResponse`, value for value:
- in SQL: the project, the time range, the filters' metric types and labels (`params::jsonb @>`), in
  the order Evidently sorts (snapshot timestamp, id), with the points index evmon's UI migration adds
  (evmon.evidently.ui_migrations);
- in Python, per row, only Evidently's exact matching rules on rows SQL already narrowed (the label
  test on normalised params, tags, metadata, the first matching filter's index), one model per
  snapshot and per series, never per point (`construct`: the values are floats from the database);
- off the event loop (`anyio.to_thread.run_sync`): other requests are served while a series is built.

A quirk kept on purpose: Evidently lists a snapshot as a source when one of its points passes its
looser first test (a filter's labels not a strict superset of the point's params) even if no point of
it passes the label test. When a filter has labels, a second query finds those snapshots, so the
sources (and each value's position) are the same as Evidently's.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

import anyio.to_thread
from evidently._pydantic_compat import PrivateAttr
from evidently.ui.service.base import Series, SeriesFilter, SeriesResponse, SeriesSource
from evidently.ui.service.managers.projects import ProjectManager
from evidently.ui.service.storage.common import NoopAuthManager
from evidently.ui.service.storage.sql.components import SQLStorageComponent
from evidently.ui.service.storage.sql.data import SQLDataStorage
from evidently.ui.service.storage.sql.utils import create_sql_project_manager
from sqlalchemy import Engine, text

T = TypeVar("T")
COMPONENT = "evmon.evidently.fast_series.EvmonSQLStorageComponent"
TYPE_PREFIX = "evmon."  # what EVIDENTLY_TYPE_PREFIXES must allow for the UI to import COMPONENT

Params = dict[str, str]
Passes = tuple[bool, ...]  # for each filter: whether a snapshot's tags and metadata pass it


def _normalized(params: dict[str, Any]) -> Params:
    """Evidently's _normalize_params: None and "None" values left out."""
    return {k: v for k, v in params.items() if v is not None and v != "None"}


def _passes(filters: Sequence[SeriesFilter], tags: list[str], metadata: dict[str, Any]) -> Passes:
    """Evidently's tests of a snapshot's tags and metadata, each filter's once per snapshot."""
    if not any(f.tags or f.metadata for f in filters):
        return (True,) * len(filters)
    have = set(tags)
    return tuple(set(f.tags) <= have and f.metadata.items() <= metadata.items() for f in filters)


def _first_strict(filters: Sequence[SeriesFilter], metric: str, params: Params, passes: Passes) -> int | None:
    """Evidently's _find_filter_index."""
    for index, f in enumerate(filters):
        if passes[index] and f.metric in ("*", metric) and f.metric_labels.items() <= params.items():
            return index
    return None


def _loose(filters: Sequence[SeriesFilter], metric: str, params: Params, passes: Passes) -> bool:
    """Evidently's first test in get_data_series (note `<`: labels a strict superset of the params fail)."""
    return any(
        passes[i] and f.metric in ("*", metric) and not (params.items() < f.metric_labels.items())
        for i, f in enumerate(filters)
    )


class _Snapshot(NamedTuple):
    id: Any
    source: dict[str, Any]  # what SeriesSource(...).dict() gives
    passes: Passes


def _source(sid: Any, timestamp: datetime.datetime, tags: list[Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """SeriesSource(...).dict() without the model when nothing needs coercing (evmon writes strings)."""
    if all(isinstance(t, str) for t in tags) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        return {"snapshot_id": sid, "timestamp": timestamp, "tags": tags, "metadata": metadata}
    return SeriesSource(snapshot_id=sid, timestamp=timestamp, tags=tags, metadata=metadata).dict()


class PreparedSeriesResponse(SeriesResponse):
    """A SeriesResponse whose dict() (what the UI's server encodes) was built in the worker thread from
    plain dicts: the event loop only encodes it (msgspec), never walks a model per source or per series."""

    _prepared: dict[str, Any] = PrivateAttr(default_factory=dict)

    def dict(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("include") or kwargs.get("exclude") or not self._prepared:
            return super().dict(**kwargs)
        return self._prepared


def _where(filters: Sequence[SeriesFilter], binds: dict[str, Any], strict: bool) -> str:
    """The filters' metric types and (strict) labels as SQL: a superset of what Evidently keeps."""
    parts = []
    for index, f in enumerate(filters):
        conds = []
        if f.metric != "*":
            conds.append(f"p.metric_type = :m{index}")
            binds[f"m{index}"] = f.metric
        if strict and f.metric_labels:
            conds.append(f"p.params::jsonb @> CAST(:l{index} AS jsonb)")
            binds[f"l{index}"] = json.dumps(f.metric_labels)
        if not conds:
            return "TRUE"
        parts.append("(" + " AND ".join(conds) + ")")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


class _Params:
    """Each distinct params text parsed once per request (a few hundred, against 100k points)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[Params, str]] = {}

    def __call__(self, metric: str, raw: str | None) -> tuple[Params, str]:
        key = f"{metric}\x00{raw}"
        found = self.seen.get(key)
        if found is None:
            params = _normalized(json.loads(raw) if raw else {})
            series_id = metric + ":" + ",".join(f"{k}={v}" for k, v in params.items())
            found = self.seen[key] = (params, series_id)
        return found


def data_series(
    engine: Engine,
    project_id: Any,
    filters: Sequence[SeriesFilter],
    start: datetime.datetime | None,
    end: datetime.datetime | None,
) -> SeriesResponse:
    """What SQLDataStorage.get_data_series answers, computed with the filtering in SQL (synchronous).

    The points come grouped by (metric type, params), each group's snapshots as their position in
    Evidently's order (timestamp, id) and its values as arrays, so Python touches each distinct series
    once and each point only to place its value."""
    binds: dict[str, Any] = {"pid": project_id}
    when = ""
    if start is not None:
        when += " AND s.timestamp >= :start"
        binds["start"] = start
    if end is not None:
        when += " AND s.timestamp <= :end"
        binds["end"] = end
    snaps_sql = (
        f"SELECT s.id, s.timestamp, s.tags, s.metadata_json FROM snapshots s WHERE s.project_id = :pid{when} "
        "ORDER BY s.timestamp, s.id"
    )
    ranked = (
        "WITH sn AS (SELECT s.id, row_number() OVER (ORDER BY s.timestamp, s.id) - 1 AS n FROM snapshots s "
        f"WHERE s.project_id = :pid{when}) "
    )
    order = "ORDER BY sn.n, p.id"
    points_sql = ranked + (
        f"SELECT p.metric_type, p.params::text, array_agg(sn.n {order}), array_agg(p.id {order}), "
        f"array_agg(p.value {order}) FROM points p JOIN sn ON sn.id = p.snapshot_id "
        f"WHERE p.project_id = :pid AND {_where(filters, binds, True)} GROUP BY 1, 2"
    )
    parse = _Params()
    with engine.connect() as conn:
        snaps: list[_Snapshot] = []
        for sid, moment, tags_, meta_ in conn.execute(text(snaps_sql), binds):
            tags, meta = list(tags_ or []), dict(meta_ or {})
            snaps.append(_Snapshot(sid, _source(sid, moment, tags, meta), _passes(filters, tags, meta)))
        groups = conn.execute(text(points_sql), binds).all()
        loose_sources: set[int] = set()
        if any(f.metric_labels for f in filters):  # snapshots Evidently lists though none of their points passes
            loose_sql = ranked + (
                "SELECT DISTINCT sn.n, p.metric_type, p.params::text FROM points p JOIN sn ON sn.id = p.snapshot_id "
                f"WHERE p.project_id = :pid AND {_where(filters, binds, False)}"
            )
            for n, metric, raw in conn.execute(text(loose_sql), binds):
                if n not in loose_sources and _loose(filters, metric, parse(metric, raw)[0], snaps[n].passes):
                    loose_sources.add(n)
    return _collect(filters, snaps, groups, loose_sources, parse)


Entry = tuple[int, int, float, int]  # (snapshot position, point id, value, filter index)


def _collect(
    filters: Sequence[SeriesFilter],
    snaps: list[_Snapshot],
    groups: Sequence[Any],
    loose_sources: set[int],
    parse: _Params,
) -> SeriesResponse:
    """Evidently's _collect_series over the narrowed points: sources in order, values at their source's index,
    each series' filter index from its first point, the series in the order their first points come."""
    uniform = all(snap.passes == snaps[0].passes for snap in snaps)  # no filter on tags or metadata: usual
    index_of: dict[tuple[str, str, Passes], int | None] = {}

    def first(metric: str, series_id: str, params: Params, passes: Passes) -> int | None:
        key = (metric, series_id, passes)
        if key not in index_of:
            index_of[key] = _first_strict(filters, metric, params, passes)
        return index_of[key]

    entries: dict[str, list[Entry]] = {}
    described: dict[str, tuple[str, Params]] = {}
    merged: set[str] = set()
    for metric, raw, positions, ids, numbers in groups:
        params, series_id = parse(metric, raw)
        if uniform:
            found = first(metric, series_id, params, snaps[0].passes)
            kept = [] if found is None else [(n, i, v, found) for n, i, v in zip(positions, ids, numbers, strict=True)]
        else:
            kept = []
            for n, i, v in zip(positions, ids, numbers, strict=True):
                one = first(metric, series_id, params, snaps[n].passes)
                if one is not None:
                    kept.append((n, i, v, one))
        if not kept:
            continue
        if series_id in entries:
            merged.add(series_id)
            entries[series_id].extend(kept)
        else:
            entries[series_id] = kept
            described[series_id] = (metric, params)
    for series_id in merged:
        entries[series_id].sort()
    used = set(loose_sources)
    for kept in entries.values():
        used.update(entry[0] for entry in kept)
    order = sorted(used)
    at = {n: index for index, n in enumerate(order)}
    series = []
    for series_id, kept in sorted(entries.items(), key=lambda item: item[1][0][:2]):
        values: list[float | None] = []
        for n, _, value, _ in kept:
            index = at[n]
            if len(values) < index:
                values.extend([None] * (index - len(values)))
            values.append(value)
        metric, params = described[series_id]
        series.append({"metric_type": metric, "filter_index": kept[0][3], "params": params, "values": values})
    prepared = {"sources": [snaps[n].source for n in order], "series": series}
    response = PreparedSeriesResponse.construct(
        sources=[SeriesSource.construct(**one) for one in prepared["sources"]],
        series=[Series.construct(**one) for one in series],
    )
    response._prepared = prepared
    return response


def metric_labels(engine: Engine, project_id: Any, tags: list[str], metadata: dict[str, str], metric: str) -> list[str]:
    """The label names of a metric's points in the snapshots with these tags and metadata (synchronous)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, tags, metadata_json FROM snapshots WHERE project_id = :pid"), {"pid": project_id}
        )
        ids = [
            sid
            for sid, have, meta in rows
            if set(tags) <= set(have or []) and all((meta or {}).get(k) == v for k, v in metadata.items())
        ]
        if not ids:
            return []
        keys = conn.execute(
            text(
                "SELECT DISTINCT k FROM points p, jsonb_object_keys(p.params::jsonb) k WHERE p.project_id = :pid "
                "AND p.snapshot_id = ANY(:ids) AND p.metric_type = :m AND jsonb_typeof(p.params::jsonb) = 'object'"
            ),
            {"pid": project_id, "ids": ids, "m": metric},
        )
        return [k for (k,) in keys if k != "type"]


def _in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> Callable[[], T]:
    import asyncio

    return lambda: asyncio.run(work())


class FastSQLDataStorage(SQLDataStorage):
    """Evidently's SQLDataStorage, its reads off the event loop and its series filtered in SQL."""

    async def get_data_series(
        self,
        project_id: Any,
        series_filter: list[SeriesFilter],
        start_time: datetime.datetime | None,
        end_time: datetime.datetime | None,
    ) -> SeriesResponse:
        filters = list(series_filter)
        return await anyio.to_thread.run_sync(
            lambda: data_series(self.engine, project_id, filters, start_time, end_time)
        )

    async def get_metrics(self, project_id: Any, tags: list[str], metadata: dict[str, str]) -> list[str]:
        parent = super().get_metrics
        return await anyio.to_thread.run_sync(_in_thread(lambda: parent(project_id, tags, metadata)))

    async def get_metric_labels(
        self, project_id: Any, tags: list[str], metadata: dict[str, str], metric: str
    ) -> list[str]:
        """Evidently's own fails on Postgres (SELECT DISTINCT of a json column: "could not identify an
        equality operator for type json"); the same answer (every params key but "type") from jsonb keys."""
        return await anyio.to_thread.run_sync(lambda: metric_labels(self.engine, project_id, tags, metadata, metric))

    async def get_metric_label_values(
        self, project_id: Any, tags: list[str], metadata: dict[str, str], metric: str, label: str
    ) -> list[str]:
        parent = super().get_metric_label_values
        return await anyio.to_thread.run_sync(_in_thread(lambda: parent(project_id, tags, metadata, metric, label)))


class EvmonSQLStorageComponent(SQLStorageComponent):
    """`storage: {type: evmon.evidently.fast_series.EvmonSQLStorageComponent}`: Evidently's SQL storage
    (same tables, same migrations at start) whose project manager answers series with FastSQLDataStorage."""

    def project_manager_provider(self) -> Callable[..., Coroutine[Any, Any, ProjectManager]]:
        async def project_manager_factory(engine: Engine) -> ProjectManager:
            manager = await anyio.to_thread.run_sync(lambda: create_sql_project_manager(engine, auth=NoopAuthManager()))
            manager.data_storage = FastSQLDataStorage(engine)
            print(
                f"evmon: the dashboards' series come from {FastSQLDataStorage.__module__}", file=sys.stderr, flush=True
            )
            return manager

        return project_manager_factory


def type_prefixes(current: str) -> str:
    """EVIDENTLY_TYPE_PREFIXES with evmon's added (kept as it was if already there)."""
    parts = [p for p in current.split(",") if p]
    return ",".join(parts if TYPE_PREFIX in parts else [*parts, TYPE_PREFIX])


def ui_config(url: str, fast: bool = True) -> str:
    """The UI's config file for a database URL: evmon's storage component, or Evidently's own (`sql`)."""
    kind = COMPONENT if fast else "sql"
    return f"storage:\n  type: {kind}\ndatabase:\n  url: {json.dumps(url)}\n"
