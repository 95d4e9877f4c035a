"""A value read from projects.yaml, read again whenever the file changes (its size or mtime).

The bridge writes a few tables from projects.yaml on every sync (each project's alert thresholds,
its owner and tags) because Grafana's rules and panels cannot read the file. A projects.yaml that no
longer loads keeps the value last read, with one warning per distinct problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from evmon.config.loader import file_signature, load_config
from evmon.config.model import EvmonConfig
from evmon.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


def watched(config: EvmonConfig, read: Callable[[EvmonConfig], T], what: str) -> Callable[[], T]:
    """`read(config)`, then `read` of its projects.yaml loaded again whenever the file changed."""
    stamp, value = file_signature(config.source_file), read(config)
    warned: set[str] = set()

    def current() -> T:
        nonlocal stamp, value
        now = file_signature(config.source_file)
        if now is not None and now != stamp:
            try:
                value = read(load_config(config.source_file))
                stamp = now
                warned.clear()
            except ConfigError as exc:
                if str(exc) not in warned:
                    warned.add(str(exc))
                    log.warning("%s: keeping the last ones written: %s", what, exc)
        return value

    return current


def current_config(config: EvmonConfig) -> Callable[[], EvmonConfig]:
    """`config`, then its projects.yaml loaded again whenever the file changed (one stat a call): the
    bridge's /metrics scrapes see an edited threshold without a restart."""
    return watched(config, lambda loaded: loaded, "projects.yaml")
