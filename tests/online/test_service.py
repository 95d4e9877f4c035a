"""The demo's credit model served for real (uvicorn, a process of its own), driven by the demo's traffic,
scraped on /metrics, and by a real Prometheus that evaluates prometheus/rules/online.yml."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from evmon.demo.traffic import drive, replay_days, requests
from tests.online.helpers import demo_service
from tests.prometheus.tools import RULES_DIR, needs_prometheus, prometheus_server, samples, scrape, value

LIVE = "credit_scorecard_live"  # the project the demo service is watched as (projects.yaml)
LABELS = {"model": LIVE, "version": "2026-01"}
SENT = 600


@pytest.fixture()
def service(tmp_path: Path, demo_dir: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """The demo service on a free port, its rows logged under tmp_path/online; stopped by SIGTERM."""
    online = {"drift_every_s": 0.5, "row_log": {"path": str(tmp_path / "online"), "flush_every_s": 1}}
    with demo_service(tmp_path, demo_dir, online) as (url, process):
        yield url, tmp_path, process


def metric(url: str, name: str, **labels: str) -> float:
    try:
        return value(samples(scrape(url + "/metrics")), name, **LABELS, **labels)
    except KeyError:
        return 0.0


def wait_metric(url: str, name: str, expected: float, timeout: float = 30, **labels: str) -> float:
    deadline = time.monotonic() + timeout
    while (found := metric(url, name, **labels)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def post(url: str, body: dict[str, object]) -> int:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url + "/score", data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_served_model_is_counted_timed_watched_and_logged(
    service: tuple[str, Path, subprocess.Popen[bytes]], demo_dir: Path
) -> None:
    url, _folder, _process = service
    data = demo_dir / "demo_data"
    assert asyncio.run(drive(url, requests(data, replay_days(data)), rate=300, total=SENT)) == SENT
    assert post(url, {"ExternalRiskEstimate": "high", "region": "north"}) == 422  # the service's answer
    assert post(url, {"region": "atlantis"}) == 200  # every feature missing, an unknown region: imputed

    assert wait_metric(url, "evmon_online_rows_total", SENT + 2) == SENT + 2
    ok = {"method": "POST", "path": "/score", "app_name": LIVE}
    assert metric(url, "evmon_online_http_requests_total", status_code="200", **ok) == SENT + 1
    assert metric(url, "evmon_online_http_requests_total", status_code="422", **ok) == 1
    assert metric(url, "evmon_online_http_request_duration_seconds_count", status_code="200", **ok) == SENT + 1
    assert metric(url, "evmon_online_http_requests_in_progress", method="POST", app_name=LIVE) == 0
    assert metric(url, "evmon_online_prediction_score_count") == SENT + 1
    problems = "evmon_online_feature_problems_total"
    assert metric(url, problems, feature="ExternalRiskEstimate", problem="mistyped") == 1
    assert metric(url, problems, feature="region", problem="unknown_category") == 1
    assert metric(url, problems, feature="AverageMInFile", problem="missing") == 2  # the two bad requests
    assert wait_metric(url, "evmon_online_window_rows", SENT + 2) == SENT + 2
    assert metric(url, "evmon_online_psi", column="ExternalRiskEstimate") > 0  # the gauges are there
    assert wait_metric(url, "evmon_online_rows_logged_total", SENT + 2) == SENT + 2
    assert metric(url, "evmon_online_model_info", team="risk") == 1  # its project's owner: the alerts' route


def test_a_clean_stop_writes_every_waiting_row(
    service: tuple[str, Path, subprocess.Popen[bytes]], demo_dir: Path
) -> None:
    url, folder, process = service
    data = demo_dir / "demo_data"
    asyncio.run(drive(url, requests(data, replay_days(data)), rate=500, total=200))
    process.send_signal(signal.SIGTERM)  # as docker stop, or Ctrl-C
    process.wait(timeout=30)  # uvicorn shuts down (the app's lifespan ends), then re-raises the signal
    assert "Traceback" not in (folder / "service.log").read_text()
    assert len(pd.read_parquet(folder / "online")) == 200


@needs_prometheus
def test_a_real_prometheus_scrapes_the_service_and_records_its_rules(
    service: tuple[str, Path, subprocess.Popen[bytes]], demo_dir: Path
) -> None:
    url, folder, _process = service
    data = demo_dir / "demo_data"
    rules = [RULES_DIR / "rules" / "online.yml"]
    with prometheus_server(folder / "prometheus", {"evmon-model": url.removeprefix("http://")}, rules) as prometheus:
        prometheus.wait_for("up", lambda found: any(v == 1 for v in found.values()), timeout=30)
        assert post(url, {"region": "north"}) == 200  # the request series exist before the traffic: its rise is seen
        requests_total = f'sum(evmon_online_http_requests_total{{model="{LIVE}"}})'
        prometheus.wait_for(requests_total, lambda f: 1 in f.values(), timeout=60)
        asyncio.run(drive(url, requests(data, replay_days(data)), rate=50, total=300))
        found = prometheus.wait_for(
            f'evmon_online_rows_total{{model="{LIVE}"}}', lambda f: 301 in f.values(), timeout=60
        )
        assert len(found) == 1
        # the rules' values while the traffic ran (after it, a rate is 0 and a quantile NaN)
        rate = "max_over_time(model_version:evmon_online_requests:rate1m[10m])"
        rates = prometheus.wait_for(rate, lambda f: any(v > 0 for v in f.values()), 60)
        assert [dict(k)["model"] for k in rates] == [LIVE]
        quantile = "max_over_time(model_version:evmon_online_latency_seconds:p99_5m[10m])"
        p99 = prometheus.wait_for(quantile, lambda f: bool(f), timeout=60)
        assert all(0 < v <= 10 for v in p99.values())  # within the buckets (0.5 ms to 10 s; the machine may be loaded)
