"""Where snapshots live: the workspace interface, its backends, the run log, compaction, quarantine."""
