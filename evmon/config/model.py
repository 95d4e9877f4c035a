"""The config model of projects.yaml: pydantic models, unknown keys forbidden, cross-checked.

Loading (YAML, ${ENV} interpolation, relative paths, error messages) is in evmon.config.loader.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from evmon.config.explain import ModelFile, check_model_columns
from evmon.config.fairness import Fairness, check_fairness
from evmon.config.online import Online
from evmon.config.outliers import Outliers, check_outlier_columns
from evmon.config.presets import DEFAULT_MAX_CATEGORIES as DEFAULT_MAX_CATEGORIES
from evmon.config.presets import ColumnDrift as ColumnDrift
from evmon.config.presets import DataDrift as DataDrift
from evmon.config.presets import Presets as Presets
from evmon.config.presets import switch
from evmon.config.sections import _UNSET as _UNSET  # re-exported: evmon.config.loader reads AtKey's values with it
from evmon.config.sections import (
    AppSettings,
    AtKey,
    BridgeSettings,
    Estimation,
    ExecutorSettings,
    MetricsSettings,
    Reference,
    UiSettings,
    _check_location,
)
from evmon.config.teams import Team, check_owners, check_tags
from evmon.drift import DRIFT_METHODS

PROJECT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# presets.data_drift.max_categories by default: Evidently's drift of a categorical column grows far
# faster than its distinct values; 30,000 is the most a day's Report computes within a minute
# (bench/high_cardinality.py; docs/running.md "How many categories" has the figures)
# settings added after snapshots recorded their project's config hash: left out of the hash while
# they hold their default, so a project that does not set them keeps its hash (and its days' bytes)
_HASHED_UNLESS_DEFAULT: dict[tuple[str, ...], Any] = {
    ("presets", "data_drift", "max_categories"): DEFAULT_MAX_CATEGORIES,
    ("fairness",): None,
    ("fairness", "favourable"): "positive",
    ("outliers",): None,
    ("model",): None,
}

# who owns a project changes where its alerts go, never what its snapshots hold
_NOT_HASHED = {"owner", "tags", "online"}  # nor how the live service is watched (evmon.online)


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, values are immutable after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA timezone such as 'UTC' or 'Europe/Berlin'") from exc
    return value


class FileSource(StrictModel):
    """Daily data in Parquet or CSV files."""

    type: Literal["files"] = "files"
    path: str = Field(description="a file path or glob, relative to projects.yaml, or an s3://, gs://, abfs:// URL")
    format: Literal["auto", "parquet", "csv"] = "auto"
    timestamp_column: str
    timestamp_timezone: str = Field("UTC", description="how naive timestamps in the data are read")

    _tz = field_validator("timestamp_timezone")(_check_timezone)

    @model_validator(mode="after")
    def _supported_url(self) -> FileSource:
        _check_location(self.path)
        return self


class SqlSource(StrictModel):
    """Daily data from a SQL query; the window is passed as the :start and :end parameters."""

    type: Literal["sql"]
    dsn_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    query: str
    timestamp_column: str
    timestamp_timezone: str = "UTC"

    _tz = field_validator("timestamp_timezone")(_check_timezone)

    @field_validator("query")
    @classmethod
    def _window_parameters(cls, value: str) -> str:
        missing = [p for p in (":start", ":end") if not re.search(re.escape(p) + r"\b", value)]
        if missing:
            raise ValueError(
                f"the query must filter on the window parameters :start and :end (missing {', '.join(missing)})"
            )
        return value


def _source_tag(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "files"))
    return str(getattr(value, "type", "files"))


Source = Annotated[
    Annotated[FileSource, Tag("files")] | Annotated[SqlSource, Tag("sql")],
    Discriminator(_source_tag, custom_error_type="source_type", custom_error_message="expected type 'files' or 'sql'"),
]


class Prediction(StrictModel):
    """The model's output column and what it holds."""

    column: str
    kind: Literal["probability", "label", "regression"]


class Columns(StrictModel):
    """Column roles; every column may have one role only."""

    numerical: list[str] = []
    categorical: list[str] = []
    target: str | None = None
    prediction: Prediction | None = None
    positive_label: int | str | bool = 1

    @model_validator(mode="after")
    def _each_column_once(self) -> Columns:
        seen: dict[str, str] = {}
        roles = [(f"numerical[{i}]", c) for i, c in enumerate(self.numerical)]
        roles += [(f"categorical[{i}]", c) for i, c in enumerate(self.categorical)]
        if self.target is not None:
            roles.append(("target", self.target))
        if self.prediction is not None:
            roles.append(("prediction.column", self.prediction.column))
        for role, column in roles:
            if column in seen:
                message = f"column {column!r} is listed twice (already as {seen[column]}); expected one role per column"
                raise AtKey(role, message, column)
            seen[column] = role
        if not self.numerical and not self.categorical:
            raise ValueError("declare at least one numerical or categorical column")
        return self

    def features(self) -> list[str]:
        return [*self.numerical, *self.categorical]

    def kind_of(self, column: str) -> str | None:
        """'num' or 'cat' for a feature or the prediction, None for an unknown column."""
        if column in self.numerical:
            return "num"
        if column in self.categorical:
            return "cat"
        if self.prediction is not None and column == self.prediction.column:
            return "cat" if self.prediction.kind == "label" else "num"
        return None

    def all_columns(self) -> list[str]:
        extra = [c for c in (self.target, self.prediction.column if self.prediction else None) if c]
        return [*self.features(), *extra]


class Retention(StrictModel):
    """How long daily snapshots stay full in the workspace before they are compacted.

    A compacted snapshot keeps the metric values its UI dashboard shows and loses its plot
    payloads (its report view); its full original is archived beside the workspace.
    """

    full_days: int = Field(7, ge=1, le=36600)
    compact: bool = True


class Project(StrictModel):
    """One monitored model."""

    name: str = Field(pattern=PROJECT_NAME_PATTERN)
    description: str = ""
    enabled: bool = True
    timezone: str = "UTC"
    source: Source
    reference: Reference
    columns: Columns
    presets: Presets
    segments: list[str] = []
    schedule: str = "0 2 * * *"
    label_lag_days: int = Field(0, ge=0, le=366)
    max_catchup_days: int = Field(7, ge=1, le=3660)
    retention: Retention = Retention()
    fairness: Fairness | None = None  # evmon.config.fairness
    outliers: Annotated[Outliers | None, BeforeValidator(switch)] = None
    model: ModelFile | None = None  # evmon.config.explain: the model file explained each day
    owner: str | None = Field(None, description="the team (under teams:) whose alerts about this model go to it")
    tags: dict[str, str] = Field({}, description="free labels such as tier: critical, on every alert of the project")
    online: Online | None = None  # evmon.config.online: the live service's monitor (evmon.online)

    _tz = field_validator("timezone")(_check_timezone)

    @property
    def ui_description(self) -> str:
        """What the Evidently UI shows as the project's description: projects.yaml's, then its owner and
        tags (the UI's project list is where users look a model up; written again at the next run)."""
        parts = [self.description] if self.description else []
        if self.owner is not None:
            parts.append(f"owner: {self.owner}")
        if self.tags:
            parts.append("tags: " + ", ".join(f"{name}={value}" for name, value in sorted(self.tags.items())))
        return " · ".join(parts)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"not a valid cron expression ({exc}); expected 5 fields such as '0 2 * * *' "
                "(minute hour day-of-month month day-of-week)"
            ) from exc
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Project:
        cols, presets = self.columns, self.presets
        pred = cols.prediction
        if presets.classification is not None and (cols.target is None or pred is None or pred.kind == "regression"):
            raise AtKey(
                "presets.classification",
                "needs columns.target and columns.prediction with kind 'probability' or 'label'",
            )
        if presets.regression is not None and (cols.target is None or pred is None or pred.kind != "regression"):
            raise AtKey("presets.regression", "needs columns.target and columns.prediction with kind 'regression'")
        if presets.estimation is not None:
            self._check_estimation(presets.estimation)
        drift = presets.data_drift
        if drift is not None:
            self._check_drift_columns(drift)
        for i, segment in enumerate(self.segments):
            if segment not in cols.categorical:
                raise AtKey(
                    f"segments[{i}]", "a segment column must be one of columns.categorical", segment, cols.categorical
                )
        if self.segments and presets.classification is None and presets.regression is None:
            raise AtKey(
                "segments", "segments get their own quality metrics: enable presets.classification or regression"
            )
        if self.fairness is not None:
            check_fairness(self.fairness, cols.categorical, pred.kind if pred is not None else None)
        check_outlier_columns(self.outliers, cols.features())
        check_model_columns(self.model, cols.features())
        check_tags(self.tags)
        if self.source.timestamp_column in cols.all_columns():
            raise AtKey(
                "source.timestamp_column",
                "is also listed under columns; expected the timestamp column to be separate",
                self.source.timestamp_column,
            )
        return self

    def _check_estimation(self, estimation: Estimation) -> None:
        pred = self.columns.prediction
        if pred is not None and pred.kind == "label":
            needs = "estimation needs probability scores or a regression prediction"
            raise AtKey("presets.estimation", f"{needs}; columns.prediction.kind is 'label'")
        if self.columns.target is None or pred is None:
            message = "needs columns.target and columns.prediction with kind 'probability' (CBPE) or 'regression' (DLE)"
            raise AtKey("presets.estimation", message)
        if estimation.threshold is not None and pred.kind == "regression":
            message = "a threshold is for probability scores (CBPE); columns.prediction.kind is 'regression'"
            raise AtKey("presets.estimation.threshold", message, estimation.threshold)

    def _check_drift_columns(self, drift: DataDrift) -> None:
        checks = [("num", drift.num_method, "num_method"), ("cat", drift.cat_method, "cat_method")]
        for kind, method, key in checks:
            if method is not None and kind not in DRIFT_METHODS[method]:
                raise AtKey(f"presets.data_drift.{key}", f"this method does not apply to {kind} columns", method)
        for column, override in drift.columns.items():
            column_kind = self.columns.kind_of(column)
            if column_kind is None:
                close = difflib.get_close_matches(column, self.drift_columns(), n=1)
                raise AtKey(
                    f"presets.data_drift.columns.{column}",
                    "not a declared numerical, categorical or prediction column"
                    + (f"; did you mean {close[0]!r}?" if close else ""),
                )
            if override.method is not None and column_kind not in DRIFT_METHODS[override.method]:
                raise AtKey(
                    f"presets.data_drift.columns.{column}.method",
                    f"does not apply to {'numerical' if column_kind == 'num' else 'categorical'} column {column!r}",
                    override.method,
                )
        if drift.method is not None:
            kinds = {self.columns.kind_of(c) for c in self.drift_columns()}
            unfit = sorted(k for k in kinds if k is not None and k not in DRIFT_METHODS[drift.method])
            if unfit:
                raise AtKey(
                    "presets.data_drift.method",
                    f"does not apply to {unfit[0]} columns; set num_method and cat_method instead",
                    drift.method,
                )

    def drift_columns(self) -> list[str]:
        """The columns the drift preset looks at: features, and the prediction unless excluded."""
        columns = self.columns.features()
        drift = self.presets.data_drift
        include = drift is None or drift.include_prediction
        if include and self.columns.prediction is not None:
            columns.append(self.columns.prediction.column)
        return columns

    @property
    def has_quality(self) -> bool:
        return self.presets.classification is not None or self.presets.regression is not None

    def config_hash(self) -> str:
        """A short fingerprint of this project's settings, stored with every snapshot."""
        dumped = self.model_dump(mode="json", exclude=_NOT_HASHED)
        for (*path, key), default in _HASHED_UNLESS_DEFAULT.items():
            section: Any = dumped
            for name in path:
                section = section.get(name) if isinstance(section, dict) else None
            if isinstance(section, dict) and key in section and section[key] == default:
                del section[key]
        payload = json.dumps(dumped, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]


class EvmonConfig(StrictModel):
    """The whole of projects.yaml."""

    workspace: Path = Path("workspace")
    projects: list[Project]
    bridge: BridgeSettings = BridgeSettings()
    app: AppSettings = AppSettings()
    executor: ExecutorSettings = ExecutorSettings()
    ui: UiSettings = UiSettings()
    metrics: MetricsSettings = MetricsSettings()
    teams: dict[str, Team] = Field({}, description="team name to where its alerts go (evmon.config.teams)")
    _source_file: Path = PrivateAttr(default=Path("projects.yaml"))

    @property
    def source_file(self) -> Path:
        """The file this config was loaded from; relative paths in it start at its folder."""
        return self._source_file

    @property
    def base_dir(self) -> Path:
        return self._source_file.parent

    @model_validator(mode="after")
    def _unique_names(self) -> EvmonConfig:
        seen: dict[str, int] = {}
        for i, project in enumerate(self.projects):
            if project.name in seen:
                raise AtKey(
                    f"projects[{i}].name",
                    f"already the name of projects[{seen[project.name]}]; expected unique project names",
                    project.name,
                )
            seen[project.name] = i
        check_owners(self.teams, self.projects)
        return self

    def resolve(self, path: str | Path) -> Path:
        """A path from the file, relative to the file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def anchored(self) -> EvmonConfig:
        """This config with its file's path made absolute (against this process's working directory).

        What another process is sent (a Dask worker started in another folder): the relative paths
        in it then resolve to the files they name here, wherever they are read. The paths themselves
        stay as written, so each project's config_hash (in every snapshot) is the same everywhere.
        """
        copy = self.model_copy()
        copy._source_file = self._source_file.absolute()
        return copy

    def project(self, name: str) -> Project:
        from evmon.errors import UnknownProjectError

        for project in self.projects:
            if project.name == name:
                return project
        known = ", ".join(p.name for p in self.projects) or "none"
        raise UnknownProjectError(f"no project named {name!r} in {self.source_file}; projects: {known}")
