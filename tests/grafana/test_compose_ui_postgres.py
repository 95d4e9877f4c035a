"""docker-compose.ui-postgres.yml: the Evidently UI on Postgres with two replicas behind one address,
checked without a Docker engine (merged over docker-compose.yml as `docker compose -f a -f b` does)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from evmon.config.loader import load_config
from evmon.storage.postgres import PostgresWorkspace
from evmon.storage.registry import workspace_for
from tests.grafana.compose import COMPOSE, env_example, interpolate
from tests.grafana.provisioned import REPO

OVERRIDE = REPO / "docker-compose.ui-postgres.yml"
EVMON_SERVICES = ("demo-data", "scheduler", "bridge", "ui", "app")


class Reset:
    """Compose's `!reset` tag: the key's value from earlier files is dropped."""


class ComposeLoader(yaml.SafeLoader):
    pass


ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())


def load(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(), Loader=ComposeLoader)  # a SafeLoader with one tag more
    assert isinstance(doc, dict)
    return doc


def merge(base: Any, override: Any) -> Any:
    """Compose's merge of a later file: mappings key by key, `!reset` drops, sequences of ports append."""
    if isinstance(override, Reset):
        return None
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            merged = merge(base.get(key), value)
            if merged is None and isinstance(value, Reset):
                out.pop(key, None)
            else:
                out[key] = merged
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + [item for item in override if item not in base]
    return copy.deepcopy(override)


def merged() -> dict[str, Any]:
    return merge(load(COMPOSE), {k: v for k, v in load(OVERRIDE).items() if not k.startswith("x-")})


def env_of(doc: dict[str, Any], name: str) -> dict[str, str]:
    raw = doc["services"][name].get("environment", {})
    return {key: interpolate(str(value), env_example()) for key, value in raw.items()}


def test_the_merged_stack_validates_against_the_compose_spec(tmp_path: Path) -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    command = str(tool) if tool.exists() else shutil.which("check-jsonschema")
    assert command, "check-jsonschema is a test dependency"
    target = tmp_path / "merged.yml"
    target.write_text(yaml.safe_dump(merged()))
    done = subprocess.run(
        [command, "--builtin-schema", "vendor.compose-spec", str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    overlay = load(OVERRIDE)["services"]
    assert set(overlay) - {"ui-lb"} <= set(load(COMPOSE)["services"]), "the override only adds the load balancer"


def test_every_evmon_service_reads_and_writes_the_uis_database_not_the_bridges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = merged()
    config = load_config(REPO / "projects.yaml")
    for name in EVMON_SERVICES:
        env = env_of(doc, name)
        assert env["EVMON_UI_STORAGE"] == "postgres", name
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        workspace = workspace_for(config)  # what each evmon command of that container opens
        assert isinstance(workspace, PostgresWorkspace), name
        assert workspace.db.where == f"postgres:5432/{env_example()['POSTGRES_DB']}_ui", name
    bridge_db = env_of(doc, "bridge")["EVMON_PG_DSN"].rsplit("/", 1)[1]
    assert bridge_db == env_example()["POSTGRES_DB"]  # Evidently's tables never land in the bridge's database
    for name in ("demo-data", "scheduler", "ui", "app"):
        assert doc["services"][name]["depends_on"]["postgres"] == {"condition": "service_healthy"}, name


def test_two_ui_replicas_behind_one_address_on_the_loopback() -> None:
    doc = merged()
    ui, lb = doc["services"]["ui"], doc["services"]["ui-lb"]
    assert ui["deploy"]["replicas"] == 2 and "ports" not in ui  # replicas cannot share a host port
    assert lb["ports"] == ["127.0.0.1:8000:8000"] and lb["depends_on"]["ui"]["condition"] == "service_healthy"
    assert ui["healthcheck"]["test"], "the balancer waits for a healthy replica"
    config = doc["configs"][lb["configs"][0]["source"]]["content"]
    assert lb["configs"][0]["target"] == "/etc/nginx/conf.d/default.conf"
    port = ui["command"][ui["command"].index("--port") + 1]
    assert re.search(rf"server ui:{port} resolve;", config) and "proxy_pass http://evidently_ui;" in config
    assert "listen 8000;" in config and "resolver 127.0.0.11" in config  # Docker's DNS: one address per replica
    assert "least_conn;" in config  # a replica busy with a series is not sent the next request
    # `$$` is compose's escape: nginx must see `$host`, not an interpolated (empty) variable
    assert "$$host" in config and interpolate(config, {}).count("$host") == 1
    major, minor = (int(x) for x in re.findall(r"nginx:(\d+)\.(\d+)", lb["image"])[0])
    assert (major, minor) >= (1, 28), "`resolve` in an upstream needs open-source nginx >= 1.27.3"
