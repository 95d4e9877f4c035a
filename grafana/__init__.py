"""Grafana dashboards as code: a module per file of grafana/dashboards, written by `evmon grafana-dashboards`."""
