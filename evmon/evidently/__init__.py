"""Evidently behind one door: the only package of evmon that imports `evidently`.

Everything evmon asks of Evidently goes through here: running a project's Report and merging
its parts into one snapshot (report), what the day's data lets it compute (guard), evmon's own
metrics (metrics), the work a Report repeats done once (memo), the UI dashboard's model
(dashboard), Evidently's own reading of a snapshot (loader), its UI's SQL tables written in process
(sql_store), and the storage component that answers that UI's dashboard series fast (fast_series, with
its indexes in ui_migrations). An import-linter contract
(.importlinter) fails the build when any other module imports Evidently.

The memo (memo and its memo_* siblings, keyed by memo_keys) wraps some of Evidently's internal
functions. It is exact for the versions in TESTED_VERSIONS (tests compare whole days' snapshots
byte for byte with and without it); on any other version it stays off, with one log line, and
Evidently runs as shipped.

May import: evmon.compare, evmon.estimation and the rooms below them (it needs the project's
config, the day's estimates and the snapshot contract), and Evidently.
"""

from __future__ import annotations

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is imported)

TESTED_VERSIONS = frozenset({"0.7.23"})


def evidently_version() -> str:
    from evidently import __version__

    return str(__version__)


def tested() -> bool:
    """Whether the installed Evidently is one whose internals this package was tested against."""
    return evidently_version() in TESTED_VERSIONS
