"""evmon.cache.ProjectCache: one entry per project while its fingerprint holds, bounded, said at debug level."""

from __future__ import annotations

import logging

import pytest

from evmon.cache import ProjectCache


def test_an_entry_is_built_once_while_its_fingerprint_holds_and_again_when_it_changes() -> None:
    cache: ProjectCache[list[str]] = ProjectCache("frames")
    built: list[str] = []

    def build(what: str) -> list[str]:
        built.append(what)
        return [what]

    first = cache.get("credit", ("h1", ()), lambda: build("v1"))
    assert cache.get("credit", ("h1", ()), lambda: build("again")) is first
    second = cache.get("credit", ("h2", ()), lambda: build("v2"))  # the config or a reference file changed
    assert second == ["v2"] and built == ["v1", "v2"]
    assert len(cache) == 1  # the old entry was replaced, not kept beside
    assert (cache.hits, cache.misses) == (1, 2)


def test_at_most_size_projects_are_kept_the_least_recently_used_going_first() -> None:
    cache: ProjectCache[str] = ProjectCache("estimators", size=2)
    cache.get("a", 1, lambda: "A")
    cache.get("b", 1, lambda: "B")
    cache.get("a", 1, lambda: "unused")  # a is used again: b is now the oldest
    cache.get("c", 1, lambda: "C")
    assert len(cache) == 2
    assert cache.get("a", 1, lambda: "rebuilt a") == "A"
    assert cache.get("b", 1, lambda: "rebuilt b") == "rebuilt b"


def test_hits_misses_and_size_are_in_the_log_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    cache: ProjectCache[int] = ProjectCache("reference frames", size=4)
    with caplog.at_level(logging.DEBUG, logger="evmon.cache"):
        cache.get("credit", "x", lambda: 1)
        cache.get("credit", "x", lambda: 2)
        cache.get("credit", "y", lambda: 3)
    assert [r.getMessage() for r in caplog.records] == [
        "reference frames cache miss: credit (1 of 4 projects kept; 0 hits, 1 misses)",
        "reference frames cache hit: credit (1 of 4 projects kept; 1 hits, 1 misses)",
        "reference frames cache changed: credit (1 of 4 projects kept; 1 hits, 2 misses)",
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="evmon.cache"):
        cache.get("credit", "y", lambda: 4)
    assert caplog.records == []  # silent unless debug is asked for
