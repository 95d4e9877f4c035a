"""Evidently's own SQL storage of its UI, written and read by evmon in process (no HTTP API).

`evidently ui` started on a database (`storage: {type: sql}`) reads projects, dashboards, snapshot
blobs and the dashboards' points from Evidently's tables (created by Evidently's Alembic
migrations). evmon writes them with Evidently's own models and points extraction, but each
snapshot in ONE transaction, under evmon's own deterministic ids: the old snapshot's row, points
and blob go and the new ones come at once (a reader sees one or the other, never both or none),
and a project-day keeps exactly one snapshot however often it is re-run. Evidently's own
`add_snapshot` commits three times and leaves the old blob behind on a delete.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from evidently.ui.service.storage.sql.models import (
    BlobSQLModel,
    MetricsSQLModel,
    PointSQLModel,
    ProjectSQLModel,
    SnapshotSQLModel,
    UserSQLModel,
)
from evidently.ui.service.type_aliases import ZERO_UUID
from sqlalchemy import create_engine, delete, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from evmon.dsn import first_line, login_refused
from evmon.errors import WorkspaceError
from evmon.snapshot import codec, contract
from evmon.snapshot.flatten import FlattenError, flatten

MIGRATION_LOCK = 0x65766D6F6E + 2  # evmon's advisory lock around Evidently's migrations
PROJECT_VERSION = "1"
METRIC_TYPE_PREFIX = "evidently:metric_v2:"
POINTS_CHUNK = 1000  # what Evidently's SQL storage lists (the file workspace writes "2")


def sqlalchemy_url(dsn: str) -> str:
    """A postgresql:// URL (or libpq DSN as a URL) for SQLAlchemy with psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+psycopg://" + dsn[len(prefix) :]
    raise WorkspaceError("the UI database must be a postgresql:// URL")


def blob_id(pid: uuid.UUID, sid: uuid.UUID) -> str:
    return f"{pid}/{sid}.json"


def _problem(exc: BaseException) -> str:
    """A database error in one line: a refused login in the server's words, else the error's first line."""
    return login_refused(exc) or first_line(exc)


class UiDatabase:
    """The Evidently UI's tables in one Postgres database."""

    def __init__(self, url: str) -> None:
        self.url = sqlalchemy_url(url)
        self._engine: Engine | None = None

    def __getstate__(self) -> dict[str, Any]:  # sent to pool and Dask workers: each opens its own engine
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url, self._engine = state["url"], None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.url, pool_pre_ping=True)
        return self._engine

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise WorkspaceError(f"the Evidently UI's database {self.where}: {_problem(exc)}") from exc

    @property
    def where(self) -> str:
        url = make_url(self.url)
        return f"{url.host}:{url.port or 5432}/{url.database}"

    def migrate(self) -> list[int]:
        """Create or upgrade Evidently's tables (its Alembic migrations), then evmon's indexes beside them
        (evmon.evidently.ui_migrations), once, before any UI starts; the versions of evmon's applied now."""
        from evidently.ui.service.storage.sql.utils import run_migrations

        from evmon.evidently import ui_migrations

        try:
            with self.engine.connect() as lock:  # concurrent migrators (several UIs, writers) queue here
                lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
                try:
                    run_migrations(self.url, "head", False, False, None)
                    with self.engine.begin() as conn:
                        return ui_migrations.upgrade(conn)
                finally:
                    lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        except Exception as exc:  # Alembic and the driver raise many kinds: one line naming the database
            raise WorkspaceError(f"cannot migrate the Evidently UI's database {self.where}: {_problem(exc)}") from exc

    # projects and dashboards
    def ensure_project(self, pid: uuid.UUID, name: str, description: str) -> None:
        """Create the project (and Evidently's anonymous author) if missing, else keep its name and
        description current; safe when several processes (a backfill's workers) do it at once."""
        with self._session() as session:
            session.execute(pg_insert(UserSQLModel).values(id=ZERO_UUID, name="").on_conflict_do_nothing())
            session.execute(
                pg_insert(ProjectSQLModel)
                .values(
                    id=pid,
                    name=name,
                    description=description,
                    dashboard_json={"name": "", "tabs": [], "panels": []},
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                    author_id=ZERO_UUID,
                    version=PROJECT_VERSION,
                )
                .on_conflict_do_nothing()
            )
            session.execute(
                update(ProjectSQLModel)
                .where(
                    ProjectSQLModel.id == pid,
                    or_(ProjectSQLModel.name != name, ProjectSQLModel.description.is_distinct_from(description)),
                )
                .values(name=name, description=description)
            )
            session.commit()

    def projects(self) -> list[tuple[uuid.UUID, str, str]]:
        with self._session() as session:
            rows = session.execute(select(ProjectSQLModel.id, ProjectSQLModel.name, ProjectSQLModel.description))
            return [(row[0], row[1], row[2] or "") for row in rows]

    def dashboard(self, pid: uuid.UUID) -> dict[str, Any] | None:
        with self._session() as session:
            value = session.execute(select(ProjectSQLModel.dashboard_json).where(ProjectSQLModel.id == pid)).scalar()
            return value if isinstance(value, dict) else None

    def put_dashboard(self, pid: uuid.UUID, dashboard: Mapping[str, Any]) -> bool:
        """Replace the project's dashboard; False if it already was this one."""
        wanted = json.loads(json.dumps(dashboard))  # as it comes back from the JSON column
        with self._session() as session:
            current = session.execute(select(ProjectSQLModel.dashboard_json).where(ProjectSQLModel.id == pid)).scalar()
            if current == wanted:
                return False
            session.execute(update(ProjectSQLModel).where(ProjectSQLModel.id == pid).values(dashboard_json=wanted))
            session.commit()
            return True

    # snapshots
    def put_snapshot(self, pid: uuid.UUID, sid: uuid.UUID, payload: bytes) -> tuple[int, int]:
        """Create or replace one snapshot (row, blob, points) in one transaction; its (size, version).

        The points are evmon.snapshot.flatten's rows, the one flattening of a snapshot (tests/bridge/test_oracle.py
        checks it value for value against Evidently's own extraction), shaped as Evidently's points:
        full metric type, str() parameters. Parsing the document with orjson instead of building
        Evidently's pydantic model makes a write about three times faster.
        """
        try:
            doc = codec.loads(payload)
            moment = datetime.fromisoformat(str(doc["timestamp"]))
            results = doc["metric_results"]
            rows = flatten(doc)
        except (ValueError, KeyError, TypeError, FlattenError) as exc:
            raise WorkspaceError(f"snapshot {sid}: not an Evidently snapshot ({exc})") from exc
        meta = contract.meta_of(doc)
        blob = blob_id(pid, sid)
        points = [
            {
                "project_id": pid,
                "snapshot_id": sid,
                "metric_type": f"{METRIC_TYPE_PREFIX}{row.metric_type}",
                "params": {key: str(value) for key, value in row.params.items()},
                "value": row.value if row.value is not None else math.nan,
            }
            for row in rows
        ]
        with self._session() as session:
            self._remove(session, pid, sid)
            session.add(
                SnapshotSQLModel(
                    id=sid,
                    project_id=pid,
                    name=meta.name,
                    timestamp=moment,
                    metadata_json=dict(meta.metadata),
                    tags=list(meta.tags),
                    blob_path=blob,
                    blob_size=len(payload),
                )
            )
            session.add(BlobSQLModel(id=blob, data=payload, size=len(payload)))
            if results:  # each metric's definition once per database (Evidently merges them one by one)
                rows_ = [
                    {"metric_fingerprint": str(key), "metric_json": json.dumps({"metric_id": str(key)})}
                    for key in results
                ]
                session.execute(pg_insert(MetricsSQLModel).values(rows_).on_conflict_do_nothing())
            session.flush()
            for start in range(0, len(points), POINTS_CHUNK):
                session.execute(insert(PointSQLModel), points[start : start + POINTS_CHUNK])
            version = session.execute(text("SELECT xmin::text::bigint FROM snapshots WHERE id = :id"), {"id": sid})
            written = int(version.scalar() or 0)
            session.commit()
        return len(payload), written

    def delete_snapshot(self, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        with self._session() as session:
            existed = self._remove(session, pid, sid)
            session.commit()
            return existed

    @staticmethod
    def _remove(session: Session, pid: uuid.UUID, sid: uuid.UUID) -> bool:
        session.execute(delete(PointSQLModel).where(PointSQLModel.snapshot_id == sid))
        gone = session.execute(delete(SnapshotSQLModel).where(SnapshotSQLModel.id == sid))
        session.execute(delete(BlobSQLModel).where(BlobSQLModel.id == blob_id(pid, sid)))
        return bool(gone.rowcount)  # type: ignore[attr-defined]

    def snapshots(self, pid: uuid.UUID) -> list[tuple[uuid.UUID, int, int]]:
        """(id, size, version) of each snapshot: the version changes with every write (the row's xmin)."""
        query = text("SELECT id, blob_size, xmin::text::bigint FROM snapshots WHERE project_id = :pid")
        with self._session() as session:
            return [(row[0], int(row[1]), int(row[2])) for row in session.execute(query, {"pid": pid})]

    def header(self, pid: uuid.UUID, sid: uuid.UUID) -> dict[str, Any] | None:
        """The snapshot's name, timestamp, metadata and tags, from its row (no blob read)."""
        with self._session() as session:
            row = session.get(SnapshotSQLModel, sid)
            if row is None or row.project_id != pid:
                return None
            return {
                "name": row.name,
                "timestamp": row.timestamp.isoformat(),
                "metadata": dict(row.metadata_json),
                "tags": list(row.tags),
            }

    def blob(self, pid: uuid.UUID, sid: uuid.UUID) -> bytes | None:
        with self._session() as session:
            value = session.execute(select(BlobSQLModel.data).where(BlobSQLModel.id == blob_id(pid, sid))).scalar()
            return bytes(value) if value is not None else None

    def mark_metadata(self, sid: uuid.UUID, extra: Mapping[str, str]) -> None:
        with self._session() as session:
            row = session.get(SnapshotSQLModel, sid)
            if row is not None:
                row.metadata_json = {**row.metadata_json, **extra}
                session.commit()

    def keep_points(self, sid: uuid.UUID, metric_types: Iterable[str]) -> int:
        """Delete the snapshot's points of every other metric type; how many went."""
        full = [f"evidently:metric_v2:{short}" for short in metric_types]
        with self._session() as session:
            gone = session.execute(
                delete(PointSQLModel).where(PointSQLModel.snapshot_id == sid, PointSQLModel.metric_type.not_in(full))
            )
            session.commit()
            return int(gone.rowcount)  # type: ignore[attr-defined]

    def counts(self) -> dict[str, int]:
        """Rows in Evidently's tables (for tests and `evmon migrate-ui`)."""
        with self._session() as session:
            return {
                table: int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
                for table in ("projects", "snapshots", "blobs", "points")
            }

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
