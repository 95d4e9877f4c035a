"""evmon.scheduler: the APScheduler service (one cron job per project) and its due days; the engine is the core's."""
