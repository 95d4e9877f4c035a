"""The fleet: every project in one table (owner, tags, last day, days missing, drift, quality,
fairness and outlier figures, the alerts firing), read from the bridge's Postgres in one query
(sql), as rows for the app's Fleet page and the SQL Grafana's Overview shows (table).

May import: evmon.run and the rooms below it (it needs only config, dsn and errors).
"""
