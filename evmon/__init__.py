"""evmon: self-hosted ML monitoring on Evidently (shared core: config, workspace, run log, CLI)."""

import os

# Evidently's telemetry posts to an outside address unless DO_NOT_TRACK is set. Every evmon
# process imports this package before Evidently, so setting it here covers the scheduler,
# the bridge, the app and every subprocess they start (the environment is inherited).
os.environ["DO_NOT_TRACK"] = "1"

__version__ = "0.1.0"
