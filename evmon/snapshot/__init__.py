"""What a snapshot is, pure: its derived ids (ids), its metadata and tags (contract: the only module
that knows their keys), its bytes (codec), its compacted form (compacted), its values as rows (flatten:
the one flattening, for the bridge, the app and the migration) and a project's catalog of them (catalog).

May import: the ground floor only (errors, days, logs, drift, processes, cache).
"""
