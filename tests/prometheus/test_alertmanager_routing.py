"""Alertmanager: each evmon alert reaches its project's team, through the real Alertmanager binary.

The config and the start script are generated from `teams:` (three teams, five projects, one without
an owner: tests/fleet_owners.py); the script starts Debian's Alertmanager with destinations from the
environment, each a local HTTP receiver of this test. Every alert of prometheus/rules/evmon.yml about a
project is posted for each project with the labels the rules give it (the owner's team and tags:
promtool's unit tests show the rules give them), and each must arrive at its team's receiver only, the
unowned project's at the default one; so is every alert of prometheus/rules/online.yml, with the team each
project's real monitor exports (evmon_online_model_info). Debian ships Alertmanager 0.25, which predates url_file (0.26,
what docker-compose.yml runs): a shim between the script and the binary writes each destination
file's content into the config, as a 0.26 would read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from evmon.alerting import alertmanager, generate
from evmon.alerting.labels import INFO_RULE
from evmon.config.model import EvmonConfig
from evmon.errors import EvmonError
from evmon.online.monitor import Monitor
from evmon.processes import free_port, wait_ready
from tests.conftest import REPO
from tests.fleet_owners import FLEET, fleet_config
from tests.prometheus.tools import IN_CI

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")
ONLINE_INFO_RULE = "* on (model, version) group_left (team) model_version:evmon_online_model:info"
NO_ALERTMANAGER = "Debian's prometheus-alertmanager is not installed (alertmanager and amtool)"
needs_alertmanager = pytest.mark.skipif((ALERTMANAGER is None or AMTOOL is None) and not IN_CI, reason=NO_ALERTMANAGER)
POINTS = {"risk": "evmon-team-risk", "mobility": "evmon-team-mobility", "platform": "evmon-team-platform"}
SHIM = """\
import json, os, re, sys
from pathlib import Path
# Alertmanager 0.25 reads no url_file: each destination file's content, inline (what 0.26+ reads from it)
config = Path("alertmanager.yml")
inline = lambda m: m.group(1) + ": " + json.dumps(Path(m.group(2)).read_text())
config.write_text(re.sub(r"\\b(url|api_url)_file: (\\w+)", inline, config.read_text()))
os.execv({binary!r}, [{binary!r}, *sys.argv[1:]])
"""


def project_alerts() -> list[str]:
    """The alerts of prometheus/rules/evmon.yml that are about one project (joined with its owner)."""
    groups = yaml.safe_load((REPO / generate.PROMETHEUS_RULES).read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r and INFO_RULE in r["expr"]]


def online_alerts() -> list[str]:
    """The alerts of prometheus/rules/online.yml, each joined with its model's owner."""
    groups = yaml.safe_load((REPO / "prometheus" / "rules" / "online.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert all(ONLINE_INFO_RULE in r["expr"] and r["labels"]["project"] == "{{ $labels.model }}" for r in alerts)
    return [r["alert"] for r in alerts]


def online_labels_of(config: EvmonConfig, project: str, alert: str) -> dict[str, str]:
    """What the online rules give an alert about `project`'s service: the model, its version, the project, and
    the team its real monitor exports (evmon_online_model_info, from projects.yaml's owner; none without one)."""
    registry = CollectorRegistry()
    monitor = Monitor(config, project, version="2026-01", registry=registry)
    monitor.close()
    [info] = [s for m in registry.collect() if m.name == "evmon_online_model_info" for s in m.samples]
    assert info.value == 1 and info.labels["model"] == project
    team = {"team": info.labels["team"]} if info.labels["team"] else {}  # '' is no label to Prometheus
    return {
        "alertname": alert,
        "model": project,
        "version": "2026-01",
        "project": project,
        "severity": "warning",
    } | team


def labels_of(project: str, alert: str, tags: list[str]) -> dict[str, str]:
    """What the rules give an alert about `project`: the owner as team, its tags (no label where unset)."""
    owner, tagged = FLEET[project]
    found = {
        "alertname": alert,
        "project": project,
        "severity": "warning",
        **{t: tagged[t] for t in tags if t in tagged},
    }
    return found | ({"team": owner} if owner else {})


@dataclass
class Receivers:
    """Local HTTP receivers: what each path got, as (alertname, project) pairs."""

    port: int
    got: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def record(self, path: str, body: dict[str, Any]) -> None:
        if "alerts" in body:  # a webhook: Alertmanager's JSON
            pairs = [(a["labels"]["alertname"], a["labels"]["project"]) for a in body["alerts"]]
        else:  # Slack's JSON: the title names the group's labels (alertname, project)
            title = body["attachments"][0]["title"]
            pairs = [tuple(re.search(r"\] (\S+) (\S+)", title).groups())]  # type: ignore[union-attr]
        with self.lock:
            self.got.setdefault(path, []).extend(pairs)  # type: ignore[arg-type]

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.got.values())


@contextmanager
def receivers() -> Iterator[Receivers]:
    state = Receivers(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.record(self.path.strip("/"), body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def amtool_version() -> tuple[int, int]:
    out = subprocess.run([AMTOOL or "amtool", "--version"], capture_output=True, text=True, timeout=30)
    match = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def prepared(tmp_path: Path, config: EvmonConfig) -> tuple[Path, Path, str]:
    """The generated config (notifications sent after 1 s, not 30) and start script, and the binary to run."""
    source = tmp_path / "alertmanager.yml"
    source.write_text(alertmanager.render_config(config.teams).replace("group_wait: 30s", "group_wait: 1s"))
    script = tmp_path / "alertmanager-start.sh"
    script.write_text(alertmanager.render_script(config.teams))
    binary = ALERTMANAGER or "alertmanager"
    if amtool_version() < (0, 26):
        shim = tmp_path / "shim.py"
        shim.write_text(SHIM.format(binary=binary))
        wrapper = tmp_path / "alertmanager-0.25"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {shim} "$@"\n')
        wrapper.chmod(0o755)
        binary = str(wrapper)
    return source, script, binary


@contextmanager
def started(tmp_path: Path, config: EvmonConfig, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """Alertmanager started by the generated script; its URL and its log (the script's stderr first)."""
    source, script, binary = prepared(tmp_path, config)
    port = free_port()
    log = tmp_path / "alertmanager.log"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "EVMON_ALERTMANAGER_CONFIG": str(source),
        "EVMON_ALERTMANAGER_DIR": str(tmp_path / "run"),
        "EVMON_ALERTMANAGER_BIN": binary,
        **env,
    }
    args = [
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(["/bin/sh", str(script), *args], env=environment, stdout=out, stderr=out)
        try:
            try:
                wait_ready(f"http://127.0.0.1:{port}/-/ready", process, 30)
            except EvmonError as exc:
                raise AssertionError(f"{exc}: {log.read_text(errors='replace')[-3000:]}") from exc
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            process.wait(timeout=15)


def post(base: str, alerts: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": labels, "annotations": {"summary": "test"}} for labels in alerts]).encode()
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def wait_for(state: Receivers, count: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while state.count() < count:
        assert time.monotonic() < deadline, f"{state.count()} of {count} notifications: {state.got}\n{log.read_text()}"
        time.sleep(0.2)
    time.sleep(1.5)  # nothing more arrives (a second copy would)


def environment(state: Receivers, **unset: bool) -> dict[str, str]:
    env = {
        "EVMON_ALERT_WEBHOOK_URL": state.url("default"),
        "RISK_WEBHOOK_URL": state.url("risk"),
        "MOBILITY_SLACK_URL": state.url("mobility"),
        "PLATFORM_WEBHOOK_URL": state.url("platform"),
    }
    return {k: v for k, v in env.items() if not unset.get(k)}


@needs_alertmanager
def test_each_alert_reaches_its_projects_team(tmp_path: Path) -> None:
    config = fleet_config(tmp_path)
    alerts = project_alerts()
    assert len(alerts) == 11 and "EvmonDatasetDrift" in alerts and "EvmonProjectStale" in alerts
    tags = ["domain", "tier"]
    with receivers() as state, started(tmp_path, config, environment(state)) as (base, log):
        post(base, [labels_of(project, alert, tags) for project in FLEET for alert in alerts])
        wait_for(state, len(FLEET) * len(alerts), log)
        assert log.read_text().count("evmon:") == 0, "every destination was set: no line"
    path = {"risk": "risk", "mobility": "mobility", "platform": "platform", None: "default"}
    expected: dict[str, list[tuple[str, str]]] = {}
    for project, (owner, _) in FLEET.items():
        expected.setdefault(path[owner], []).extend((alert, project) for alert in alerts)
    assert {k: sorted(v) for k, v in state.got.items()} == {k: sorted(v) for k, v in expected.items()}


@needs_alertmanager
def test_each_online_alert_reaches_its_models_team(tmp_path: Path) -> None:
    """The live services' alerts (prometheus/rules/online.yml) go where the daily ones go: the owner's team."""
    config = fleet_config(tmp_path)
    alerts = online_alerts()
    assert len(alerts) == 4 and "EvmonOnlineColumnDrift" in alerts
    with receivers() as state, started(tmp_path, config, environment(state)) as (base, log):
        post(base, [online_labels_of(config, project, alert) for project in FLEET for alert in alerts])
        wait_for(state, len(FLEET) * len(alerts), log)
    path = {"risk": "risk", "mobility": "mobility", "platform": "platform", None: "default"}
    expected: dict[str, list[tuple[str, str]]] = {}
    for project, (owner, _) in FLEET.items():
        expected.setdefault(path[owner], []).extend((alert, project) for alert in alerts)
    assert {k: sorted(v) for k, v in state.got.items()} == {k: sorted(v) for k, v in expected.items()}


@needs_alertmanager
def test_amtool_routes_each_team_to_its_receiver(tmp_path: Path) -> None:
    """`amtool config routes test` on the generated config (and on the repository's): each team's label
    set to its receiver, none to the default."""
    repo = yaml.safe_load((REPO / "projects.yaml").read_text())
    for name, teams in (("fleet", fleet_config(tmp_path).teams), ("repo", None)):
        text = (REPO / generate.ALERTMANAGER).read_text() if teams is None else alertmanager.render_config(teams)
        if amtool_version() < (0, 26):
            text = re.sub(r"\b(url|api_url)_file: (\w+)", r'\1: "http://127.0.0.1:9/\2"', text)
        path = tmp_path / f"{name}.yml"
        path.write_text(text)
        checked = subprocess.run([AMTOOL or "amtool", "check-config", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        names = list(teams) if teams is not None else list(repo["teams"])
        for team in [*names, None]:
            labels = ["alertname=EvmonDatasetDrift", "project=p", *([f"team={team}"] if team else [])]
            done = subprocess.run(
                [AMTOOL or "amtool", "config", "routes", "test", f"--config.file={path}", *labels],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert done.stdout.strip() == (f"evmon-team-{team}" if team else "evmon-webhook"), (name, team)


@needs_alertmanager
def test_an_unset_destination_sends_that_teams_alerts_to_the_default_receiver(tmp_path: Path) -> None:
    """PLATFORM_WEBHOOK_URL unset at start: one line names it, and churn's alerts (team platform) reach
    the default receiver; the other teams are unchanged."""
    config = fleet_config(tmp_path)
    with receivers() as state, started(tmp_path, config, environment(state, PLATFORM_WEBHOOK_URL=True)) as (base, log):
        post(base, [labels_of(p, "EvmonDatasetDrift", ["domain", "tier"]) for p in ("churn", "fraud", "orphan")])
        wait_for(state, 3, log)
        lines = [line for line in log.read_text().splitlines() if line.startswith("evmon:")]
    assert lines == [
        "evmon: team platform: not set: PLATFORM_WEBHOOK_URL; its alerts go to the default receiver "
        "(EVMON_ALERT_WEBHOOK_URL)"
    ]
    assert {k: sorted(v) for k, v in state.got.items()} == {
        "default": [("EvmonDatasetDrift", "churn"), ("EvmonDatasetDrift", "orphan")],
        "risk": [("EvmonDatasetDrift", "fraud")],
    }
