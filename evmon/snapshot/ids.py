"""Ids are derived, not stored: a project's id from its name, a daily snapshot's from (project, day).

So a project has the same id on every machine and in every storage, a project-day has exactly
one possible snapshot (a re-run replaces it), and two processes can never create two for one day.
"""

from __future__ import annotations

import uuid
from datetime import date

NAMESPACE = uuid.UUID("6f0c1d2e-8a4b-5c3d-9e7f-0a1b2c3d4e5f")


def project_id(name: str) -> uuid.UUID:
    """The workspace id of the project called `name` (stable across machines and runs)."""
    return uuid.uuid5(NAMESPACE, f"project:{name}")


def daily_snapshot_id(project: str, day: date) -> uuid.UUID:
    """The id of the one daily snapshot of `project` for `day`."""
    return uuid.uuid5(NAMESPACE, f"daily:{project}:{day.isoformat()}")


def whatif_snapshot_id() -> uuid.UUID:
    """A fresh id for a saved what-if snapshot.

    Random (UUID version 4), while every daily id is a UUID version 5: the version digit
    differs, so a what-if can never take (and replace) a daily snapshot's file.
    """
    return uuid.uuid4()
