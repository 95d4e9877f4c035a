"""Running project-days: one day end to end (day: lock, compute, store, log), a batch's vocabulary
(batch), many days on the configured executor (many: evmon.run.executors), and what-ifs (whatif).

May import: evmon.storage and the rooms below it.
"""
