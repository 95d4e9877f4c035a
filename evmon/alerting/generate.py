"""Write the alerting files from a projects.yaml, or check them (CI): `evmon alerting [--check]`.

Written whole: grafana/provisioning/alerting/notifications.yaml and grafana/grafana-start.sh,
prometheus/alertmanager.yml and prometheus/alertmanager-start.sh. Written in part (their label lines,
the rest by hand): the Grafana rules (grafana/provisioning/alerting/evmon.yaml) and the Prometheus
rules (prometheus/rules/evmon.yml).
Paths are relative to the root of an evmon checkout (the current folder by default).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evmon.alerting import alertmanager, grafana, labels
from evmon.config.model import EvmonConfig
from evmon.errors import EvmonError

NOTIFICATIONS = Path("grafana/provisioning/alerting/notifications.yaml")
GRAFANA_RULES = Path("grafana/provisioning/alerting/evmon.yaml")
ALERTMANAGER = Path("prometheus/alertmanager.yml")
START_SCRIPT = Path("prometheus/alertmanager-start.sh")
GRAFANA_SCRIPT = Path("grafana/grafana-start.sh")
PROMETHEUS_RULES = Path("prometheus/rules/evmon.yml")
FILES = (NOTIFICATIONS, GRAFANA_SCRIPT, GRAFANA_RULES, ALERTMANAGER, START_SCRIPT, PROMETHEUS_RULES)


def expected(config: EvmonConfig, root: Path) -> dict[Path, str]:
    """Each file's text as the generator writes it for `config` (the rules read from `root`, rewritten)."""
    tags = labels.tag_names(config)
    rewrite: dict[Path, Callable[[str], str]] = {
        GRAFANA_RULES: lambda text: labels.rewrite_grafana_rules(text, tags, str(root / GRAFANA_RULES)),
        PROMETHEUS_RULES: lambda text: labels.rewrite_prometheus_rules(text, tags, str(root / PROMETHEUS_RULES)),
    }
    out = {
        NOTIFICATIONS: grafana.render(config.teams),
        GRAFANA_SCRIPT: grafana.render_script(config.teams),
        ALERTMANAGER: alertmanager.render_config(config.teams),
        START_SCRIPT: alertmanager.render_script(config.teams),
    }
    for path, change in rewrite.items():
        text = _read(root / path)
        if text is None:
            raise EvmonError(f"{root / path}: missing (run evmon alerting in the root of an evmon checkout)")
        out[path] = change(text)
    return {path: out[path] for path in FILES}


def write(config: EvmonConfig, root: Path) -> list[Path]:
    """Write the files that differ; the ones written."""
    written = []
    for path, text in expected(config, root).items():
        if _read(root / path) != text:
            try:
                (root / path).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise EvmonError(f"cannot write {root / path}: {exc}") from exc
            written.append(root / path)
    return written


def check(config: EvmonConfig, root: Path) -> list[Path]:
    """The files that differ from what the generator writes for `config`."""
    return [root / path for path, text in expected(config, root).items() if _read(root / path) != text]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvmonError(f"cannot read {path}: {exc}") from exc
