"""The service's requests: count, latency, errors, in flight, per model and version.

FastAPI or Starlette: `instrument(app, monitor)` adds `RequestMetrics`, an ASGI middleware writing
starlette-exporter's metrics (its names, labels and route grouping: the path label is the route's
template, found by starlette-exporter's own matcher once per method and path and then kept), and
`/metrics`. starlette-exporter's own middleware cost ~0.15 ms of CPU a request (a Request object, the
URL parsed and every route matched again on each request): at 500 requests/s it was 8.5 of the 10.3
points of a core evmon.online added; with this middleware the whole adds 1.8 (bench/online.py). Any other framework:
`Calls(model, version).call("predict")` around each request writes the same metric names and labels
(method "CALL"), so the same Prometheus rules and Grafana panels read either.

    evmon_online_http_requests_total{method, path, status_code, app_name, model, version}
    evmon_online_http_request_duration_seconds_bucket{... le}
    evmon_online_http_requests_in_progress{method, app_name, model, version}

An unmatched path (a 404 of no route) is not counted, as starlette-exporter's default
(filter_unhandled_paths) does; nor is `/metrics`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from evmon.online.monitor import Monitor

PREFIX = "evmon_online_http"
# finer than Prometheus' defaults below 5 ms: a scorecard answers in about a millisecond
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LABELS = ("method", "path", "status_code", "app_name", "model", "version")
ROUTES_KEPT = 10_000  # (method, path) pairs whose route is remembered; past it, matched on each request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestMetricSet:
    total: Counter
    duration: Histogram
    in_progress: Gauge


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, RequestMetricSet] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def request_metrics(registry: CollectorRegistry = REGISTRY) -> RequestMetricSet:
    """The request metrics registered in `registry` (once: the middleware and Calls share them)."""
    with _LOCK:
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = RequestMetricSet(
                Counter(PREFIX + "_requests", "Total HTTP requests", LABELS, registry=registry),
                Histogram(
                    PREFIX + "_request_duration_seconds",
                    "HTTP request duration, in seconds",
                    LABELS,
                    buckets=LATENCY_BUCKETS,
                    registry=registry,
                ),
                Gauge(
                    PREFIX + "_requests_in_progress",
                    "Total HTTP requests currently in progress",
                    ("method", "app_name", "model", "version"),
                    registry=registry,
                ),
            )
        return found


def instrument(app: Any, monitor: Monitor, *, metrics_path: str = "/metrics") -> None:
    """RequestMetrics on a FastAPI or Starlette `app`, labelled with the monitor's model and version, and
    `metrics_path` serving Prometheus' default registry (the monitor's metrics with it)."""
    app.add_middleware(RequestMetrics, model=monitor.project.name, version=monitor.version, skip_paths=(metrics_path,))
    app.add_route(metrics_path, _metrics)


class RequestMetrics:
    """ASGI middleware: each request counted and timed, labelled by method, route, status, model and version."""

    def __init__(
        self,
        app: App,
        *,
        model: str,
        version: str,
        skip_paths: Sequence[str] = ("/metrics",),
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.app = app
        self.model, self.version = model, version
        self.skip = frozenset(skip_paths)
        self.metrics = request_metrics(registry)
        self._routes: dict[tuple[str, str], str | None] = {}
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._in_progress: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        route = None if path in self.skip else self._route(scope, method, path)
        if route is None:
            await self.app(scope, receive, send)
            return
        in_progress = self._in_progress.get(method)
        if in_progress is None:
            in_progress = self._in_progress[method] = self.metrics.in_progress.labels(
                method, self.model, self.model, self.version
            )
        status = 500  # an exception that reaches here, as starlette-exporter counts it

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress.inc()
        begin = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - begin
            in_progress.dec()
            key = (method, route, status)
            series = self._series.get(key)
            if series is None:
                labels = (method, route, str(status), self.model, self.model, self.version)
                series = self._series[key] = (
                    self.metrics.total.labels(*labels),
                    self.metrics.duration.labels(*labels),
                )
            series[1].observe(elapsed)
            series[0].inc()

    def _route(self, scope: Scope, method: str, path: str) -> str | None:
        """The template of the route `path` reaches (starlette-exporter's matcher), None: no route."""
        key = (method, path)
        if key in self._routes:
            return self._routes[key]
        from starlette_exporter.middleware import get_matching_route_path

        app = scope.get("app")
        route = get_matching_route_path(dict(scope), list(getattr(app, "routes", ())))
        if len(self._routes) < ROUTES_KEPT:
            self._routes[key] = route
        return route


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
        self._ids = (model, version)
        metrics = request_metrics(registry)
        self._total, self._time, self._in_flight = metrics.total, metrics.duration, metrics.in_progress

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
