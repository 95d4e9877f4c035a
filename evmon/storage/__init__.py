"""Where snapshots live: the Workspace interface (base: evmon's folder state and the backend's
methods), its backends side by side (files: the UI's workspace folder; postgres: the UI's own
database), chosen once by name (registry); and what lives beside them: the run log (runlog), the
UI dashboards (dashboards), compaction, the quarantine of unreadable files, migrate-ui (migration),
and each project's last days read from both (status).

May import: evmon.evidently and the rooms below it.
"""
