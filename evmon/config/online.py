"""A project's `online` section: the live model service's monitor (evmon.online).

The service imports evmon.online, which reads this section of the same projects.yaml entry the daily
runs use: which rows the sliding drift window holds, how often its gauges are recomputed, and where
every scored row is logged (hourly Parquet files under a folder, or a Postgres table), so that the
daily runs read what the service actually served.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag

from evmon.config.sections import StrictSection


class ParquetRowLog(StrictSection):
    """Every scored row to Parquet files under `path`: `<path>/<YYYY-MM-DD>/<HH>/<part>.parquet` (UTC).

    Each flush writes one new file atomically (a temporary file, then one rename): a reader sees a
    whole file or none. A crash loses at most the rows of the last `flush_every_s` seconds.
    """

    type: Literal["parquet"] = "parquet"
    path: str = Field(description="a folder, relative to projects.yaml")
    flush_every_s: float = Field(10.0, gt=0, le=3600)
    flush_rows: int = Field(50_000, ge=1, le=10_000_000, description="flush earlier once this many rows wait")


class PostgresRowLog(StrictSection):
    """Every scored row to a Postgres table (created if missing), one COPY per flush."""

    type: Literal["postgres"]
    dsn_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the environment variable holding the DSN")
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    flush_every_s: float = Field(10.0, gt=0, le=3600)
    flush_rows: int = Field(50_000, ge=1, le=10_000_000)


def _row_log_tag(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "parquet"))
    return str(getattr(value, "type", "parquet"))


RowLog = Annotated[
    Annotated[ParquetRowLog, Tag("parquet")] | Annotated[PostgresRowLog, Tag("postgres")],
    Discriminator(
        _row_log_tag, custom_error_type="row_log_type", custom_error_message="expected type 'parquet' or 'postgres'"
    ),
]


class Online(StrictSection):
    """The live service's monitor: drift over the last `window_rows` rows, recomputed every `drift_every_s`.

    A column's PSI threshold is the project's own (presets.data_drift) where its drift method is psi,
    else `psi_threshold` (Evidently's default for PSI, 0.1).
    """

    window_rows: int = Field(1000, ge=30, le=1_000_000)
    drift_every_s: float = Field(5.0, gt=0, le=3600)
    psi_threshold: float = Field(0.1, gt=0)
    queue_rows: int = Field(100_000, ge=100, le=10_000_000, description="rows waiting for the monitor's thread at most")
    row_log: RowLog | None = None
