"""The "evmon / Service (Prometheus)" dashboard, grafana/dashboards/service_prometheus.json: the scheduler and the
bridge as Prometheus sees them. Each panel's PromQL is the first argument of its promql(...), on the
`evmon-prometheus` datasource: an instant query unless said otherwise, its legend the project unless said."""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import QueryVariable, board
from evmon.grafana.panels import (
    bar_gauge,
    gauge_panel,
    prometheus,
    promql,
    scale,
    stat_panel,
    thresholds,
    time_series,
    value_colors,
)


def _up(title: str, expr: str, legend: str, states: tuple[str, str]) -> stat.Panel:
    """A yes-or-no value, the newest: states[0] on red at 0, states[1] on green at 1 (named if per job)."""
    up = stat_panel(title, promql(expr, legend), scale("none", 0, "red", (1, "green")), show_names=legend == "{{job}}")
    return up.mappings(value_colors({"0": (states[0], "red"), "1": (states[1], "green")}))


def build() -> model.Dashboard:
    """The "evmon / Service (Prometheus)" dashboard."""
    files = ("ingested", "deleted", "failed", "quarantined")
    return board(
        "evmon-service-prometheus",
        "evmon / Service (Prometheus)",
        "The scheduler and the bridge as Prometheus sees them (their /metrics and the recording rules of "
        "prometheus/rules/evmon.yml): runs, last successes, due days, config errors, the bridge's syncs "
        "and lag, and each project's newest drift, missing values and quality.",
        [
            QueryVariable(
                "project",
                "Project",
                'label_values({job=~"evmon-.*"}, project)',
                "Projects the scheduler and the bridge export metrics for. Multi-select.",
                prometheus(),
                all_value=".*",
            )
        ],
        [(4, 6, 4, 4, 4, 6), (8, 16, 8), (7, 8, 8, 8), (8, 12, 12), (7, 8, 8, 8)],
        [
            _up("Services answering /metrics", 'up{job=~"evmon-.*"}', "{{job}}", ("down", "up")).description(
                "Prometheus's own `up` for each evmon scrape job: down means the service is stopped or its /metrics "
                "does not answer (alert EvmonServiceDown after 5 minutes)."
            ),
            _up("Bridge: Postgres", "min(evmon_bridge_postgres_up)", "Postgres", ("down", "up")).description(
                "Whether the bridge reaches its Postgres (evmon_bridge_postgres_up; the lowest of all bridges). While "
                "it is down the bridge exports no per-project values (alert EvmonBridgePostgresDown)."
            ),
            _up(
                "projects.yaml", "min(evmon_scheduler_config_valid)", "projects.yaml", ("invalid", "valid")
            ).description(
                "Whether the scheduler's last re-read of projects.yaml was valid (evmon_scheduler_config_valid). "
                "While it is invalid the scheduler keeps running the last valid one (alert "
                "EvmonSchedulerConfigInvalid)."
            ),
            stat_panel(
                "Config errors in the time range",
                promql("max(increase(evmon_scheduler_config_errors_total[$__range]))", "rejected"),
                scale("none", 0, "green", (1, "orange")),
                show_names=False,
            ).description(
                "Re-reads of projects.yaml the scheduler rejected as invalid in the dashboard's time range (increase "
                "of evmon_scheduler_config_errors_total)."
            ),
            stat_panel(
                "Run duration p95 (last 24 hours)",
                promql("evmon:run_duration_seconds:p95_1d", "p95"),
                scale("s", 1, "blue"),
                show_names=False,
            ).description(
                "95th percentile of a successful project-day run's duration over the last 24 hours, every project "
                "(recording rule evmon:run_duration_seconds:p95_1d, from the evmon_run_duration_seconds buckets)."
            ),
            time_series(
                "Runs in the last 24 hours, by project and status",
                promql(
                    'max by (project, status) (increase(evmon_runs_total{project=~"$project"}[1d]))',
                    "{{project}} {{status}}",
                    instant=False,
                ),
                lines=False,
                colors={".* ok": "green", ".* failed": "red", ".* skipped": "yellow", ".* busy": "purple"},
                regexp=True,
                decimals=0,
            ).description(
                "Project-day runs logged in the 24 hours before each point, by outcome (increase of evmon_runs_total: "
                "ok, skipped, failed, busy). A daily project shows about one ok run. The run log is the workspace's, "
                "so two schedulers report the same runs: the maximum is taken, never the sum."
            ),
            bar_gauge(
                "Last successful day: age",
                promql('project:evmon_last_success_age:hours{project=~"$project"}'),
                scale("h", 1, "green", (26, "orange"), (36, "red")),
            ).description(
                "Hours from the end of each project's newest day with a successful daily run to now (recording rule "
                "project:evmon_last_success_age:hours). A daily project run at 02:00 stays between 2 and 26; red from "
                "36 hours, when EvmonProjectStale fires."
            ),
            bar_gauge(
                "Failed runs in the last 24 hours",
                promql('project:evmon_runs_failed:increase1d{project=~"$project"}'),
                scale("none", 0, "green", (0.5, "red")),
            ).description(
                "Failed project-day runs per project in the last 24 hours (recording rule "
                "project:evmon_runs_failed:increase1d; alert EvmonRunFailed). The error is in the run log (Service "
                "health dashboard)."
            ),
            bar_gauge(
                "Due days waiting",
                promql('max by (project) (evmon_project_due_days{project=~"$project"})'),
                scale("none", 0, "green", (1, "orange"), (3, "red")),
            ).description(
                "Days the scheduler would run for each project now: missing days and days whose labels arrived "
                "(evmon_project_due_days). Zero between runs; a number that stays up means runs are not keeping up."
            ),
            time_series(
                "Bridge lag per project",
                promql('max by (project) (evmon_bridge_lag_seconds{project=~"$project"})', instant=False),
                "s",
                marks=thresholds("green", (600, "red")),
                limits=(0, None),
            ).description(
                "How long the oldest snapshot write that Postgres does not hold yet has waited, per project "
                "(evmon_bridge_lag_seconds; 0: in step). The line marks EvmonBridgeLagging's 10 minutes."
            ),
            time_series(
                "Bridge: syncs per minute",
                promql(
                    "sum by (result) (rate(evmon_bridge_syncs_total[$__rate_interval])) * 60",
                    "{{result}}",
                    instant=False,
                ),
                "cpm",
                lines=False,
                colors={"ok": "green", "unreadable": "red", "busy": "yellow"},
            ).description(
                "Syncs the bridges finished, per minute, by result: ok, unreadable (a file unreadable or quarantined), "
                "busy (another bridge held the lock). Rate of evmon_bridge_syncs_total."
            ),
            time_series(
                "Bridge: snapshot files per minute",
                [
                    promql(f"sum(rate(evmon_bridge_snapshots_{f}_total[$__rate_interval])) * 60", f, instant=False)
                    for f in files
                ],
                "cpm",
                lines=False,
                colors={"ingested": "green", "deleted": "blue", "failed": "red", "quarantined": "orange"},
            ).description(
                "Snapshot files the bridges ingested into Postgres, deleted from it (gone from the workspace), found "
                "unreadable, and moved to the quarantine, per minute (rates of the evmon_bridge_snapshots_*_total "
                "counters)."
            ),
            gauge_panel(
                "Newest dataset drift share",
                promql('max by (project) (evmon_project_drift_share{project=~"$project"})'),
                scale("percentunit", 1, "green", (0.3, "orange"), (0.5, "red")),
            ).description(
                "Share of the monitored columns that drifted on each project's newest daily snapshot in Postgres "
                "(evmon_project_drift_share). Red from Evidently's default threshold 0.5; EvmonDatasetDrift uses each "
                "project's own (data_drift.drift_share)."
            ),
            gauge_panel(
                "Newest missing values share",
                promql('max by (project) (evmon_project_missing_share{project=~"$project"})'),
                scale("percentunit", 1, "green", (0.05, "orange"), (0.2, "red")),
            ).description(
                "Share of missing cells on each project's newest daily snapshot in Postgres "
                "(evmon_project_missing_share)."
            ),
            gauge_panel(
                "Newest model quality (model-wide)",
                promql(
                    'min by (project, metric) (evmon_project_quality{project=~"$project", segment="all"})',
                    "{{project}} {{metric}}",
                ),
                scale("none", 3, "red", (0.6, "orange"), (0.7, "green")),
            ).description(
                "Headline quality of each project's newest labelled day, the whole model (evmon_project_quality, "
                "segment all): ROC AUC for classifiers, R² for regressors. Red below 0.6, when EvmonModelQualityLow "
                "fires."
            ),
        ],
        time_from="now-24h",
        refresh="1m",
        tags=["prometheus"],
    )
