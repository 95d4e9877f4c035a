"""What the long-running services share: the real `evidently ui` started on a workspace (ui), the
Prometheus /metrics server (exporter), who may write from the app (access), and which requests
reach the app and where a session's browser is (clients).

May import: evmon.run and the rooms below it; never a front (scheduler, bridge, app, grafana).
"""
