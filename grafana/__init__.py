"""Grafana dashboards as code: a module per file of grafana/dashboards, written by `evmon grafana-dashboards`.

Each module's build() is its dashboard's table of panels (frame.board). A table's or a stat's SQL is written into
the JSON as it stands (Grafana expands its macros and variables); a time series over metric values is a
specification (ranges.Daily, ranges.Binned) from which its daily and its rollup query are built.
"""
