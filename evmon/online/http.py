"""The service's requests: count, latency, errors, in flight, per model and version.

FastAPI or Starlette: `instrument(app, monitor)` adds starlette-exporter's middleware (the
ecosystem's, not ours) with the model and version as labels, and `/metrics`. Any other framework:
`Calls(model, version).call("predict")` around each request writes the same metric names and
labels (method "CALL"), so the same Prometheus rules and Grafana panels read either. A process uses
one or the other: both register the same names in Prometheus' default registry.

    evmon_online_http_requests_total{method, path, status_code, app_name, model, version}
    evmon_online_http_request_duration_seconds_bucket{... le}
    evmon_online_http_requests_in_progress{method, app_name, model, version}
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from evmon.online.monitor import Monitor

PREFIX = "evmon_online_http"
# finer than Prometheus' defaults below 5 ms: a scorecard answers in about a millisecond
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def instrument(app: Any, monitor: Monitor, *, metrics_path: str = "/metrics") -> None:
    """starlette-exporter's middleware on a FastAPI or Starlette `app`, labelled with the monitor's model and
    version, and `metrics_path` serving Prometheus' default registry (the monitor's metrics with it)."""
    from starlette_exporter import PrometheusMiddleware

    app.add_middleware(
        PrometheusMiddleware,
        app_name=monitor.project.name,
        prefix=PREFIX,
        labels={"model": monitor.project.name, "version": monitor.version},
        buckets=LATENCY_BUCKETS,
        skip_paths=[metrics_path],
        group_paths=True,
    )
    app.add_route(metrics_path, _metrics)


def _metrics(request: Any) -> Any:
    """Prometheus' default registry in the format the scraper asks for (Accept), as prometheus_client's own
    server answers (starlette-exporter's handler always says text version 1.0.0)."""
    from prometheus_client.exposition import choose_encoder
    from starlette.responses import Response

    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), headers={"Content-Type": content_type})


class Calls:
    """The same request metrics for a service without Starlette: `with calls.call("predict"): ...`."""

    def __init__(self, model: str, version: str, registry: CollectorRegistry = REGISTRY) -> None:
        labels = ("method", "path", "status_code", "app_name", "model", "version")
        self._ids = (model, version)
        self._total = Counter(PREFIX + "_requests", "HTTP requests", labels, registry=registry)
        self._time = Histogram(
            PREFIX + "_request_duration_seconds",
            "HTTP request duration, in seconds",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._in_flight = Gauge(
            PREFIX + "_requests_in_progress",
            "Total HTTP requests currently in progress",
            ("method", "app_name", "model", "version"),
            registry=registry,
        )

    @contextmanager
    def call(self, path: str) -> Iterator[None]:
        """Count and time one call; an exception is a status 500 (and goes on up)."""
        model, version = self._ids
        in_flight = self._in_flight.labels("CALL", model, model, version)
        in_flight.inc()
        begin, status = time.perf_counter(), "200"
        try:
            yield
        except BaseException:
            status = "500"
            raise
        finally:
            in_flight.dec()
            labels = ("CALL", path, status, model, model, version)
            self._time.labels(*labels).observe(time.perf_counter() - begin)
            self._total.labels(*labels).inc()
