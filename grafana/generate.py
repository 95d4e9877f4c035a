"""Render the dashboards to JSON, write them into a folder, or check a folder against them (CI's drift check)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from evmon.errors import EvmonError
from evmon.grafana import (
    data_quality,
    explanations,
    fairness,
    feature_drift,
    model_quality,
    online,
    outliers,
    overview,
    service_health,
    service_prometheus,
)

DEFAULT_DIR = Path("grafana/dashboards")  # relative to the current folder, like ./projects.yaml
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "overview.json": overview.build,
    "data_quality.json": data_quality.build,
    "feature_drift.json": feature_drift.build,
    "model_quality.json": model_quality.build,
    "fairness.json": fairness.build,
    "outliers.json": outliers.build,
    "explanations.json": explanations.build,
    "service_health.json": service_health.build,
    "service_prometheus.json": service_prometheus.build,
    "online.json": online.build,
}


def render(dashboard: Dashboard) -> str:
    """A dashboard's JSON as committed: two-space indent, UTF-8 kept, a trailing newline."""
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """Every dashboard: its file name -> its JSON (the same text on every run)."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def write(folder: Path) -> list[Path]:
    """Write every dashboard into `folder` (created if missing); the files written, in order."""
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in render_all().items():
            path = folder / name
            path.write_bytes(text.encode("utf-8"))
            written.append(path)
    except OSError as exc:
        raise EvmonError(f"cannot write the dashboards into {folder}: {exc}") from exc
    return written


def check(folder: Path) -> list[str]:
    """The file names in `folder` that differ from the generator or are missing, then the .json it does not write."""
    expected = render_all()
    try:
        stale = [name for name, text in expected.items() if _read(folder / name) != text.encode("utf-8")]
        extra = sorted(path.name for path in folder.glob("*.json") if path.name not in expected)
    except OSError as exc:
        raise EvmonError(f"cannot read the dashboards in {folder}: {exc}") from exc
    return stale + extra


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def explain(folder: Path, name: str) -> str:
    """The line `evmon grafana-dashboards --check` prints for a file that check() names."""
    path = folder / name
    fix = "evmon grafana-dashboards" + ("" if folder == DEFAULT_DIR else f" --dir {folder}")
    if name not in DASHBOARDS:
        return f"{path}: not written by the generator (delete it, or add its module to grafana/generate.py)"
    if not path.is_file():
        return f"{path}: missing (run: {fix})"
    return f"{path}: differs from the generator (run: {fix})"
