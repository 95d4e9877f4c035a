"""The "evmon / Service (Prometheus)" dashboard, grafana/dashboards/service_prometheus.json.

The scheduler and the bridge as Prometheus sees them (their /metrics and the recording rules of
prometheus/rules/evmon.yml): runs, last successes, due days, config errors, the bridge's syncs and lag, and
each project's newest drift, missing values and quality. Each panel's PromQL is the first argument of its
promql(...), on the `evmon-prometheus` datasource.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import QueryVariable, board
from evmon.grafana.panels import (
    Size,
    bar_gauge,
    gauge_panel,
    prometheus,
    promql,
    series_colors,
    stat_panel,
    threshold_lines,
    thresholds,
    time_series,
    value_colors,
)


def _up(title: str, size: Size, expr: str, legend: str, description: str, states: tuple[str, str]) -> stat.Panel:
    """A yes-or-no value, the newest: states[0] on red at 0, states[1] on green at 1 (named if per job)."""
    return stat_panel(
        title,
        size,
        promql(expr, legend, instant=True),
        description=description,
        unit="none",
        decimals=0,
        steps=thresholds("red", (1, "green")),
        show_names=legend == "{{job}}",
    ).mappings(value_colors({"0": (states[0], "red"), "1": (states[1], "green")}))


def build() -> model.Dashboard:
    """The "evmon / Service (Prometheus)" dashboard."""
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
                description="Projects the scheduler and the bridge export metrics for. Multi-select.",
                datasource=prometheus(),
                refresh=model.VariableRefresh.ON_TIME_RANGE_CHANGED,
                all_value=".*",
            )
        ],
        [
            _up(
                "Services answering /metrics",
                (6, 4),
                'up{job=~"evmon-.*"}',
                "{{job}}",
                "Prometheus's own `up` for each evmon scrape job: down means the service is stopped or its "
                "/metrics does not answer (alert EvmonServiceDown after 5 minutes).",
                ("down", "up"),
            ),
            _up(
                "Bridge: Postgres",
                (4, 4),
                "min(evmon_bridge_postgres_up)",
                "Postgres",
                "Whether the bridge reaches its Postgres (evmon_bridge_postgres_up; the lowest of all bridges). "
                "While it is down the bridge exports no per-project values (alert EvmonBridgePostgresDown).",
                ("down", "up"),
            ),
            _up(
                "projects.yaml",
                (4, 4),
                "min(evmon_scheduler_config_valid)",
                "projects.yaml",
                "Whether the scheduler's last re-read of projects.yaml was valid (evmon_scheduler_config_valid). "
                "While it is invalid the scheduler keeps running the last valid one (alert "
                "EvmonSchedulerConfigInvalid).",
                ("invalid", "valid"),
            ),
            stat_panel(
                "Config errors in the time range",
                (4, 4),
                promql("max(increase(evmon_scheduler_config_errors_total[$__range]))", "rejected", instant=True),
                description=(
                    "Re-reads of projects.yaml the scheduler rejected as invalid in the dashboard's time range "
                    "(increase of evmon_scheduler_config_errors_total)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "orange")),
                show_names=False,
            ),
            stat_panel(
                "Run duration p95 (last 24 hours)",
                (6, 4),
                promql("evmon:run_duration_seconds:p95_1d", "p95", instant=True),
                description=(
                    "95th percentile of a successful project-day run's duration over the last 24 hours, every project"
                    " (recording rule evmon:run_duration_seconds:p95_1d, from the evmon_run_duration_seconds "
                    "buckets)."
                ),
                unit="s",
                decimals=1,
                steps=thresholds("blue"),
                show_names=False,
            ),
            series_colors(
                time_series(
                    "Runs in the last 24 hours, by project and status",
                    (16, 8),
                    promql(
                        'max by (project, status) (increase(evmon_runs_total{project=~"$project"}[1d]))',
                        "{{project}} {{status}}",
                        instant=False,
                    ),
                    description=(
                        "Project-day runs logged in the 24 hours before each point, by outcome (increase of "
                        "evmon_runs_total: ok, skipped, failed, busy). A daily project shows about one ok run. The "
                        "run log is the workspace's, so two schedulers report the same runs: the maximum is taken, "
                        "never the sum."
                    ),
                    unit="none",
                )
                .decimals(0)
                .thresholds_style(threshold_lines(False)),
                {".* ok": "green", ".* failed": "red", ".* skipped": "yellow", ".* busy": "purple"},
                regexp=True,
            ),
            bar_gauge(
                "Last successful day: age",
                (8, 8),
                promql('project:evmon_last_success_age:hours{project=~"$project"}', "{{project}}", instant=True),
                description=(
                    "Hours from the end of each project's newest day with a successful daily run to now (recording "
                    "rule project:evmon_last_success_age:hours). A daily project run at 02:00 stays between 2 and 26;"
                    " red from 36 hours, when EvmonProjectStale fires."
                ),
                unit="h",
                decimals=1,
                steps=thresholds("green", (26, "orange"), (36, "red")),
            ),
            bar_gauge(
                "Failed runs in the last 24 hours",
                (8, 7),
                promql('project:evmon_runs_failed:increase1d{project=~"$project"}', "{{project}}", instant=True),
                description=(
                    "Failed project-day runs per project in the last 24 hours (recording rule "
                    "project:evmon_runs_failed:increase1d; alert EvmonRunFailed). The error is in the run log "
                    "(Service health dashboard)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (0.5, "red")),
            ),
            bar_gauge(
                "Due days waiting",
                (8, 7),
                promql('max by (project) (evmon_project_due_days{project=~"$project"})', "{{project}}", instant=True),
                description=(
                    "Days the scheduler would run for each project now: missing days and days whose labels arrived "
                    "(evmon_project_due_days). Zero between runs; a number that stays up means runs are not keeping "
                    "up."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "orange"), (3, "red")),
            ),
            time_series(
                "Bridge lag per project",
                (8, 7),
                promql(
                    'max by (project) (evmon_bridge_lag_seconds{project=~"$project"})', "{{project}}", instant=False
                ),
                description=(
                    "How long the oldest snapshot write that Postgres does not hold yet has waited, per project "
                    "(evmon_bridge_lag_seconds; 0: in step). The line marks EvmonBridgeLagging's 10 minutes."
                ),
                unit="s",
                marks=thresholds("green", (600, "red")),
            ).min(0),
            series_colors(
                time_series(
                    "Bridge: syncs per minute",
                    (12, 8),
                    promql(
                        "sum by (result) (rate(evmon_bridge_syncs_total[$__rate_interval])) * 60",
                        "{{result}}",
                        instant=False,
                    ),
                    description=(
                        "Syncs the bridges finished, per minute, by result: ok, unreadable (a file unreadable or "
                        "quarantined), busy (another bridge held the lock). Rate of evmon_bridge_syncs_total."
                    ),
                    unit="cpm",
                ).thresholds_style(threshold_lines(False)),
                {"ok": "green", "unreadable": "red", "busy": "yellow"},
            ),
            series_colors(
                time_series(
                    "Bridge: snapshot files per minute",
                    (12, 8),
                    *(
                        promql(
                            f"sum(rate(evmon_bridge_snapshots_{what}_total[$__rate_interval])) * 60",
                            what,
                            instant=False,
                        )
                        for what in ("ingested", "deleted", "failed", "quarantined")
                    ),
                    description=(
                        "Snapshot files the bridges ingested into Postgres, deleted from it (gone from the workspace), "
                        "found unreadable, and moved to the quarantine, per minute (rates of the "
                        "evmon_bridge_snapshots_*_total counters)."
                    ),
                    unit="cpm",
                ).thresholds_style(threshold_lines(False)),
                {"ingested": "green", "deleted": "blue", "failed": "red", "quarantined": "orange"},
            ),
            gauge_panel(
                "Newest dataset drift share",
                (8, 7),
                promql(
                    'max by (project) (evmon_project_drift_share{project=~"$project"})', "{{project}}", instant=True
                ),
                description=(
                    "Share of the monitored columns that drifted on each project's newest daily snapshot in Postgres "
                    "(evmon_project_drift_share). Red from Evidently's default threshold 0.5; EvmonDatasetDrift uses "
                    "each project's own (data_drift.drift_share)."
                ),
                unit="percentunit",
                decimals=1,
                steps=thresholds("green", (0.3, "orange"), (0.5, "red")),
            ),
            gauge_panel(
                "Newest missing values share",
                (8, 7),
                promql(
                    'max by (project) (evmon_project_missing_share{project=~"$project"})', "{{project}}", instant=True
                ),
                description=(
                    "Share of missing cells on each project's newest daily snapshot in Postgres "
                    "(evmon_project_missing_share)."
                ),
                unit="percentunit",
                decimals=1,
                steps=thresholds("green", (0.05, "orange"), (0.2, "red")),
            ),
            gauge_panel(
                "Newest model quality (model-wide)",
                (8, 7),
                promql(
                    'min by (project, metric) (evmon_project_quality{project=~"$project", segment="all"})',
                    "{{project}} {{metric}}",
                    instant=True,
                ),
                description=(
                    "Headline quality of each project's newest labelled day, the whole model (evmon_project_quality, "
                    "segment all): ROC AUC for classifiers, R² for regressors. Red below 0.6, when "
                    "EvmonModelQualityLow fires."
                ),
                unit="none",
                decimals=3,
                steps=thresholds("red", (0.6, "orange"), (0.7, "green")),
            ),
        ],
        time_from="now-24h",
        refresh="1m",
        tags=["prometheus"],
    )
