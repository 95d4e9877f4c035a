"""What the long-running services share: the real `evidently ui` started on a workspace (ui), the
Prometheus /metrics server (exporter), and who may write from the app (access).

May import: evmon.run and the rooms below it; never a front (scheduler, bridge, app, grafana).
"""
