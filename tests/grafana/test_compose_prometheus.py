"""docker-compose.yml's Prometheus and Alertmanager, checked without a Docker engine.

The compose file is read as data (tests/grafana/compose.py); the shipped prometheus/prometheus.yml
and prometheus/alertmanager.yml are run by the real programs (Debian's prometheus 2.42 and
prometheus-alertmanager 0.25, what run.sh installs) with the services' own command lines, the
container paths replaced by the repo's files they mount. The images are newer (pinned below): what
runs here is the subset both understand, except `url_file`, which Alertmanager has since 0.26.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import pytest
import yaml

from evmon.errors import EvmonError
from evmon.processes import free_port, wait_ready
from tests.grafana.compose import compose, container_to_repo, env_example, mounts, service, service_env
from tests.prometheus.tools import (
    IN_CI,
    PROMETHEUS,
    RULES_DIR,
    needs_prometheus,
    needs_promtool,
    promtool,
    rules_of,
)

PROMETHEUS_YML = RULES_DIR / "prometheus.yml"
ALERTMANAGER_YML = RULES_DIR / "alertmanager.yml"
START_SCRIPT = RULES_DIR / "alertmanager-start.sh"
START_SCRIPT_IN_CONTAINER = "/etc/alertmanager/alertmanager-start.sh"
METRICS_SERVICES = ("scheduler", "bridge")
WEBHOOK_ENV = "EVMON_ALERT_WEBHOOK_URL"
AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
NO_ALERTMANAGER = "Debian's prometheus-alertmanager is not installed (alertmanager and amtool)"
needs_amtool = pytest.mark.skipif(AMTOOL is None and not IN_CI, reason=NO_ALERTMANAGER)
needs_alertmanager = pytest.mark.skipif(ALERTMANAGER is None and not IN_CI, reason=NO_ALERTMANAGER)


def scrape_config() -> dict[str, Any]:
    return dict(yaml.safe_load(PROMETHEUS_YML.read_text()))


def option(args: list[str], name: str) -> str:
    """The value of `--name V` or `--name=V` in a command line."""
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {args}")


def command(name: str) -> list[str]:
    return [str(arg) for arg in service(name)["command"]]


def repo_path(name: str, container_path: str) -> Path:
    found = container_to_repo(name, container_path)
    assert found is not None, f"{name}: {container_path} is not mounted from the repo"
    return found


def test_the_scheduler_and_the_bridge_serve_metrics_to_the_compose_network_only() -> None:
    """Each binds 0.0.0.0 in its container on a port of its own, published nowhere; Prometheus's targets
    are exactly those service:port pairs, in jobs the rules' `job=~"evmon-.*"` matches."""
    wanted = set()
    for name in METRICS_SERVICES:
        args = command(name)
        assert option(args, "--metrics-host") == "0.0.0.0", name
        wanted.add(f"{name}:{int(option(args, '--metrics-port'))}")
        assert "ports" not in service(name), f"{name}: /metrics is for Prometheus, not the host"
    assert len({t.split(":")[1] for t in wanted}) == 2, "two ports"
    jobs = scrape_config()["scrape_configs"]
    targets = {t for job in jobs for static in job["static_configs"] for t in static["targets"]}
    assert targets == wanted | {"model:8090"}  # and the demo's model service (profile model)
    assert all(re.fullmatch("evmon-.*", job["job_name"]) for job in jobs if job["job_name"] != "model")
    assert 'up{job=~"evmon-.*"}' in (RULES_DIR / "rules" / "evmon.yml").read_text()


def test_prometheus_runs_the_repos_config_and_rules_on_a_volume_of_its_own() -> None:
    spec, args = service("prometheus"), command("prometheus")
    assert re.fullmatch(r"prom/prometheus:v[23]\.\d+\.\d+", spec["image"]), "a pinned 2.x or 3.x release"
    assert "profiles" not in spec, "Prometheus starts with the stack"
    config = option(args, "--config.file")
    assert repo_path("prometheus", config) == PROMETHEUS_YML
    assert all(str(v).endswith(":ro") for v in spec["volumes"] if str(v).startswith("./")), "read-only"
    # rule_files are relative to the config file, in the container: they reach the repo's rules
    for pattern in scrape_config()["rule_files"]:
        in_container = PurePosixPath(config).parent / pattern
        folder = repo_path("prometheus", str(in_container.parent))
        assert sorted(folder.glob(in_container.name)) == [RULES_DIR / "rules" / n for n in ("evmon.yml", "online.yml")]
    storage = option(args, "--storage.tsdb.path")
    assert [s for s, t in mounts("prometheus") if t == storage] == ["prometheus-data"]
    assert "prometheus-data" in compose()["volumes"]
    assert spec["ports"] == ["127.0.0.1:9090:9090"], "the host's loopback only"
    assert (
        spec["healthcheck"]["test"][:2] == ["CMD", "wget"]
        and "http://127.0.0.1:9090/-/ready" in spec["healthcheck"]["test"]
    )
    assert set(spec["depends_on"]) == set(METRICS_SERVICES)


def test_alertmanager_is_a_profile_and_prometheus_alerts_it() -> None:
    spec = service("alertmanager")
    assert spec["profiles"] == ["alertmanager"]
    pinned = re.fullmatch(r"prom/alertmanager:v0\.(\d+)\.\d+", spec["image"])
    assert pinned, spec["image"]
    assert int(pinned.group(1)) >= 26, "url_file (the webhook URL from a file) needs Alertmanager 0.26 or newer"
    [alerting] = scrape_config()["alerting"]["alertmanagers"]
    assert alerting["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    assert spec["ports"] == ["127.0.0.1:9093:9093"] and "http://127.0.0.1:9093/-/ready" in spec["healthcheck"]["test"]
    args = command("alertmanager")
    # the generated start script runs Alertmanager on its copy of the generated config (their default paths)
    assert spec["entrypoint"] == ["/bin/sh", START_SCRIPT_IN_CONTAINER]
    assert repo_path("alertmanager", START_SCRIPT_IN_CONTAINER) == START_SCRIPT
    assert repo_path("alertmanager", "/etc/alertmanager/alertmanager.yml") == ALERTMANAGER_YML
    assert 'src="${EVMON_ALERTMANAGER_CONFIG:-/etc/alertmanager/alertmanager.yml}"' in START_SCRIPT.read_text()
    assert [s for s, t in mounts("alertmanager") if t == option(args, "--storage.path")] == ["alertmanager-data"]
    # the webhook URL: .env's (compose refuses to start without it), the one Grafana's alerts use
    raw = spec["environment"][WEBHOOK_ENV]
    assert re.fullmatch(rf"\$\{{{WEBHOOK_ENV}:\?[^}}]+\}}", raw) and WEBHOOK_ENV in env_example()
    assert service_env("alertmanager")[WEBHOOK_ENV] == service_env("grafana")[WEBHOOK_ENV]
    # each team's destination variable reaches the script (optional there: unset, the default receiver)
    for variable in re.findall(r"^evmon_team \S+ (.*)$", START_SCRIPT.read_text(), re.M):
        for name in re.findall(r'(\w+) "\$\{\w+:-\}"', variable):
            assert spec["environment"][name] == f"${{{name}:-}}" and name in env_example(), name


@needs_promtool
def test_promtool_accepts_the_shipped_config_with_its_alerting() -> None:
    done = promtool("check", "config", str(PROMETHEUS_YML))
    assert done.returncode == 0, done.stdout + done.stderr
    evmon, online = (len(rules_of(RULES_DIR / "rules" / name)) for name in ("evmon.yml", "online.yml"))
    assert "SUCCESS: 2 rule files found" in done.stdout and f"SUCCESS: {evmon} rules found" in done.stdout
    assert f"SUCCESS: {online} rules found" in done.stdout and (evmon, online) >= (24, 12)


def url_file() -> str:
    [receiver] = [r for r in yaml.safe_load(ALERTMANAGER_YML.read_text())["receivers"] if r["name"] == "evmon-webhook"]
    [webhook] = receiver["webhook_configs"]
    return str(webhook["url_file"])


def test_the_start_script_writes_the_webhook_url_where_the_config_reads_it(tmp_path: Path) -> None:
    """The script, run by a real sh: the URLs from the environment land verbatim in the files the config
    reads (relative to its copy of the config), then the program is exec'd with the copy and the service's
    command line (compose passes it after the script)."""
    stub = tmp_path / "alertmanager"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    stub.chmod(0o755)
    url = "https://relay.example.org/hooks/evmon?token=a&b='c' d"
    env = {WEBHOOK_ENV: url, "PATH": "/usr/bin:/bin", "EVMON_ALERTMANAGER_BIN": str(stub)}
    env |= {"EVMON_ALERTMANAGER_CONFIG": str(ALERTMANAGER_YML), "EVMON_ALERTMANAGER_DIR": str(tmp_path / "run")}
    env |= {"EVMON_RISK_WEBHOOK_URL": "https://risk.example.org/x"}
    done = subprocess.run(
        ["/bin/sh", str(START_SCRIPT), *command("alertmanager")], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "run" / url_file()).read_text() == url
    assert (tmp_path / "run" / "EVMON_RISK_WEBHOOK_URL").read_text() == "https://risk.example.org/x"
    assert (tmp_path / "run" / "alertmanager.yml").read_text() == ALERTMANAGER_YML.read_text()
    assert (tmp_path / "args").read_text().splitlines() == ["--config.file=alertmanager.yml", *command("alertmanager")]
    # without the default receiver's URL: one line, no start
    done = subprocess.run(
        ["/bin/sh", str(START_SCRIPT)],
        env={k: v for k, v in env.items() if k != WEBHOOK_ENV},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"evmon: {WEBHOOK_ENV} is not set: the default receiver needs it (a webhook URL)"
    ]


def amtool_version() -> tuple[int, int]:
    assert AMTOOL is not None, NO_ALERTMANAGER
    out = subprocess.run([AMTOOL, "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def local_config(folder: Path, url: str) -> Path:
    """prometheus/alertmanager.yml for a local Alertmanager: Debian's 0.25 predates url_file (0.26), so
    its copy names the URL inline; a newer one reads it from a file, as in the container."""
    text = ALERTMANAGER_YML.read_text()
    if amtool_version() >= (0, 26):
        (folder / "url").write_text(url)
        text = text.replace(f"url_file: {url_file()}", f"url_file: {folder / 'url'}")
    else:
        text = text.replace(f"url_file: {url_file()}", f"url: {json.dumps(url)}")
        text = re.sub(r"\b(url|api_url)_file: (\w+)", r'\1: "http://127.0.0.1:9/\2"', text)  # the teams'
    assert text != ALERTMANAGER_YML.read_text()
    path = folder / "alertmanager.yml"
    path.write_text(text)
    return path


@needs_amtool
def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    checked = subprocess.run(
        [AMTOOL or "amtool", "check-config", str(local_config(tmp_path, env_example()[WEBHOOK_ENV]))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    teams = len(re.findall(r"^  - name: evmon-team-", ALERTMANAGER_YML.read_text(), re.M))
    assert "SUCCESS" in checked.stdout and f" - {1 + teams} receivers" in checked.stdout
    broken = tmp_path / "broken.yml"
    text = local_config(tmp_path, "http://x.invalid/").read_text()
    broken.write_text(text.replace("receiver: evmon-webhook\n", "receiver: other\n", 1))
    assert subprocess.run([AMTOOL or "amtool", "check-config", str(broken)], capture_output=True).returncode == 1


# --- real processes -----------------------------------------------------------------------------------


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    try:
        wait_ready(url, process, timeout)
    except EvmonError as exc:
        raise AssertionError(f"{exc}: {log.read_text(errors='replace')[-3000:]}") from exc


@contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def local_args(name: str, replace: dict[str, str], listen: str) -> list[str]:
    """The service's command line with container paths replaced, listening on 127.0.0.1 here."""
    out = []
    for arg in command(name):
        flag, eq, _ = arg.partition("=")
        out.append(f"{flag}={replace[flag]}" if eq and flag in replace else arg)
    return [*out, f"--web.listen-address={listen}"]


def api(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}/api/v1/{path}", timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def eventually(read: Callable[[], Any], wanted: Any, timeout: float = 20) -> None:
    """`read()` == `wanted` within `timeout` (service discovery runs after /-/ready answers)."""
    deadline = time.monotonic() + timeout
    while (found := read()) != wanted:
        assert time.monotonic() < deadline, f"still {found!r}, not {wanted!r}"
        time.sleep(0.3)


@needs_prometheus
def test_a_real_prometheus_runs_the_compose_command_line(tmp_path: Path) -> None:
    """prometheus with the service's flags and the shipped config: ready on the healthcheck's path, the 23
    rules loaded, the two evmon targets and the alertmanager listed (none of those names resolves here)."""
    port = free_port()
    config = tmp_path / "prometheus" / "prometheus.yml"
    shutil.copytree(RULES_DIR, config.parent)  # what the service mounts at /etc/prometheus
    args = local_args(
        "prometheus", {"--config.file": str(config), "--storage.tsdb.path": str(tmp_path / "data")}, f"127.0.0.1:{port}"
    )
    base = f"http://127.0.0.1:{port}"
    with running([PROMETHEUS or "prometheus", *args], tmp_path / "prometheus.log") as process:
        wait_http(base + "/-/ready", process, tmp_path / "prometheus.log")
        groups = api(base, "rules")["groups"]
        shipped = len(rules_of(RULES_DIR / "rules" / "evmon.yml")) + len(rules_of(RULES_DIR / "rules" / "online.yml"))
        assert sum(len(g["rules"]) for g in groups) == shipped and {g["file"] for g in groups} == {
            str(config.parent / "rules" / "evmon.yml"),
            str(config.parent / "rules" / "online.yml"),
        }
        eventually(
            lambda: {(t["labels"]["job"], t["scrapeUrl"]) for t in api(base, "targets")["activeTargets"]},
            {
                ("evmon-scheduler", "http://scheduler:9481/metrics"),
                ("evmon-bridge", "http://bridge:9482/metrics"),
                ("model", "http://model:8090/metrics"),
            },
        )
        eventually(
            lambda: api(base, "alertmanagers")["activeAlertmanagers"],
            [{"url": "http://alertmanager:9093/api/v2/alerts"}],
        )
        assert api(base, "status/flags")["storage.tsdb.retention.time"] == "30d"


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@needs_prometheus
@needs_alertmanager
def test_an_alert_reaches_the_webhook_through_the_shipped_alertmanager_config(tmp_path: Path) -> None:
    """A real Prometheus (the shipped prometheus.yml's alerting section, pointed at this Alertmanager)
    fires an alert; a real Alertmanager (the shipped config and the service's flags) POSTs it to the
    webhook, grouped by alert and project, after the config's group_wait."""
    Webhook.received = []
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    am_port, prom_port = free_port(), free_port()
    am_config = local_config(tmp_path, f"http://127.0.0.1:{hook.server_port}/evmon-alerts")
    am_args = [
        f"--config.file={am_config}",  # what the start script passes: its copy of the shipped config
        *local_args("alertmanager", {"--storage.path": str(tmp_path / "am")}, f"127.0.0.1:{am_port}"),
    ]
    assert "--cluster.listen-address=" in am_args, "one instance: no gossip port"
    rules = tmp_path / "rules.yml"
    alert = {"alert": "EvmonTestAlert", "expr": "vector(1)", "labels": {"project": "taxi_duration"}}
    rules.write_text(yaml.safe_dump({"groups": [{"name": "test", "rules": [alert]}]}))
    prom_config = scrape_config() | {"scrape_configs": [], "rule_files": [str(rules)]}
    prom_config["global"] = prom_config["global"] | {"evaluation_interval": "1s"}
    prom_config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{am_port}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
    prom_args = [
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        # the first send can find no Alertmanager discovered yet (dropped): resend after 1 s, not 1 min
        "--rules.alert.resend-delay=1s",
    ]
    group_wait = 30  # the shipped config's
    assert yaml.safe_load(ALERTMANAGER_YML.read_text())["route"]["group_wait"] == f"{group_wait}s"
    try:
        with (
            running([ALERTMANAGER or "alertmanager", *am_args], tmp_path / "am.log") as am,
            running([PROMETHEUS or "prometheus", *prom_args], tmp_path / "prometheus.log") as prometheus,
        ):
            wait_http(f"http://127.0.0.1:{am_port}/-/ready", am, tmp_path / "am.log")
            wait_http(f"http://127.0.0.1:{prom_port}/-/ready", prometheus, tmp_path / "prometheus.log")
            started = time.monotonic()
            while not Webhook.received and time.monotonic() - started < group_wait + 30:
                time.sleep(0.5)
            waited = time.monotonic() - started
    finally:
        hook.shutdown()
    assert Webhook.received, (tmp_path / "am.log").read_text()[-3000:]
    [payload] = Webhook.received[:1]
    assert waited >= group_wait - 2, f"delivered after {waited:.1f}s, before the group_wait"
    assert payload["receiver"] == "evmon-webhook" and payload["status"] == "firing"
    assert payload["groupLabels"] == {"alertname": "EvmonTestAlert", "project": "taxi_duration"}
    [fired] = payload["alerts"]
    assert fired["labels"]["alertname"] == "EvmonTestAlert" and fired["status"] == "firing"
