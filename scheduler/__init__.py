"""evmon.scheduler: the APScheduler service (one cron job per project) and its due days; the engine is the core's.

May import: the core (every room up to evmon.services); never another front.
"""
