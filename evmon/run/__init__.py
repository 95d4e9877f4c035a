"""Running project-days: one day end to end (day: lock, compute, store, log), a batch's vocabulary
(batch), many days on the configured executor (many: evmon.run.executors), what-ifs (whatif), and the
fairness and outlier sections both a day and a what-if compute (bias).

May import: evmon.storage and the rooms below it.
"""
