"""Where alerts go: each project's owner and tags as alert labels, and the routes from `teams:`.

Owns the files written from projects.yaml's `teams:`, `owner` and `tags`: Grafana's contact points and
notification policy (grafana/provisioning/alerting/notifications.yaml), Alertmanager's receivers and
routes (prometheus/alertmanager.yml) and its start script, and the label lines of the alert rules of
both (the tag names are free, so the rules' label lists are written from the config). Imports config.
"""
