"""A generated bridge of many projects: the rows the bridge writes for N projects x D days, made by SQL
(generate_series) in a migrated database, with known troubles (for the fleet's tests and bench/fleet.py).

Every project p000.. has a daily snapshot and an ok run per day up to `end`, the metric values the fleet
and the alert rules read (drift share, ROC AUC, estimates, fairness, outliers, missing shares), plus
filler values (per-column drift and missing values) so metric_values is as long as a real bridge's.
The troubles, by project number i:

- i % 7 == 1: the last day's drift share is 0.8 (the dataset drift alert);
- i % 9 == 2: ROC AUC 0.5 every day (the model quality alert);
- i % 11 == 3: every 10th day has no snapshot and no run (days missing);
- i % 13 == 4: the last day failed (a failed run, no snapshot of that day);
- i % 17 == 5: the last day a column has no value at all (the empty columns alert);
- i % 19 == 6: disparate impact 0.5 on the last day (below the default 0.8);
- owners: team-a, team-b, team-c in turn, none when i % 5 == 4; tag tier=critical when i % 4 == 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from evmon.bridge.schema import migrate
from evmon.bridge.settings import GrafanaRole

FILLER_COLUMNS = 20  # per-column drift and missing values per snapshot: 40 filler rows


@dataclass(frozen=True)
class Generated:
    projects: int
    days: int
    end: date

    def name(self, i: int) -> str:
        return f"p{i:03d}"

    @property
    def as_of(self) -> datetime:
        """Noon of the day after `end` (the scheduler's day)."""
        return datetime(self.end.year, self.end.month, self.end.day, 12, tzinfo=UTC) + timedelta(days=1)

    def owner(self, i: int) -> str | None:
        return None if i % 5 == 4 else "team-" + "abc"[i % 3]

    def tags(self, i: int) -> dict[str, str]:
        return {"tier": "critical"} if i % 4 == 0 else {}


SQL = """
CREATE TEMP TABLE g_days AS
SELECT i, 'p' || lpad(i::text, 3, '0') AS project, d,
       (%(start)s::date + d) AS day,
       ((%(start)s::date + d)::timestamp AT TIME ZONE 'UTC') AS ts,
       d = %(last)s::int AS last_day
FROM generate_series(0, %(projects)s::int - 1) i, generate_series(0, %(last)s::int) d
WHERE NOT (i %% 11 = 3 AND d %% 10 = 9);

INSERT INTO evmon.projects (project_id, name, synced_at)
SELECT md5('project/' || project)::uuid, project, %(synced)s FROM g_days GROUP BY project;

INSERT INTO evmon.runs (run_id, project, day, kind, trigger, status, started_at, duration_s, rows, error)
SELECT md5('run/' || project || d), project, day, 'daily', 'schedule',
       CASE WHEN last_day AND i %% 13 = 4 THEN 'failed' ELSE 'ok' END,
       ts + interval '26 hours', 3.5, 1000,
       CASE WHEN last_day AND i %% 13 = 4 THEN 'KeyError: income' END
FROM g_days;

DELETE FROM g_days WHERE last_day AND i %% 13 = 4;

INSERT INTO evmon.snapshots (snapshot_id, project_id, project, kind, name, "timestamp", day, rows, labels,
                             n_values, n_tests, file_path, file_size, file_mtime_ns)
SELECT md5('snap/' || project || d)::uuid, md5('project/' || project)::uuid, project, 'daily',
       project || ' ' || day, ts, day, 1000, true, 50, 0, project || '/' || d || '.json', 100000,
       (extract(epoch FROM ts + interval '26 hours') * 1e9)::bigint
FROM g_days;

INSERT INTO evmon.metric_values (snapshot_id, project, kind, "timestamp", metric_id, metric_type, display_name,
                                 "column", label, value_kind, value, params, segment)
SELECT md5('snap/' || project || d)::uuid, project, 'daily', ts, m.metric_id, m.metric_type, m.metric_type,
       m.col, m.label, m.value_kind, m.value, m.params::jsonb, m.segment
FROM g_days,
LATERAL (VALUES
    ('drift', 'DriftedColumnsCount', NULL, NULL, 'share',
     CASE WHEN last_day AND i %% 7 = 1 THEN 0.8 ELSE 0.05 + 0.05 * ((i + d) %% 5) END, '{"drift_share": 0.5}', NULL),
    ('drift', 'DriftedColumnsCount', NULL, NULL, 'count', 2.0, '{"drift_share": 0.5}', NULL),
    ('rocauc', 'RocAuc', NULL, NULL, 'value', CASE WHEN i %% 9 = 2 THEN 0.5 ELSE 0.8 END,
     '{"classification_name": "default"}', 'default'),
    ('est', 'EstimatedQuality', NULL, 'roc_auc', 'estimate', 0.78, '{"method": "cbpe"}', 'default'),
    ('fair', 'FairnessValue', 'region', NULL, 'demographic_parity_ratio',
     CASE WHEN last_day AND i %% 19 = 6 THEN 0.5 ELSE 0.95 END, '{}', NULL),
    ('outr', 'OutRangeValueCount', 'income', NULL, 'share', 0.01, '{"left": 0, "right": 1}', NULL),
    ('outm', 'MultivariateOutlierCount', NULL, NULL, 'share', 0.02, '{}', NULL),
    ('miss_empty', 'MissingValueCount', 'income', NULL, 'share',
     CASE WHEN last_day AND i %% 17 = 5 THEN 1.0 ELSE 0.0 END, '{}', NULL)
) AS m(metric_id, metric_type, col, label, value_kind, value, params, segment);

INSERT INTO evmon.metric_values (snapshot_id, project, kind, "timestamp", metric_id, metric_type, display_name,
                                 "column", label, value_kind, value, params, segment, drift_detected)
SELECT md5('snap/' || project || d)::uuid, project, 'daily', ts, t.metric_type || c, t.metric_type, t.metric_type,
       'c' || c, NULL, t.value_kind, 0.01 * c, '{}'::jsonb, NULL,
       CASE WHEN t.metric_type = 'ValueDrift' THEN false END
FROM g_days, generate_series(1, %(filler)s::int) c,
     (VALUES ('ValueDrift', 'value'), ('MissingValueCount', 'share')) AS t(metric_type, value_kind);

DROP TABLE g_days;
"""


def generate(dsn: str, projects: int, days: int, end: date, role: GrafanaRole) -> Generated:
    """Migrate the database at `dsn` (creating Grafana's `role`, a cluster's object: drop it after) and fill
    it with `projects` x `days` days ending on `end`."""
    gen = Generated(projects, days, end)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, role)
        with conn.transaction():
            params = {
                "start": end - timedelta(days=days - 1),
                "last": days - 1,
                "projects": projects,
                "synced": gen.as_of,
                "filler": FILLER_COLUMNS,
            }
            for statement in SQL.split(";\n\n"):  # one statement per execute (bound parameters)
                if statement.strip():
                    conn.execute(statement.encode(), params)  # type: ignore[arg-type]
            conn.cursor().executemany(
                "INSERT INTO evmon.project_owners (project, owner, tags) VALUES (%s, %s, %s::jsonb)",
                [(gen.name(i), gen.owner(i), json.dumps(gen.tags(i))) for i in range(projects)],
            )
        conn.execute("VACUUM ANALYZE")  # index-only scans, as on a bridge that ran for a year
    return gen
