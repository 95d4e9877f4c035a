"""docker-compose.yml as data: services, interpolated environments, where container paths come from."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from tests.grafana.provisioned import REPO

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
# compose interpolation: $$ escapes; ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR
_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?+])([^}]*))?\}|\$(\w+)")


@cache
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # PyYAML's safe loader resolves << merge keys
    assert isinstance(doc, dict)
    return doc


def env_example() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def variables_used() -> list[tuple[str, str | None]]:
    """Every (variable, operator) interpolated in docker-compose.yml."""
    used = []
    for match in _INTERPOLATION.finditer(COMPOSE.read_text()):
        name = match.group(1) or match.group(4)
        if name:
            used.append((name, match.group(2)))
    return used


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        if name in env and (env[name] != "" or op is None or not op.startswith(":")):
            return env[name]
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return ""

    return _INTERPOLATION.sub(replace, value)


def service(name: str) -> dict[str, Any]:
    return dict(compose()["services"][name])


def service_env(name: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """A service's environment with the .env.example values interpolated."""
    values = env_example() if env is None else env
    raw = service(name).get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(str(value), values) for key, value in raw.items()}


def mounts(name: str) -> list[tuple[str, str]]:
    """(source, container target) of a service's volumes (short syntax)."""
    out = []
    for volume in service(name).get("volumes", []):
        if isinstance(volume, dict):
            out.append((str(volume["source"]), str(volume["target"])))
        else:
            source, target = str(volume).split(":")[:2]
            out.append((source, target))
    return out


def container_to_repo(name: str, path: str) -> Path | None:
    """The repo path a container path of a service comes from (its bind mounts), or None."""
    wanted = PurePosixPath(path)
    best: tuple[int, Path] | None = None
    for source, target in mounts(name):
        if not source.startswith("."):
            continue  # a named volume
        mount = PurePosixPath(target)
        if wanted == mount or mount in wanted.parents:
            rest = wanted.relative_to(mount)
            candidate = (REPO / source).resolve() / rest
            if best is None or len(mount.parts) > best[0]:
                best = (len(mount.parts), candidate)
    return None if best is None else best[1]
