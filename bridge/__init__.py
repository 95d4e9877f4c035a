"""The bridge: every metric of every snapshot flattened into Postgres."""
