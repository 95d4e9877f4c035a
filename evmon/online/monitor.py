"""`Monitor.observe(features, prediction)`: the request path hands a row over and returns at once.

observe() appends the row to a bounded deque (no lock, no wake-up: a full one drops the row and counts
it) and never raises. One background thread drains it every TICK_S and does the rest, in batches: checks each value
against the project's columns (missing, NaN, mistyped, a category the reference never holds: counted
per feature), the score histogram, the sliding window (its drift recomputed every `drift_every_s`),
and the row log (flushed every `flush_every_s`: the rows a crash can lose are those of the last
flush interval, plus the few still queued).
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import threading
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry

from evmon.config.model import EvmonConfig, Project
from evmon.config.online import Online, ParquetRowLog
from evmon.online.metrics import PROBABILITY_BUCKETS, online_metrics
from evmon.online.psi import ColumnReference, column_reference
from evmon.online.rowlog import ParquetWriter, PostgresWriter, RowBatch, RowLogError, RowSchema, RowWriter
from evmon.online.window import SlidingWindow, WindowDrift

log = logging.getLogger("evmon.online")
# how often the thread drains the rows: waking it on every row costs the request path a lock and the GIL
TICK_S = 0.25
Kind = Literal["num", "cat"]


def psi_threshold(project: Project, column: str, default: float) -> float:
    """The project's own threshold for `column` where its drift method is psi, else `default`."""
    drift = project.presets.data_drift
    if drift is None:
        return default
    kind = project.columns.kind_of(column)
    override = drift.columns.get(column)
    method = (override.method if override else None) or drift.method
    method = method or (drift.num_method if kind == "num" else drift.cat_method)
    threshold = (override.threshold if override else None) or drift.threshold
    threshold = threshold or (drift.num_threshold if kind == "num" else drift.cat_threshold)
    return threshold if method == "psi" and threshold is not None else default


class Monitor:
    """The live monitor of one project's model (version `version`), its metrics in `registry`."""

    def __init__(
        self,
        config: EvmonConfig,
        project: str,
        *,
        version: str = "unversioned",
        registry: CollectorRegistry = REGISTRY,
        writer: RowWriter | None = None,
    ) -> None:
        self.config = config
        self.project = config.project(project)
        self.settings = self.project.online or Online()
        self.version = version
        cols = self.project.columns
        pred = cols.prediction
        num: Kind = "num"
        cat: Kind = "cat"
        self.kinds: dict[str, Kind] = {c: num for c in cols.numerical} | {c: cat for c in cols.categorical}
        self.prediction_column = pred.column if pred is not None else "prediction"
        self.prediction_kind: Kind = "cat" if pred is not None and pred.kind == "label" else "num"
        logged: list[tuple[str, Kind]] = [*self.kinds.items(), (self.prediction_column, self.prediction_kind)]
        if cols.target is not None:  # the labels come later: logged empty, so the daily runs find the column
            logged.append((cols.target, "cat" if isinstance(cols.positive_label, str) else "num"))
        self.schema = RowSchema(self.project.source.timestamp_column, tuple(logged))
        buckets = PROBABILITY_BUCKETS if pred is None or pred.kind == "probability" else (0.1, 1, 10, 100, 1000, 10000)
        self.metrics = online_metrics(registry, buckets)
        labels = {"model": self.project.name, "version": version}
        self._labels = labels
        self._rows = self.metrics.rows.labels(**labels)
        self._scores = self.metrics.scores.labels(**labels)
        self._pending: deque[tuple[float, dict[str, Any], Any]] = deque()
        self._controls: deque[tuple[str, threading.Event]] = deque()
        self._wake = threading.Event()
        self._queue_full = self.metrics.dropped.labels(**labels, reason="queue_full")
        for reason in ("queue_full", "row_log", "monitor_error"):
            self.metrics.dropped.labels(**labels, reason=reason)
        self.metrics.logged.labels(**labels)  # 0 from the start: increase() counts the first rows logged too
        # the owner's team ('' without one: Prometheus stores no label), joined onto every online alert
        self.metrics.info.labels(**labels, team=self.project.owner or "").set(1)
        self._writer = writer if writer is not None else self._row_writer()
        self._batch = RowBatch(self.schema)
        self._last_flush = time.monotonic()
        self._last_drift = 0.0
        self.window: SlidingWindow | None = None
        self.categories: dict[str, set[object]] = {}
        self.last_drift: WindowDrift | None = None
        self._thread = threading.Thread(target=self._run, name=f"evmon-online-{self.project.name}", daemon=True)
        self._thread.start()

    # --- the request path -------------------------------------------------------------------

    def observe(self, features: Mapping[str, Any], prediction: Any, *, at: float | None = None) -> None:
        """Hand one scored row to the monitor (scored now, or at Unix time `at`); returns at once, never raises."""
        try:
            if len(self._pending) >= self.settings.queue_rows:
                self._queue_full.inc()
                return
            self._pending.append((time.time() if at is None else at, dict(features), prediction))
        except Exception:
            self.metrics.dropped.labels(**self._labels, reason="monitor_error").inc()

    # --- control ----------------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row handed over is processed, then write the row log and recompute the drift."""
        return self._control("flush", timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Process what is queued, write the row log, stop the thread."""
        self._control("stop", timeout)
        self._thread.join(timeout)
        if self._writer is not None:
            self._writer.close()

    def _control(self, what: str, timeout: float) -> bool:
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._controls.append((what, done))
        self._wake.set()
        return done.wait(timeout)

    # --- the monitor's thread ---------------------------------------------------------------

    def _row_writer(self) -> RowWriter | None:
        row_log = self.settings.row_log
        if row_log is None:
            return None
        if isinstance(row_log, ParquetRowLog):
            return ParquetWriter(Path(self.config.resolve(row_log.path)))
        dsn = os.environ.get(row_log.dsn_env, "")
        return PostgresWriter(dsn, row_log.table, self.schema, f"the table {row_log.table} ({row_log.dsn_env})")

    def _load_reference(self) -> None:
        from evmon.sources.read import read_reference

        try:
            frame = read_reference(self.config, self.project)
        except Exception as exc:
            log.error("%s: the online monitor has no reference, so no drift gauges: %s", self.project.name, exc)
            return
        references: list[ColumnReference] = []
        default = self.settings.psi_threshold
        for column in self.project.drift_columns():
            kind = self.kinds.get(column, self.prediction_kind)
            if column in frame.columns:
                threshold = psi_threshold(self.project, column, default)
                references.append(column_reference(column, kind, frame[column], threshold))
        self.categories = {
            c: set(frame[c].dropna().tolist()) for c, k in self.kinds.items() if k == "cat" and c in frame
        }
        self.window = SlidingWindow(references, self.settings.window_rows)

    def _run(self) -> None:
        self._load_reference()
        while True:
            wait = min(self._flush_every() - (time.monotonic() - self._last_flush), self.settings.drift_every_s)
            self._wake.wait(max(min(wait, TICK_S), 0.01))
            self._wake.clear()
            controls = []
            while self._controls:  # first: every row handed over before a flush() is in the deque by now
                controls.append(self._controls.popleft())
            while self._pending:
                rows = [self._pending.popleft() for _ in range(min(len(self._pending), 5000))]
                try:
                    self._take(rows)
                except Exception:
                    log.exception("%s: the online monitor failed on %d rows", self.project.name, len(rows))
                    self.metrics.dropped.labels(**self._labels, reason="monitor_error").inc(len(rows))
                if len(self._batch) >= self._flush_rows():
                    self._write_rows()
            now = time.monotonic()
            if controls or now - self._last_flush >= self._flush_every():
                self._write_rows()
            if controls or now - self._last_drift >= self.settings.drift_every_s:
                self._update_drift()
            for _, done in controls:
                done.set()
            if any(what == "stop" for what, _ in controls):
                return

    def _flush_every(self) -> float:
        row_log = self.settings.row_log
        return row_log.flush_every_s if row_log is not None else 3600.0

    def _flush_rows(self) -> int:
        row_log = self.settings.row_log
        return row_log.flush_rows if row_log is not None else 1

    def _take(self, rows: list[tuple[float, dict[str, Any], Any]]) -> None:
        if not rows:
            return
        problems: Tally[tuple[str, str]] = Tally()
        batch = RowBatch(self.schema)
        target = self.project.columns.target
        for stamp, features, prediction in rows:
            batch.times.append(stamp)
            for column, kind in self.kinds.items():
                value, problem = self._checked(column, kind, features.get(column, _ABSENT))
                batch.values[column].append(value)
                if problem is not None:
                    problems[(column, problem)] += 1
            score, problem = self._checked(self.prediction_column, self.prediction_kind, prediction)
            batch.values[self.prediction_column].append(score)
            if target is not None:
                batch.values[target].append(None)
            if problem is not None:
                problems[(self.prediction_column, problem)] += 1
            elif self.prediction_kind == "num":
                self._scores.observe(score)
        self._rows.inc(len(rows))
        for (column, problem), n in problems.items():
            self.metrics.problems.labels(**self._labels, feature=column, problem=problem).inc(n)
        if self.window is not None:
            self.window.append(batch.values, len(batch))
        if self._writer is not None:
            self._batch.times.extend(batch.times)
            for column, values in batch.values.items():
                self._batch.values[column].extend(values)

    def _checked(self, column: str, kind: Kind, value: Any) -> tuple[Any, str | None]:
        """The value to log and window (None: missing), and what was wrong with it, if anything."""
        if value is _ABSENT or value is None:
            return None, "missing"
        if kind == "num":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return None, "mistyped"
            number = float(value)
            return number, None if math.isfinite(number) else "nan"
        if isinstance(value, float) and math.isnan(value):
            return None, "missing"
        if not isinstance(value, str):
            return None, "mistyped"
        known = self.categories.get(column)
        return value, "unknown_category" if known and value not in known else None

    def _write_rows(self) -> None:
        self._last_flush = time.monotonic()
        batch, self._batch = self._batch, RowBatch(self.schema)
        if self._writer is None or not len(batch):
            return
        try:
            written = self._writer.write(batch)
        except RowLogError as exc:
            self.metrics.dropped.labels(**self._labels, reason="row_log").inc(len(batch))
            log.error("%s: %d scored rows dropped from the row log: %s", self.project.name, len(batch), exc)
            return
        except Exception as exc:
            self.metrics.dropped.labels(**self._labels, reason="row_log").inc(len(batch))
            log.exception("%s: %d scored rows dropped from the row log: %s", self.project.name, len(batch), exc)
            return
        self.metrics.logged.labels(**self._labels).inc(written)
        self.metrics.last_logged.labels(**self._labels).set(time.time())

    def _update_drift(self) -> None:
        self._last_drift = time.monotonic()
        if self.window is None:
            return
        drift = self.window.drift()
        self.last_drift = drift
        self.metrics.window_rows.labels(**self._labels).set(drift.rows)
        for column, score in drift.scores.items():
            if score is not None:
                self.metrics.psi.labels(**self._labels, column=column).set(score)
                self.metrics.drifted.labels(**self._labels, column=column).set(int(drift.drifted[column]))
        self.metrics.drifted_share.labels(**self._labels).set(drift.drifted_share)


class _Absent:
    """A feature the request did not send."""


_ABSENT: Any = _Absent()
