"""Per-project fitted state kept per process: one cache type for every kind of it.

A backfill worker or the scheduler runs many days of one project; what is fitted on the
project's reference (the reference frame itself, Evidently's analysis of it, an estimator) is
the same every day while the project's settings and data do not change. A ProjectCache keeps one
entry per project under a fingerprint of those inputs: a new fingerprint (the config or a
reference file changed) replaces the project's entry, and at most `size` projects are kept, the
least recently used going first. Hits, misses and size are logged at debug level
(`evmon --log-level debug`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

T = TypeVar("T")
log = logging.getLogger(__name__)


class ProjectCache(Generic[T]):
    """`what` per project (e.g. "reference frames"), kept while its fingerprint holds, for at most `size` projects."""

    def __init__(self, what: str, size: int = 16) -> None:
        self.what = what
        self._entries: LRUCache[str, tuple[Hashable, T]] = LRUCache(maxsize=size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, project: str, fingerprint: Hashable, build: Callable[[], T]) -> T:
        """The project's entry if its fingerprint is `fingerprint`; else `build()`, kept in its place."""
        with self._lock:
            entry = self._entries.get(project)
            if entry is not None and entry[0] == fingerprint:
                self.hits += 1
                self._log("hit", project)
                return entry[1]
        value = build()  # outside the lock: fitting may take seconds, other projects go on meanwhile
        with self._lock:
            self._entries[project] = (fingerprint, value)
            self.misses += 1
            self._log("miss" if entry is None else "changed", project)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _log(self, event: str, project: str) -> None:
        log.debug(
            "%s cache %s: %s (%d of %d projects kept; %d hits, %d misses)",
            self.what,
            event,
            project,
            len(self._entries),
            self._entries.maxsize,
            self.hits,
            self.misses,
        )
