"""The one logging set-up of every evmon service: stdlib logging, one line format, one level switch.

`evmon --log-level LEVEL <command>` (env EVMON_LOG_LEVEL, default INFO) sets it for every
command; the services' lines (the scheduler's project-days, the bridge's syncs) and the
libraries' warnings then read alike on stderr:

    2026-12-01 02:00:03 INFO evmon.scheduler: credit_scorecard 2026-11-30 ok: 612 rows, ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# apscheduler's INFO lines repeat ours ("Running job ..."); (aio)botocore's tell at each new S3
# client where it found the credentials and endpoint ("Found credentials in environment variables.");
# alembic's at each import and migration of the UI's database ("setup plugin ...", "Context impl ...")
_QUIET = {
    "apscheduler": logging.WARNING,
    "botocore": logging.WARNING,
    "aiobotocore": logging.WARNING,
    "alembic": logging.WARNING,
}


def setup(level: str = "INFO") -> None:
    """Send log records of `level` and above to stderr in evmon's format (again: only the level changes)."""
    root = logging.getLogger()
    if not any(getattr(handler, "evmon", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        handler.evmon = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name, floor in _QUIET.items():
        logging.getLogger(name).setLevel(max(floor, root.level))


def lines_to(logger: str) -> Callable[[str], None]:
    """An `echo` for the library's one-line reports that logs them at INFO under `logger`."""
    log = logging.getLogger(logger)
    return log.info
