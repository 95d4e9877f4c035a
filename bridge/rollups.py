"""Weekly and monthly rollups of evmon.metric_values, kept by the bridge for long dashboard ranges.

A rollup row aggregates the daily rows of one project, metric type, column, label, value kind and
segment over one UTC week (Monday) or calendar month: how many rows, how many numeric values (NaN
and NULL excluded), their sum, min and max, how many drift verdicts were "drift" and how many were
given at all (a method evmon does not know has none). A panel over
a long range reads ~7x (weeks) or ~30x (months) fewer rows and shows the same aggregate it would
compute from the daily rows (the average is sum / values).

Kept exact by construction: every write of a snapshot's rows (replace, delete, a project deleted
or renamed) records the project-days it touched in evmon.rollup_dirty in the SAME transaction;
`refresh` recomputes the periods holding those days from the daily rows and clears the marks in
one transaction. A kill between the two leaves the marks, and the next sync recomputes them. The
refresh locks evmon.rollup_dirty against writers (SHARE ROW EXCLUSIVE), so a mark made while it
runs is neither lost nor cleared unseen: that writer waits for the refresh's commit.
"""

from __future__ import annotations

import psycopg

GRAINS = ("week", "month")

# the UTC day of a snapshot timestamp, and the start (timestamptz, UTC midnight) of its period
_DAY = """("timestamp" AT TIME ZONE 'UTC')::date"""

TABLES = """
CREATE TABLE evmon.metric_rollups (
    grain         text NOT NULL CHECK (grain IN ('week', 'month')),
    period_start  timestamptz NOT NULL,
    project       text NOT NULL,
    kind          text NOT NULL,
    metric_type   text NOT NULL,
    "column"      text,
    label         text,
    value_kind    text NOT NULL,
    segment       text,
    days          integer NOT NULL,
    n             integer NOT NULL,
    sum           double precision,
    min           double precision,
    max           double precision,
    drifted       integer NOT NULL,
    judged        integer NOT NULL,
    first_ts      timestamptz NOT NULL,
    last_ts       timestamptz NOT NULL,
    CONSTRAINT metric_rollups_key UNIQUE NULLS NOT DISTINCT
        (grain, project, metric_type, period_start, kind, "column", label, value_kind, segment)
);
CREATE INDEX metric_rollups_covering ON evmon.metric_rollups (grain, project, metric_type, period_start)
    INCLUDE (kind, "column", label, value_kind, segment, n, sum, min, max, drifted, judged);

CREATE TABLE evmon.rollup_dirty (
    project  text NOT NULL,
    day      date NOT NULL,
    PRIMARY KEY (project, day)
);
"""

_AGGREGATES = """count(*), count(v.value) FILTER (WHERE v.value <> 'NaN'), sum(v.value) FILTER (WHERE v.value <> 'NaN'),
       min(v.value) FILTER (WHERE v.value <> 'NaN'), max(v.value) FILTER (WHERE v.value <> 'NaN'),
       count(*) FILTER (WHERE v.drift_detected), count(v.drift_detected), min(v."timestamp"), max(v."timestamp")"""
_INSERT = """INSERT INTO evmon.metric_rollups (grain, period_start, project, kind, metric_type, "column", label,
    value_kind, segment, days, n, sum, min, max, drifted, judged, first_ts, last_ts)"""
_GROUP = 'GROUP BY 1, 2, v.project, v.kind, v.metric_type, v."column", v.label, v.value_kind, v.segment'

REBUILD = (
    "DELETE FROM evmon.metric_rollups",
    "DELETE FROM evmon.rollup_dirty",
    f"""{_INSERT}
SELECT g.grain, date_trunc(g.grain, v."timestamp" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       v.project, v.kind, v.metric_type, v."column", v.label, v.value_kind, v.segment,
       {_AGGREGATES}
FROM evmon.metric_values v CROSS JOIN (VALUES ('week'), ('month')) AS g(grain)
{_GROUP}""",
)

# the periods holding the marked days, recomputed from the daily rows (a period with no rows left: none)
_PERIODS = """CREATE TEMP TABLE evmon_rollup_periods ON COMMIT DROP AS
SELECT DISTINCT d.project, g.grain, date_trunc(g.grain, d.day::timestamp) AT TIME ZONE 'UTC' AS period_start
FROM evmon.rollup_dirty d CROSS JOIN (VALUES ('week'), ('month')) AS g(grain)"""
_DELETE_PERIODS = """DELETE FROM evmon.metric_rollups r USING evmon_rollup_periods p
WHERE r.grain = p.grain AND r.project = p.project AND r.period_start = p.period_start"""
_INSERT_PERIODS = f"""{_INSERT}
SELECT p.grain, p.period_start, v.project, v.kind, v.metric_type, v."column", v.label, v.value_kind, v.segment,
       {_AGGREGATES}
FROM evmon_rollup_periods p
JOIN evmon.metric_values v ON v.project = p.project AND v."timestamp" >= p.period_start
     AND v."timestamp" < p.period_start + ('1 ' || p.grain)::interval
{_GROUP}"""


def mark_snapshots(conn: psycopg.Connection, where: str, params: tuple[object, ...]) -> None:
    """Record the project-days of the evmon.snapshots rows matching `where` (call inside the writing transaction)."""
    conn.execute(
        f"""INSERT INTO evmon.rollup_dirty (project, day)
            SELECT DISTINCT project, {_DAY} FROM evmon.snapshots WHERE {where}
            ON CONFLICT DO NOTHING""",
        params,
    )


def mark_renamed(conn: psycopg.Connection, project_id: object, old_name: str, name: str) -> None:
    """A renamed project's days, under both names: the old name's periods lose them, the new one's gain them."""
    conn.execute(
        f"""INSERT INTO evmon.rollup_dirty (project, day)
            SELECT DISTINCT n.name, {_DAY} FROM evmon.snapshots CROSS JOIN (VALUES (%s), (%s)) AS n(name)
            WHERE project_id = %s
            ON CONFLICT DO NOTHING""",
        (old_name, name, project_id),
    )


def refresh(conn: psycopg.Connection) -> int:
    """Recompute the periods of every marked project-day; return how many project-days were marked."""
    with conn.transaction():
        conn.execute("LOCK TABLE evmon.rollup_dirty IN SHARE ROW EXCLUSIVE MODE")
        marked = conn.execute("SELECT count(*) FROM evmon.rollup_dirty").fetchone()
        if not marked or not marked[0]:
            return 0
        conn.execute(_PERIODS)
        conn.execute(_DELETE_PERIODS)
        conn.execute(_INSERT_PERIODS)
        conn.execute("DELETE FROM evmon.rollup_dirty")
        return int(marked[0])


def rebuild(conn: psycopg.Connection) -> None:
    """Recompute every rollup from the daily rows (migration 9, and after a bulk load that bypassed the bridge)."""
    with conn.transaction():
        conn.execute("LOCK TABLE evmon.rollup_dirty IN SHARE ROW EXCLUSIVE MODE")
        for statement in REBUILD:
            conn.execute(statement.encode())
