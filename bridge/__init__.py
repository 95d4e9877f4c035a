"""evmon.bridge: every metric of every snapshot flattened into Postgres (schema, store, sync loop, embedded server)."""
