"""The exception hierarchy: every error evmon reports to a user is an EvmonError."""

from __future__ import annotations


class EvmonError(Exception):
    """Base of every error evmon reports to a user with one clear message."""


class ConfigError(EvmonError):
    """projects.yaml is missing, unreadable or invalid."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class SourceError(EvmonError):
    """A project's data source could not be read or lacks a declared column."""


class ReportError(EvmonError):
    """Evidently failed to compute a project's report."""


class WorkspaceError(EvmonError):
    """The workspace on disk is unusable: unwritable, misplaced staging, or an unreadable file."""


class RunLogError(WorkspaceError):
    """The run log (.evmon/runs.sqlite3) cannot be written or read: a full disk, a read-only file system."""


class UnknownProjectError(EvmonError):
    """A command named a project that projects.yaml does not declare."""


class BridgeError(EvmonError):
    """The Postgres bridge failed: Postgres unreachable or refusing, or an embedded server that will not start."""


class PostgresUnreachable(BridgeError):
    """The bridge's Postgres does not answer (down, restarting, the network): it is tried again within seconds.

    Any other BridgeError is Postgres answering and refusing (a login, a privilege, its version):
    the service says it once and tries again slowly.
    """


class WriteRefusedError(EvmonError):
    """A write from the app (re-run days, save a what-if) that the operator has not allowed for this user."""


class MetricsError(EvmonError):
    """A service's Prometheus /metrics endpoint could not start (its port taken, an unknown address)."""


class EstimationError(EvmonError):
    """Performance estimation was given unusable data: bad scores or labels, one class only, too few rows."""


class ExplainError(EvmonError):
    """A project's model (projects.yaml `model:`) could not be loaded, explained, or predicted NaN."""
