"""evmon.bridge: every metric of every snapshot flattened into Postgres (schema, store, sync loop, embedded server).

May import: the core (every room up to evmon.services); never another front.
"""
