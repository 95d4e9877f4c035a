"""Every scored row, logged where the project's daily runs read it: hourly Parquet files, or a Postgres table.

Both writers take a batch of rows (a flush: evmon.online.monitor calls them every `flush_every_s`)
and return how many rows they wrote; a batch they cannot write (a full or read-only disk, a Postgres
that does not answer) raises RowLogError, and the monitor counts the batch's rows as dropped, logs one
line and goes on: the rows already written stay as they are.

Parquet: one file per flush and hour, `<path>/<YYYY-MM-DD>/<HH>/<HHMMSS>-<pid>-<n>.parquet` (UTC),
written to a hidden temporary file in the same folder, synced, then renamed over its name
(os.replace): a reader (a glob such as `<path>/*/*/*.parquet`) sees a whole file or none.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Literal, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from evmon.errors import EvmonError


class RowLogError(EvmonError):
    """A batch of scored rows could not be logged (the message names where and why)."""


@dataclass(frozen=True)
class RowSchema:
    """The logged table: the timestamp column, then each column with its kind."""

    timestamp: str
    columns: tuple[tuple[str, Literal["num", "cat"]], ...]

    def arrow(self) -> pa.Schema:
        fields = [pa.field(self.timestamp, pa.timestamp("us", tz="UTC"))]
        fields += [pa.field(c, pa.float64() if k == "num" else pa.string()) for c, k in self.columns]
        return pa.schema(fields)


@dataclass
class RowBatch:
    """Rows column by column: epoch seconds, and each column's values (None where missing)."""

    schema: RowSchema
    times: list[float] = field(default_factory=list)
    values: dict[str, list[object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for column, _ in self.schema.columns:
            self.values.setdefault(column, [])

    def __len__(self) -> int:
        return len(self.times)

    def table(self, rows: Sequence[int] | None = None) -> pa.Table:
        pick = (lambda v: v) if rows is None else (lambda v: [v[i] for i in rows])
        arrays = [pa.array([int(t * 1_000_000) for t in pick(self.times)], pa.timestamp("us", tz="UTC"))]
        for column, kind in self.schema.columns:
            arrays.append(pa.array(pick(self.values[column]), pa.float64() if kind == "num" else pa.string()))
        return pa.Table.from_arrays(arrays, schema=self.schema.arrow())


class RowWriter(Protocol):
    where: str

    def write(self, batch: RowBatch) -> int: ...

    def close(self) -> None: ...


class ParquetWriter:
    """Hourly Parquet files under `root`, each written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)
        self._numbers = count()

    def write(self, batch: RowBatch) -> int:
        hours: dict[datetime, list[int]] = {}
        for i, t in enumerate(batch.times):
            hour = datetime.fromtimestamp(t, UTC).replace(minute=0, second=0, microsecond=0)
            hours.setdefault(hour, []).append(i)
        written = 0
        for hour, rows in sorted(hours.items()):
            self._write_file(hour, batch.table(rows if len(rows) < len(batch) else None))
            written += len(rows)
        return written

    def _write_file(self, hour: datetime, table: pa.Table) -> None:
        folder = self.root / hour.strftime("%Y-%m-%d") / hour.strftime("%H")
        now = datetime.now(UTC).strftime("%H%M%S")
        name = f"{now}-{os.getpid()}-{next(self._numbers)}.parquet"
        target, temporary = folder / name, folder / f".{name}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as out:
                pq.write_table(table, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True) if temporary.parent.exists() else None
            raise RowLogError(f"could not write {target}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        pass


class PostgresWriter:
    """A Postgres table (created if missing), one COPY per batch; reconnects after a failure."""

    def __init__(self, dsn: str, table: str, schema: RowSchema, where: str) -> None:
        self._dsn, self._table, self._schema = dsn, table, schema
        self.where = where
        self._connection: object | None = None

    def _connect(self) -> object:
        import psycopg

        if self._connection is None:
            connection = psycopg.connect(self._dsn, connect_timeout=3, autocommit=True)
            types = [f'"{self._schema.timestamp}" timestamptz NOT NULL']
            types += [f'"{c}" {"double precision" if k == "num" else "text"}' for c, k in self._schema.columns]
            connection.execute(f'CREATE TABLE IF NOT EXISTS "{self._table}" ({", ".join(types)})')
            self._connection = connection
        return self._connection

    def write(self, batch: RowBatch) -> int:
        import psycopg

        names = [self._schema.timestamp, *(c for c, _ in self._schema.columns)]
        quoted = ", ".join(f'"{n}"' for n in names)
        try:
            connection = self._connect()
            assert isinstance(connection, psycopg.Connection)
            copy_sql = f'COPY "{self._table}" ({quoted}) FROM STDIN'
            with connection.transaction(), connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for i, t in enumerate(batch.times):
                    row = [datetime.fromtimestamp(t, UTC)] + [batch.values[c][i] for c, _ in self._schema.columns]
                    copy.write_row(row)
        except (psycopg.Error, OSError) as exc:
            self.close()
            raise RowLogError(f"could not write to {self.where}: {str(exc).strip().splitlines()[0]}") from exc
        return len(batch)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        close = getattr(connection, "close", None)
        if close is not None:
            with suppress(Exception):  # a broken connection is dropped either way
                close()
