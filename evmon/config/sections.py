"""Sections of projects.yaml that stand on their own: the services' (bridge, app, executor, metrics), a
project's data windows (reference, estimation): part of the one config model (evmon.config.model)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from evmon.config.locations import location_problem

_UNSET: Any = object()


class AtKey(ValueError):
    """A cross-field problem that belongs to a key below the validated model, e.g. columns.target."""

    def __init__(self, path: str, message: str, value: Any = _UNSET, choices: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.value = value
        close = difflib.get_close_matches(str(value), list(choices), n=1) if choices and value is not _UNSET else []
        self.hint = f"did you mean {close[0]!r}?" if close else None  # a typo of one of `choices`


def check_listed_columns(key: str, listed: Sequence[str], allowed: Sequence[str], what: str, if_empty: str) -> None:
    """Each of `listed` (the value at `key`) is one of `allowed`, listed once, and there is at least one."""
    if not listed:
        raise AtKey(key, f"is empty; {if_empty}")
    seen: set[str] = set()
    for i, column in enumerate(listed):
        if column not in allowed:
            raise AtKey(f"{key}[{i}]", f"not a declared {what}", column, allowed)
        if column in seen:
            raise AtKey(f"{key}[{i}]", "listed twice", column)
        seen.add(column)


class StrictSection(BaseModel):
    """A config section: unknown keys are errors, values are immutable after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_location(path: str | None) -> None:
    """A path that is a URL must be of a supported scheme and hold no credentials."""
    problem = location_problem(path) if path is not None else None
    if problem is not None:
        message, may_show = problem
        raise AtKey("path", message, path if may_show else _UNSET)


def _check_window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise AtKey("end", f"the window ends before it starts (start {start}); expected end >= start", end)


class Reference(StrictSection):
    """Reference data: a file, or a fixed window of days (inclusive) of the project's source."""

    _WHAT: ClassVar[str] = "reference"
    path: str | None = None
    format: Literal["auto", "parquet", "csv"] = "auto"
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _supported_url(self) -> Reference:
        _check_location(self.path)
        return self

    @model_validator(mode="after")
    def _one_kind(self) -> Reference:
        window = self.start is not None or self.end is not None
        if self.path is not None and window:
            raise ValueError("give either path (a file) or start and end (a window of the source), not both")
        if self.path is None and not window:
            raise ValueError("give either path (a file) or start and end (a window of the source)")
        if window and (self.start is None or self.end is None):
            raise ValueError(f"a {self._WHAT} window needs both start and end")
        _check_window(self.start, self.end)
        return self


class Calibration(Reference):
    """The labelled data an estimator is fitted on: a file, or a window of days of the project's source."""

    _WHAT: ClassVar[str] = "calibration"


class Window(StrictSection):
    """A window of days, both inclusive."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        _check_window(self.start, self.end)
        return self


class Estimation(StrictSection):
    """Model quality estimated for days without labels (CBPE for probability scores, DLE for regressors).

    Fitted on `calibration` (labelled data the model was not trained on; the reference when absent);
    `training`, the model's training window, is only there for `evmon validate` to warn of an overlap.
    """

    calibration: Calibration | None = None
    training: Window | None = None
    threshold: float | None = Field(
        default=None, gt=0, lt=1, description="CBPE's threshold; default: classification's probas_threshold, or 0.5"
    )
    band_level: float = Field(
        default=0.95, ge=0.5, le=0.99, description="the empirical band's nominal coverage (split-conformal)"
    )


class BridgeSettings(StrictSection):
    """The Postgres bridge (`evmon bridge`). Without a dsn (and no EVMON_PG_DSN), evmon starts an
    embedded PostgreSQL in embedded_dir (relative to projects.yaml), on 127.0.0.1:embedded_port."""

    dsn: str | None = Field(default=None, description="a libpq DSN or postgresql:// URL; use ${VAR} for secrets")
    interval_s: float = Field(default=5.0, gt=0, le=3600, description="seconds between two syncs of the service")
    embedded_port: int = Field(default=54329, ge=1024, le=65535)
    embedded_dir: str = ".evmon-pg"


class MetricsSettings(StrictSection):
    """Prometheus /metrics of the long-running services (`evmon scheduler`, `evmon bridge`), each on its
    own port; a port left unset keeps that service's endpoint off (`--metrics-port` turns it on too)."""

    host: str = Field(default="127.0.0.1", min_length=1, description="the address to bind; 0.0.0.0 in a container")
    scheduler_port: int | None = Field(default=None, ge=1, le=65535, description="evmon scheduler's /metrics")
    bridge_port: int | None = Field(default=None, ge=1, le=65535, description="evmon bridge's /metrics")

    @model_validator(mode="after")
    def _two_ports(self) -> MetricsSettings:
        if self.scheduler_port is not None and self.scheduler_port == self.bridge_port:
            raise ValueError("scheduler_port and bridge_port must differ (each service has its own port)")
        return self


EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str) -> str:
    if not EMAIL_PATTERN.match(value):
        raise ValueError("expected an e-mail address such as ana@example.org")
    return value


LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$", re.I)


def _check_host(value: str) -> str:
    """A host name or an IP address, as a browser's Host and Origin name it (without scheme or port)."""
    name = value.strip().lower()
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    if not HOST_NAME.match(name):
        raise ValueError("expected a host name or IP address without scheme or port, such as evmon.example.org")
    return name


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError("expected an IP address or network such as 127.0.0.1 or 10.0.0.0/8") from None
    return value.strip()


class AppSettings(StrictSection):
    """The Streamlit app (`evmon app`): whether it may change the workspace, and who may; which
    names browsers may reach it by, and which proxies in front of it it believes."""

    writes: bool | None = Field(
        default=None,
        description="re-runs and saves: unset = on for browsers on this machine when the app listens on 127.0.0.1",
    )
    writers: list[Annotated[str, AfterValidator(_check_email)]] = Field(
        default=[], description="with a login configured: the e-mails of who may write"
    )
    allowed_hosts: list[Annotated[str, AfterValidator(_check_host)]] = Field(
        default=[],
        description="names browsers may reach the app by (Host, Origin), beside the bound address and localhost",
    )
    trusted_proxies: list[Annotated[str, AfterValidator(_check_network)]] = Field(
        default=[],
        description="proxies whose X-Forwarded-For / Forwarded the app believes (addresses or networks)",
    )


class UiSettings(StrictSection):
    """Where the Evidently UI's snapshots and dashboards live: files in the workspace (the default), or
    Evidently's SQL storage in a Postgres database (a flat start, several UI replicas)."""

    storage: Literal["files", "postgres"] = "files"
    dsn: str | None = Field(
        default=None,
        description="the UI's database, postgresql://... (use ${VAR}); default: the bridge's server, db <name>_ui",
    )

    @model_validator(mode="after")
    def _dsn_is_postgres(self) -> UiSettings:
        url = ("postgresql://", "postgres://", "postgresql+psycopg://")
        if self.dsn is not None and not (self.dsn.startswith(url) or "=" in self.dsn):
            raise ValueError("dsn: expected a postgresql:// URL or a libpq DSN (host=... dbname=...)")
        return self


DASK_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")
DAY_TIMEOUT_S = 1800.0  # 30 min: far above a normal day (seconds), short of a day that never ends
TLS_ENV = {
    "ca_file": "EVMON_EXECUTOR_TLS_CA_FILE",
    "cert_file": "EVMON_EXECUTOR_TLS_CERT_FILE",
    "key_file": "EVMON_EXECUTOR_TLS_KEY_FILE",
}


class TlsFiles(StrictSection):
    """The PEM files of a tls:// Dask scheduler, relative to projects.yaml (each also EVMON_EXECUTOR_TLS_*)."""

    ca_file: str = Field(min_length=1, description="the CA that signed the scheduler's and the workers' certificates")
    cert_file: str = Field(min_length=1, description="this client's certificate, signed by that CA")
    key_file: str | None = Field(default=None, min_length=1, description="its private key, unless in cert_file")


class ExecutorSettings(StrictSection):
    """Where project-days are computed: local worker processes (the default) or a Dask cluster.

    On a cluster the workers compute (they need the data, not the workspace) and the process
    that owns the workspace writes each snapshot. `--executor` on the command line overrides
    type and address; the rest (tls, the time limits) still comes from here.
    """

    type: Literal["local", "dask"] = "local"
    address: str | None = Field(
        default=None, description="the Dask scheduler: tcp://HOST:PORT or tls://HOST:PORT (use ${VAR})"
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600)
    tls: TlsFiles | None = Field(default=None, description="certificates for a tls:// scheduler")
    day_timeout_s: float = Field(
        default=DAY_TIMEOUT_S, gt=0, le=86400, description="one project-day's time limit, on every executor"
    )

    @model_validator(mode="after")
    def _address_for_dask(self) -> ExecutorSettings:
        if self.type == "dask" and not self.address:
            raise ValueError("a Dask executor needs address: the scheduler's tcp://HOST:PORT")
        if self.address is not None and not DASK_ADDRESS.match(self.address):
            raise ValueError(f"address {self.address!r}: expected tcp://HOST:PORT or tls://HOST:PORT")
        if self.tls is not None and self.address is not None and not self.address.startswith("tls://"):
            raise AtKey(
                "address", "tls is set, so the scheduler is reached over TLS: expected tls://HOST:PORT", self.address
            )
        return self

    def overridden_by(self, chosen: ExecutorSettings | None) -> ExecutorSettings:
        """These settings with what `chosen` (--executor, EVMON_EXECUTOR, a caller) sets explicitly."""
        if chosen is None:
            return self
        return self.model_copy(update={key: getattr(chosen, key) for key in chosen.model_fields_set})

    def tls_paths(self, base_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, tuple[Path, str]]:
        """Each TLS file set: its key -> (its path, where it was set); EVMON_EXECUTOR_TLS_* win over `tls`.

        A path from projects.yaml is relative to its folder, one from the environment to the working directory.
        """
        env = os.environ if environ is None else environ
        found: dict[str, tuple[Path, str]] = {}
        for key, variable in TLS_ENV.items():
            from_env = env.get(variable, "").strip()
            from_file = getattr(self.tls, key) if self.tls is not None else None
            if from_env:
                found[key] = (Path(from_env).expanduser(), variable)
            elif from_file:
                path = Path(from_file).expanduser()
                found[key] = (path if path.is_absolute() else base_dir / path, f"executor.tls.{key}")
        return found


EXECUTOR_ENV = "EVMON_EXECUTOR"


def executor_from_environment(environ: Mapping[str, str] | None = None) -> ExecutorSettings | None:
    """EVMON_EXECUTOR (what --executor reads too), or None when unset or empty: projects.yaml's executor."""
    value = (os.environ if environ is None else environ).get(EXECUTOR_ENV, "").strip()
    if not value:
        return None
    try:
        return executor_from_option(value)
    except ValueError as exc:
        raise ValueError(f"{EXECUTOR_ENV}: {exc}") from exc


def executor_from_option(value: str) -> ExecutorSettings:
    """`--executor local`, `--executor dask://HOST:PORT` (or tcp:// / tls://); ValueError if neither."""
    if value == "local":
        return ExecutorSettings(type="local")  # set explicitly: it overrides projects.yaml's type
    address = "tcp://" + value.removeprefix("dask://") if value.startswith("dask://") else value
    if not DASK_ADDRESS.match(address):
        raise ValueError(f"{value!r} is not an executor; expected local or dask://HOST:PORT")
    return ExecutorSettings(type="dask", address=address)
