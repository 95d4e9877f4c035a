"""evmon: self-hosted ML monitoring on Evidently.

The core is in rooms, each a subpackage whose docstring says what it owns and what it may import
(docs/architecture.md; .importlinter checks it), from the ground floor (errors, days, logs, drift,
processes, cache, dsn) up: snapshot, config, sources, estimation, compare, evidently, storage, run,
services; above them the fronts (scheduler, bridge, app, grafana), then demo and cli.
"""

import os

# Evidently's telemetry posts to an outside address unless DO_NOT_TRACK is set. Every evmon
# process imports this package before Evidently, so setting it here covers the scheduler,
# the bridge, the app and every subprocess they start (the environment is inherited).
os.environ["DO_NOT_TRACK"] = "1"

__version__ = "0.1.0"
