"""Whether this process can see a project's files: what a Dask worker is asked before any day is sent to it.

A project's files are those its days are read from: every file source.path matches (a day's
rows are found by their timestamps, so every matching file is one of the first day's files),
the reference file and the estimator's calibration file, where they are files. Nothing is read:
local files are listed and checked for read access, a store's are listed (with this process's
credentials).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from evmon.config.locations import is_url
from evmon.config.model import EvmonConfig, FileSource, Project
from evmon.errors import SourceError
from evmon.sources.read import located, reads_own_row_log
from evmon.sources.remote import data_files, one_file, store_reason

NO_MATCH = "no file matches"  # a glob matching nothing: for a project reading its own row log, nothing logged yet


@dataclass(frozen=True)
class Unseen:
    """A file (or path, or glob) of a project this process cannot see, and why."""

    path: str  # as read: absolute, or a URL
    key: str  # where projects.yaml sets it, e.g. source.path
    project: str
    reason: str

    def line(self) -> str:
        return f"{self.path} ({self.key} of project {self.project!r}: {self.reason})"


def unseen(config: EvmonConfig, project: Project) -> Unseen | None:
    """The first of the project's files this process cannot see, or None when it sees them all."""
    source = project.source
    if isinstance(source, FileSource):
        missing = _first_unseen(located(config, source.path), many=True)
        if missing is not None and not (missing[1] == NO_MATCH and reads_own_row_log(config, project)):
            return Unseen(missing[0], "source.path", project.name, missing[1])
    estimation = project.presets.estimation
    calibration = estimation.calibration if estimation is not None else None
    files = [("reference.path", project.reference.path)]
    files.append(("presets.estimation.calibration.path", calibration.path if calibration is not None else None))
    for key, path in files:
        if path is not None:
            missing = _first_unseen(located(config, path), many=False)
            if missing is not None:
                return Unseen(missing[0], key, project.name, missing[1])
    return None


def _first_unseen(path: str, many: bool) -> tuple[str, str] | None:
    """(what, why) for the first of `path`'s files (`many`: those a glob matches) not seen, else None."""
    try:
        if many:
            files = data_files(path)
        else:
            one = one_file(path)
            files = [] if one is None else [one]
    except OSError as exc:
        return path, store_reason(exc)
    except SourceError as exc:
        return path, str(exc)
    if not files:
        return path, NO_MATCH if many else "no such file"
    for file in files:
        if not is_url(file.path) and not os.access(file.path, os.R_OK):
            return file.path, "not readable"
    return None
