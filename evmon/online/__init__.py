"""The live model service, watched: evmon.online is what the user's service imports.

Owns: the service's request metrics (`http`: RequestMetrics on FastAPI/Starlette, `Calls` elsewhere),
`Monitor.observe(features, prediction)` (`monitor`): input problems, the score histogram, the sliding
window's drift against the reference (`window`, with Evidently's PSI reproduced in numpy: `psi`), and
every scored row logged to the project's source (`rowlog`). Its settings are the project's `online:`
section (evmon.config.online).

May import: sources, config, and the ground floor. Never Evidently (the service must not load it), and
nothing above it; the demo's service (evmon.demo.service) imports it.
"""

from evmon.online.http import Calls, instrument
from evmon.online.monitor import Monitor

__all__ = ["Calls", "Monitor", "instrument"]
