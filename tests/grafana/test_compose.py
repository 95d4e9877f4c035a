"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import yaml

from evmon.bridge.settings import DSN_ENV, GRAFANA_PASSWORD_ENV, GRAFANA_ROLE_ENV
from evmon.cli import cli
from evmon.services.ui import SECRET_ENV
from tests.grafana.compose import (
    COMPOSE,
    compose,
    container_to_repo,
    env_example,
    mounts,
    service,
    service_env,
    variables_used,
)
from tests.grafana.provisioned import REPO

APP_SERVICES = ("demo-data", "scheduler", "bridge", "ui", "app")


def test_compose_validates_against_the_compose_spec() -> None:
    tool = Path(sys.executable).with_name("check-jsonschema")
    command = str(tool) if tool.exists() else shutil.which("check-jsonschema")
    assert command, "check-jsonschema is a test dependency (pip install -e '.[test]')"
    done = subprocess.run(
        [command, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert compose()["name"] == "evmon"


def test_services_and_their_dependencies_exist() -> None:
    services = compose()["services"]
    assert {"postgres", "grafana", "ui", "scheduler", "bridge", "app"} <= set(services)
    for name, spec in services.items():
        depends = spec.get("depends_on", {})
        for target in depends if isinstance(depends, list) else depends.keys():
            assert target in services and target != name, f"{name} depends on unknown service {target!r}"
    declared = set(compose().get("volumes") or {})
    for name in services:
        for source, _ in mounts(name):
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repo"
            else:
                assert source in declared, f"{name} uses undeclared volume {source!r}"


def test_postgres_and_grafana() -> None:
    postgres = service("postgres")
    assert postgres["healthcheck"]["test"] and any(t == "/var/lib/postgresql" for _, t in mounts("postgres"))
    assert service("bridge")["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = service_env("grafana")
    raw = service("grafana")["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", raw["GF_SECURITY_ADMIN_PASSWORD"])
    assert container_to_repo("grafana", "/etc/grafana/provisioning/datasources/evmon.yaml") == (
        REPO / "grafana" / "provisioning" / "datasources" / "evmon.yaml"
    )


def test_the_app_services_share_one_image_and_one_data_volume() -> None:
    for name in APP_SERVICES:
        spec, env = service(name), service_env(name)
        assert spec["build"] == "." and spec["image"] == "evmon:local", name
        assert env["DO_NOT_TRACK"] == "1", name
        data = [t for s, t in mounts(name) if not s.startswith(".")]
        assert data == ["/data"], f"{name}: one named volume at /data"
        for key in ("EVMON_WORKSPACE", "EVMON_STAGING", "EVMON_ARCHIVE", "EVMON_QUARANTINE", "EVMON_CONFIG"):
            assert env[key].startswith("/data/"), f"{name}: {key} must be on the /data volume"
        for key in ("EVMON_STAGING", "EVMON_QUARANTINE"):
            assert not env[key].startswith(env["EVMON_WORKSPACE"] + "/"), f"{name}: {key} outside the workspace"
        assert container_to_repo(name, env["EVMON_CONFIG"]) == REPO / "projects.yaml"
    bridge = service_env("bridge")
    assert bridge[DSN_ENV].startswith("postgresql://") and "@postgres:5432/" in bridge[DSN_ENV]
    assert {GRAFANA_ROLE_ENV, GRAFANA_PASSWORD_ENV} <= set(bridge)


def test_service_commands_are_real_evmon_commands() -> None:
    for name in APP_SERVICES:
        args = [str(a) for a in service(name)["command"]]
        command = cli.commands.get(args[0])
        assert isinstance(command, click.Command), f"{name}: `evmon {args[0]}` does not exist"
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for arg in args[1:]:
            if arg.startswith("-"):
                assert arg in options, f"{name}: `evmon {args[0]}` has no option {arg}"
    for name, port in (("ui", "8000"), ("app", "8501")):
        args = [str(a) for a in service(name)["command"]]
        assert args[args.index("--host") + 1] == "0.0.0.0", f"{name} must listen on all container interfaces"
        assert args[args.index("--port") + 1] == port
        assert f"127.0.0.1:{port}:{port}" in service(name)["ports"], f"{name}: publish on the host's loopback only"


def test_the_ui_runs_with_its_write_api_closed() -> None:
    """`evmon ui` always closes the UI's writes; the secret comes from .env (empty: random), never the command."""
    raw = service("ui")["environment"]
    assert raw[SECRET_ENV] == f"${{{SECRET_ENV}:-}}"
    assert service_env("ui")[SECRET_ENV] == "" and env_example()[SECRET_ENV] == ""  # nothing to leak from the example
    assert not any("secret" in str(arg).lower() for arg in service("ui")["command"])
    assert SECRET_ENV not in service_env("app") and SECRET_ENV not in service_env("bridge")  # only the UI holds it


def test_every_required_variable_is_in_env_example() -> None:
    example = env_example()
    for name, op in variables_used():
        if op in (None, ":?", "?"):
            assert name in example, f"docker-compose.yml needs {name}; add it to .env.example"
    for key, value in example.items():
        if "PASSWORD" in key:
            assert value.startswith("change-me"), f".env.example: {key} must be a placeholder"
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_the_dockerfile_copies_files_that_exist() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()}
    copies = re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile, re.M)
    assert copies
    for line in copies:
        *sources, _target = line.split()
        for source in sources:
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repo"
            assert source.split("/")[0] not in ignored, f".dockerignore excludes {source}"
    assert "pip install" in dockerfile and 'ENTRYPOINT ["evmon"]' in dockerfile
    for key in ("EVMON_WORKSPACE=/data/workspace", "EVMON_STAGING=/data/.staging", "EVMON_ARCHIVE=/data/.archive"):
        assert key in dockerfile


def test_the_dockerfile_builds_every_package_of_pyproject(tmp_path: Path) -> None:
    """The dependency layer installs a skeleton of the one `evmon` package: its script (run here on a copy
    of pyproject.toml, as the image's build runs it) must make every package folder of pyproject's
    package-dir mapping (a missing one fails `pip install .`), and every folder holding evmon's code must
    be copied in afterwards."""
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools["package-dir"]
    folders = set()
    for package in setuptools["packages"]:
        top = max((name for name in mapping if (package + ".").startswith(name + ".")), key=len)
        folders.add("/".join([mapping[top], *package.split(".")[len(top.split(".")) :]]))
    dockerfile = (REPO / "Dockerfile").read_text()
    skeleton = re.search(r"^RUN python - <<'PY'\n(.+?)\nPY\nRUN pip install '\.\[", dockerfile, re.M | re.S)
    assert skeleton is not None, "the Dockerfile's dependency layer (a python script, then pip install) was not found"
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    subprocess.run([sys.executable, "-"], input=skeleton.group(1), text=True, cwd=tmp_path, check=True)
    made = {str(p.parent.relative_to(tmp_path)) for p in tmp_path.rglob("__init__.py")}
    assert made == folders
    copied = {line.split()[0] for line in re.findall(r"^COPY\s+(?!--from)(.+)$", dockerfile, re.M)}
    assert {folder.split("/")[0] for folder in folders} <= copied


def test_the_dask_profile_runs_a_scheduler_and_two_workers_of_the_evmon_image() -> None:
    """`--profile dask`: real `dask scheduler`/`dask worker` commands; workers get the data, read-only, never
    the workspace; the evmon services submit to it when EVMON_EXECUTOR says so (empty: projects.yaml's)."""
    from click.testing import CliRunner

    scheduler, worker = service("dask-scheduler"), service("dask-worker")
    assert scheduler["profiles"] == ["dask"] and worker["profiles"] == ["dask"]
    assert scheduler["image"] == worker["image"] == "evmon:local"
    assert scheduler["entrypoint"] == ["dask", "scheduler"] and "--port" in scheduler["command"]
    port = scheduler["command"][scheduler["command"].index("--port") + 1]
    assert worker["entrypoint"] == ["dask", "worker"] and worker["command"][0] == f"tcp://dask-scheduler:{port}"
    assert worker["deploy"]["replicas"] == 2 and "dask-scheduler" in worker["depends_on"]
    assert ("evmon-data", "/data") in [(s, t) for s, t, *_ in (m.split(":") for m in worker["volumes"])]
    assert all(m.endswith(":ro") for m in worker["volumes"]), "workers read the data; only evmon's services write"
    for name in ("scheduler", "app", "demo-data"):
        assert service(name)["environment"]["EVMON_EXECUTOR"] == "${EVMON_EXECUTOR:-}", name
    dockerfile = (REPO / "Dockerfile").read_text()
    extras = "dask,s3,online,explain"  # explain: the demo's models are explained each day (shap, skops)
    assert f"pip install '.[{extras}]'" in dockerfile and f"pip install --no-deps '.[{extras}]'" in dockerfile
    # the address docs/scaling.md tells to set is one the CLI takes, and empty means projects.yaml's executor
    for value in (f"dask://dask-scheduler:{port}", ""):
        done = CliRunner().invoke(cli, ["backfill", "--help"], env={"EVMON_EXECUTOR": value})
        assert done.exit_code == 0, done.output
    refused = CliRunner().invoke(cli, ["run", "p", "--day", "2026-03-01"], env={"EVMON_EXECUTOR": "dask:/x"})
    assert (
        refused.exit_code == 2 and "'dask:/x' is not an executor; expected local or dask://HOST:PORT" in refused.output
    )


def test_the_model_profile_serves_the_credit_model_with_its_traffic_and_prometheus_scrapes_it() -> None:
    model, traffic = service("model"), service("traffic")
    assert model["profiles"] == traffic["profiles"] == ["model"]
    assert model["image"] == traffic["image"] == "evmon:local"
    assert model["entrypoint"] == ["python", "-m", "evmon.demo.service"]
    assert traffic["entrypoint"] == ["python", "-m", "evmon.demo.traffic"]
    port = model["command"][model["command"].index("--port") + 1]
    assert model["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert traffic["command"][traffic["command"].index("--url") + 1] == f"http://model:{port}"
    assert traffic["depends_on"]["model"]["condition"] == "service_healthy"
    prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "model"]
    assert job["static_configs"] == [{"targets": [f"model:{port}"]}]
