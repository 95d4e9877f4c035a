"""evmon's migrations of the Evidently UI's database, run after Evidently's own Alembic ones.

They only add what makes evmon's reads fast (evmon.evidently.fast_series): indexes, never a column or
a change of meaning to Evidently's tables, so the stock `evidently ui` and `evidently migrate` work on
the same database as before. Which ones ran is kept in evmon's own table, `evmon_ui_migrations`
(Evidently's `alembic_version` is left alone). Each migration is idempotent (`IF NOT EXISTS`), so a
database where one ran by hand, or twice at once, is fine.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

TABLE = "evmon_ui_migrations"

# (version, what it is for, SQL): append only; never edit one that shipped
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "points by project and metric type: a dashboard panel's series reads only its metric types",
        "CREATE INDEX IF NOT EXISTS evmon_points_series_idx ON points (project_id, metric_type, snapshot_id)",
    ),
    (
        2,
        "snapshots by project and time: the series' time range and order",
        "CREATE INDEX IF NOT EXISTS evmon_snapshots_time_idx ON snapshots (project_id, timestamp, id)",
    ),
)


def applied(conn: Connection) -> list[int]:
    """The versions already applied ([] on a database evmon never migrated)."""
    exists = conn.execute(text("SELECT to_regclass(:t)"), {"t": TABLE}).scalar()
    if exists is None:
        return []
    return [int(v) for v in conn.execute(text(f"SELECT version FROM {TABLE} ORDER BY version")).scalars()]


def upgrade(conn: Connection) -> list[int]:
    """Apply the missing migrations in order, in the caller's transaction; the versions applied now."""
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (version integer PRIMARY KEY, description text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
    )
    done = set(applied(conn))
    ran = []
    for version, description, statement in MIGRATIONS:
        if version in done:
            continue
        conn.execute(text(statement))
        conn.execute(
            text(f"INSERT INTO {TABLE} (version, description) VALUES (:v, :d) ON CONFLICT DO NOTHING"),
            {"v": version, "d": description},
        )
        ran.append(version)
    return ran
