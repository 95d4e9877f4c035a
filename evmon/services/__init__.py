"""What the long-running services share: the Evidently UI launcher, /metrics, the app's write access."""
