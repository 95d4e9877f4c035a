"""Evidently's own reading of a snapshot: what its UI accepts, the parsed model, its HTML report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidently._pydantic_compat import ValidationError, parse_obj_as
from evidently.core.report import Snapshot
from evidently.core.serialization import SnapshotModel

from evmon.errors import WorkspaceError

__all__ = ["SnapshotModel", "parse_snapshot", "report_html", "snapshot_problem"]


def snapshot_problem(doc: Mapping[str, Any]) -> str | None:
    """Why Evidently's loader (the UI's) rejects a parsed snapshot document; None if it accepts it."""
    try:
        parse_obj_as(SnapshotModel, doc)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"] if part != "__root__") or "(top level)"
        more = f"; and {len(errors) - 1} more" if len(errors) > 1 else ""
        return f"not an Evidently snapshot ({where}: {first['msg']}{more})"
    return None


def parse_snapshot(doc: Mapping[str, Any], what: str) -> SnapshotModel:
    """Evidently's model of a parsed snapshot document; WorkspaceError naming `what` if it is not one."""
    try:
        return parse_obj_as(SnapshotModel, doc)
    except ValidationError as exc:
        raise WorkspaceError(f"{what} is not a readable Evidently snapshot: {exc}") from exc


def report_html(model: SnapshotModel) -> str:
    """Evidently's own standalone HTML of a snapshot: its JavaScript and font embedded, no network."""
    return str(Snapshot.load_model(model).get_html_str(as_iframe=False))


def with_metadata(model: SnapshotModel, extra: Mapping[str, str]) -> SnapshotModel:
    """A copy of the snapshot with `extra` added to its metadata."""
    return model.copy(update={"metadata": {**model.metadata, **extra}})
