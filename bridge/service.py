"""`evmon bridge` and the demo's bridge: the sync loop with its Postgres, started and stopped cleanly."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from evmon.bridge.embedded import EmbeddedPostgres
from evmon.bridge.metrics import serve_bridge_metrics
from evmon.bridge.sync import Bridge, SyncResult, open_bridge
from evmon.config.model import EvmonConfig
from evmon.dsn import where as dsn_where
from evmon.errors import BridgeError
from evmon.processes import StopSignals

log = logging.getLogger(__name__)
Echo = Callable[[str], None]
ONCE_PENDING_ROUNDS = 5


def sync_until_settled(bridge: Bridge, echo: Echo | None = None) -> SyncResult:
    """One sync; files caught mid-write are retried (a few rounds) once they have settled."""
    result = bridge.sync_once()
    rounds = 0
    while result.pending and rounds < ONCE_PENDING_ROUNDS:
        rounds += 1
        time.sleep(bridge.settle_s)
        again = bridge.sync_once()
        again.ingested += result.ingested
        again.deleted += result.deleted
        again.failed = result.failed + again.failed
        again.quarantined = result.quarantined + again.quarantined
        result = again
    if echo is not None:
        echo(result.line())
        for message in result.failed:
            echo(f"unreadable: {message}")
        for message in result.quarantined:
            echo(message)
    return result


def run_bridge(
    config: EvmonConfig,
    *,
    once: bool,
    interval_s: float | None,
    echo: Echo,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
) -> bool:
    """`evmon bridge`: one sync (`once`) or the service until SIGTERM/Ctrl-C (with its /metrics, if
    asked: bridge.metrics); False if a sync failed."""
    bridge, embedded = open_bridge(config)
    where = "embedded PostgreSQL" if embedded is not None else "Postgres"
    stop_embedded = embedded is not None and embedded.started_here
    try:
        echo(f"bridge: workspace {bridge.workspace.root} -> {where} ({dsn_where(bridge.dsn)})")
        if once:
            return sync_until_settled(bridge, echo).ok
        interval = interval_s if interval_s is not None else config.bridge.interval_s
        echo(f"bridge: syncing every {interval:g}s; Ctrl-C stops")
        with (
            StopSignals() as stopping,
            serve_bridge_metrics(config, bridge, metrics_port, metrics_host, echo) as counted,
        ):
            bridge.run(interval, stopping.event, on_result=counted.observe if counted is not None else None)
        return True
    finally:
        bridge.close()
        if stop_embedded and embedded is not None:
            embedded.stop()


class BackgroundBridge:
    """The bridge loop in a thread, with the embedded server it started: for `evmon demo`."""

    def __init__(self, config: EvmonConfig, echo: Echo, interval_s: float | None = None) -> None:
        self.config = config
        self.echo = echo
        self.interval_s = interval_s if interval_s is not None else config.bridge.interval_s
        self.stop_event = threading.Event()
        self.embedded: EmbeddedPostgres | None = None
        self.bridge: Bridge | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start Postgres (embedded when no DSN is configured) and the loop; BridgeError if it cannot."""
        self.bridge, self.embedded = open_bridge(self.config)
        where = f"embedded PostgreSQL on 127.0.0.1:{self.embedded.port}" if self.embedded else "Postgres"
        self.echo(f"bridge: syncing {self.bridge.workspace.root} into {where} every {self.interval_s:g}s")
        bridge = self.bridge
        self.thread = threading.Thread(
            target=lambda: bridge.run(self.interval_s, self.stop_event), name="evmon-bridge", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop the loop, then the embedded server if this started it."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.embedded is not None and self.embedded.started_here:
            try:
                self.embedded.stop()
            except BridgeError as exc:
                print(f"Error: {exc}", file=sys.stderr)
