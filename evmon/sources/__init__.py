"""A project's rows for a window: files (Parquet, CSV; local or on an object store: remote) or a SQL
query (read), what a source holds from its schema alone (schema), and `evmon validate`'s checks of
the files and queries a config points at (validate).

May import: evmon.config, evmon.snapshot and the ground floor.
"""
