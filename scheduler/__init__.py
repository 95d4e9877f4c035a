"""The scheduler side of evmon: sources, reports, the per-day runner, backfill, demo data, service."""
