"""Every project in one table, read from the bridge's Postgres (never from the snapshot files).

One row per project the bridge knows (in evmon.projects, evmon.project_owners or the run log),
sorted by trouble: the most alerts firing first, then a failed last run, then the most days
missing, then the highest drift share. What each column means is in docs/app.md#fleet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from evmon.config.model import EvmonConfig
from evmon.dsn import first_line, login_refused, where
from evmon.errors import EvmonError
from evmon.fleet.sql import EVERY, OWNER_OPTIONS_SQL, PSYCOPG_SQL, RULES, TAG_OPTIONS_SQL

DSN_ENV = "EVMON_PG_DSN"  # the bridge's own variable (bridge/settings.py): the app reads the same database


class FleetError(EvmonError):
    """The bridge's database cannot be read (unreachable, refused, not migrated)."""


@dataclass(frozen=True)
class FleetRow:
    """One project of the fleet."""

    project: str
    owner: str | None
    tags: dict[str, str]
    last_day: date | None  # the newest day the run log has a daily run of
    last_status: str | None  # that day's latest run: ok, skipped, failed, busy
    first_day: date | None  # the first day with a daily snapshot
    days_missing: int | None  # days from first_day to yesterday without a daily snapshot
    drift_day: date | None  # the newest day with a dataset drift share
    drift_share: float | None  # that day's share of drifted columns
    drift_trend: float | None  # drift_share minus the mean share of the 7 days before it
    drift_7d: tuple[float, ...]  # the shares of the 7 days ending on drift_day, oldest first
    quality_metric: str | None  # ROC AUC or R²
    quality: float | None  # the newest realized value, or the estimate when it is newer
    quality_estimated: bool | None  # True when `quality` is an estimate (no labels yet)
    quality_day: date | None
    disparate_impact: float | None  # the lowest over the sensitive columns, newest day of 14
    equalized_odds: float | None  # the highest over the sensitive columns, newest day of 14
    outlier_share: float | None  # the highest column outlier share, newest day of 14
    multivariate_share: float | None  # the IsolationForest's outlier share, newest day of 14
    fairness_flag: bool  # a fairness alert fires
    outlier_flag: bool  # an outlier alert fires
    alerts: tuple[str, ...]  # the uids of Grafana's alert rules firing for the project

    @property
    def alert_titles(self) -> tuple[str, ...]:
        return tuple(RULES[uid].title if uid in RULES else uid for uid in self.alerts)

    @property
    def tag_labels(self) -> tuple[str, ...]:
        """The tags as `key=value`, the form the tag filter takes."""
        return tuple(f"{k}={v}" for k, v in sorted(self.tags.items()))


def bridge_dsn(config: EvmonConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The bridge's database for reading: EVMON_PG_DSN, else projects.yaml bridge.dsn; None when the bridge
    runs its embedded server (whose password only the bridge reads: set EVMON_PG_DSN to read it elsewhere)."""
    env = os.environ if environ is None else environ
    return env.get(DSN_ENV) or config.bridge.dsn or None


def fleet_table(
    dsn: str,
    *,
    as_of: datetime | None = None,
    owners: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> list[FleetRow]:
    """The fleet at `as_of` (default now), sorted by trouble; only `owners` (NO_OWNER for projects
    without one) and projects with one of `tags` (`key=value`) when given."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    params = {"as_of": moment, "owners": list(owners) or [EVERY], "tags": list(tags) or [EVERY]}
    with _reading(dsn) as conn, conn.transaction():
        # the per-project lookups are cheap but many: the planner's estimate would compile the
        # query (JIT), which costs ten times what the query does
        conn.execute("SET LOCAL jit = off")
        rows = conn.execute(PSYCOPG_SQL, params).fetchall()
    return [_row(r) for r in rows]


def filter_options(dsn: str) -> tuple[list[str], list[str]]:
    """The owners (NO_OWNER when a project has none) and the `key=value` tags the filters offer."""
    with _reading(dsn) as conn:
        owners = [str(r["owner"]) for r in conn.execute(OWNER_OPTIONS_SQL)]
        tags = [str(r["tag"]) for r in conn.execute(TAG_OPTIONS_SQL)]
    return owners, tags


@contextmanager
def _reading(dsn: str) -> Iterator[Any]:
    """A connection to the bridge's database (rows as dicts); its failures as one FleetError line."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        with psycopg.connect(dsn, connect_timeout=10, row_factory=dict_row) as conn:
            yield conn
    except psycopg.errors.UndefinedTable as exc:
        raise FleetError(f"{where(dsn)}: the bridge has not created its tables yet ({first_line(exc)})") from exc
    except psycopg.Error as exc:
        reason = login_refused(exc, DSN_ENV) or first_line(exc)
        raise FleetError(f"{where(dsn)}: cannot read the fleet: {reason}") from exc


def _row(r: dict[str, Any]) -> FleetRow:
    def number(key: str) -> float | None:
        value = r[key]
        return None if value is None else float(value)

    return FleetRow(
        project=r["project"],
        owner=r["owner"],
        tags={str(k): str(v) for k, v in (r["tags"] or {}).items()},
        last_day=r["last_day"],
        last_status=r["last_status"],
        first_day=r["first_day"],
        days_missing=r["days_missing"],
        drift_day=r["drift_day"],
        drift_share=number("drift_share"),
        drift_trend=number("drift_trend"),
        drift_7d=tuple(float(v) for v in r["drift_7d"] or ()),
        quality_metric=r["quality_metric"] if r["quality"] is not None else None,
        quality=number("quality"),
        quality_estimated=r["quality_estimated"],
        quality_day=r["quality_day"],
        disparate_impact=number("disparate_impact"),
        equalized_odds=number("equalized_odds"),
        outlier_share=number("outlier_share"),
        multivariate_share=number("multivariate_share"),
        fairness_flag=bool(r["fairness_flag"]),
        outlier_flag=bool(r["outlier_flag"]),
        alerts=tuple(r["alerts"]),
    )
