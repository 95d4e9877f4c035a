"""Prometheus /metrics for evmon's long-running services, with the official `prometheus-client`.

Each service (`evmon scheduler`, `evmon bridge`) has its own CollectorRegistry (never the library's
global one) served over HTTP on its own port, bound to 127.0.0.1 unless told otherwise. The port
comes from `--metrics-port` or projects.yaml's `metrics` section (evmon.config.sections.MetricsSettings);
without either, the service serves no metrics. The services' own collectors (scheduler/metrics.py,
bridge/metrics.py) read their state at scrape time; this module holds what they share.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import TracebackType
from typing import Literal
from zoneinfo import ZoneInfo

from prometheus_client import (
    CollectorRegistry,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

import evmon
from evmon.config.sections import MetricsSettings
from evmon.errors import MetricsError

Service = Literal["scheduler", "bridge"]


@dataclass(frozen=True)
class MetricsAddress:
    """Where a service serves /metrics."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


def metrics_address(
    settings: MetricsSettings, service: Service, port: int | None = None, host: str | None = None
) -> MetricsAddress | None:
    """The service's /metrics address: `port`/`host` (the command line) over projects.yaml; None: off."""
    configured = settings.scheduler_port if service == "scheduler" else settings.bridge_port
    chosen = port if port is not None else configured
    if chosen is None:
        return None
    return MetricsAddress(host if host is not None else settings.host, chosen)


def new_registry(service: Service) -> CollectorRegistry:
    """A registry of the service's own: process metrics and evmon_build_info; the caller adds its collectors."""
    disable_created_metrics()  # no *_created series beside the counters (process-wide; evmon exports no others)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    build = Info("evmon_build", "evmon's version and the service exporting these metrics", registry=registry)
    build.info({"version": evmon.__version__, "service": service})
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """One scrape of `registry`, in the text exposition format (what /metrics answers)."""
    return generate_latest(registry)


class MetricsServer:
    """`registry` served over HTTP at `address` in a daemon thread, until stop()."""

    def __init__(self, registry: CollectorRegistry, address: MetricsAddress) -> None:
        try:
            self._server, self._thread = start_http_server(address.port, addr=address.host, registry=registry)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise MetricsError(f"metrics: cannot listen on {address.host}:{address.port}: {reason}") from exc
        self.address = MetricsAddress(address.host, int(self._server.server_port))
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop serving and close the port (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def day_start(day: date, timezone: str) -> float:
    """The Unix time of 00:00 of `day` in `timezone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).timestamp()


def day_end(day: date, timezone: str) -> float:
    """The Unix time of 24:00 of `day` in `timezone` (the start of the next day)."""
    return day_start(day + timedelta(days=1), timezone)
