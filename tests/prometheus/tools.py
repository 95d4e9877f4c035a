"""Debian's Prometheus for the tests (`prometheus` and `promtool`: apt-get install prometheus), and scraping.

Without it a test that needs it skips with the reason, on a developer's machine; under CI=true (what
.ci/run sets) it runs and fails instead, so a CI machine without Prometheus cannot pass quietly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from evmon.errors import EvmonError
from evmon.processes import free_port, wait_ready
from tests.conftest import REPO

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
NO_PROMETHEUS = "Debian's prometheus is not installed (apt-get install prometheus: prometheus and promtool)"
IN_CI = os.environ.get("CI", "").lower() == "true"
needs_promtool = pytest.mark.skipif(PROMTOOL is None and not IN_CI, reason=NO_PROMETHEUS)
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None and not IN_CI, reason=NO_PROMETHEUS)
RULES_DIR = REPO / "prometheus"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, NO_PROMETHEUS
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# --- /metrics ---------------------------------------------------------------------------------------


def scrape(url: str) -> str:
    """One GET of a /metrics URL, as Prometheus does it."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(response.read().decode())


def samples(text: str) -> Samples:
    """Every sample of an exposition, by (name, sorted labels), parsed by prometheus_client's own parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def of_metric(found: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in found.items() if n == name}


def family_names(text: str) -> set[str]:
    """The metric families of an exposition (counters without _total, as docs/grafana-prometheus.md lists them
    with it)."""
    return {
        f.name + ("_total" if f.type == "counter" else "")
        for f in text_string_to_metric_families(text)
        if not f.name.startswith("process_")
    }


def rules_of(path: Path) -> list[dict[str, Any]]:
    """The rules of a Prometheus rules file, every group's in order."""
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def documented_metrics() -> set[str]:
    """The metric names in the "Prometheus metrics" table of docs/grafana-prometheus.md."""
    page = (REPO / "docs" / "grafana-prometheus.md").read_text()
    section = page.split("## Prometheus metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)`", section, flags=re.MULTILINE))


# --- a real Prometheus server -------------------------------------------------------------------------


class PrometheusServer:
    """`prometheus` on 127.0.0.1 with a config of scrape jobs, asked through its HTTP API."""

    def __init__(self, folder: Path, jobs: dict[str, str], rule_files: list[Path], interval: str = "1s") -> None:
        assert PROMETHEUS is not None, NO_PROMETHEUS
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [t]}]} for job, t in jobs.items()],
        }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "prometheus.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        try:
            wait_ready(f"{self.url}/-/ready", self.process, timeout)
        except EvmonError as exc:
            raise AssertionError(f"prometheus not ready: {exc}: {self.log_text()}") from exc

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query (/api/v1/query): each series' labels (without __name__) -> its value."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
            for r in data["result"]
        }

    def wait_for(
        self, expr: str, check: Callable[[dict[tuple[tuple[str, str], ...], float]], bool], timeout: float
    ) -> dict[tuple[tuple[str, str], ...], float]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(expr)
            if check(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr}: still {found} after {timeout:.0f}s")
            time.sleep(0.5)

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


@contextmanager
def prometheus_server(folder: Path, jobs: dict[str, str], rule_files: list[Path]) -> Iterator[PrometheusServer]:
    server = PrometheusServer(folder, jobs, rule_files)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
