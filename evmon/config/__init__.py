"""projects.yaml as one validated model: the pydantic models (model), the sections that stand alone
(sections: bridge, app, executor, metrics, windows), what a configured path may be (locations), and
loading with ${ENV} and one message per problem (loader).

May import: evmon.snapshot and the ground floor (errors, days, logs, drift, processes, cache).
"""
