"""The "evmon / Service (Prometheus)" dashboard, grafana/dashboards/service_prometheus.json.

The scheduler and the bridge as Prometheus sees them (their /metrics and the recording rules of
prometheus/rules/evmon.yml): runs, last successes, due days, config errors, the bridge's syncs and lag, and
each project's newest drift, missing values and quality.

Each panel's PromQL is the first argument of its promql(...), on the `evmon-prometheus` datasource.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from evmon.grafana.frame import QueryVariable, dashboard
from evmon.grafana.panels import (
    at,
    bar_gauge,
    fixed_color,
    gauge_panel,
    prometheus,
    promql,
    stat_panel,
    threshold_lines,
    thresholds,
    time_series,
    value_colors,
)


def build() -> model.Dashboard:
    """The "evmon / Service (Prometheus)" dashboard."""
    return (
        dashboard(
            "evmon-service-prometheus",
            "evmon / Service (Prometheus)",
            description=(
                "The scheduler and the bridge as Prometheus sees them (their /metrics and the recording rules of "
                "prometheus/rules/evmon.yml): runs, last successes, due days, config errors, the bridge's syncs "
                "and lag, and each project's newest drift, missing values and quality."
            ),
            time_from="now-24h",
            refresh="1m",
            tags=["prometheus"],
        )
        .with_variable(
            QueryVariable(
                "project",
                "Project",
                'label_values({job=~"evmon-.*"}, project)',
                description="Projects the scheduler and the bridge export metrics for. Multi-select.",
                datasource=prometheus(),
                refresh=model.VariableRefresh.ON_TIME_RANGE_CHANGED,
                all_value=".*",
            )
        )
        .with_panel(
            stat_panel(
                1,
                "Services answering /metrics",
                at(0, 0, 6, 4),
                promql('up{job=~"evmon-.*"}', "{{job}}", instant=True),
                description=(
                    "Prometheus's own `up` for each evmon scrape job: down means the service is stopped or its "
                    "/metrics does not answer (alert EvmonServiceDown after 5 minutes)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("red", (1, "green")),
                rows=False,
            ).mappings(value_colors({"0": ("down", "red"), "1": ("up", "green")}))
        )
        .with_panel(
            stat_panel(
                2,
                "Bridge: Postgres",
                at(6, 0, 4, 4),
                promql("min(evmon_bridge_postgres_up)", "Postgres", instant=True),
                description=(
                    "Whether the bridge reaches its Postgres (evmon_bridge_postgres_up; the lowest of all bridges). "
                    "While it is down the bridge exports no per-project values (alert EvmonBridgePostgresDown)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("red", (1, "green")),
                rows=False,
                show_names=False,
            ).mappings(value_colors({"0": ("down", "red"), "1": ("up", "green")}))
        )
        .with_panel(
            stat_panel(
                3,
                "projects.yaml",
                at(10, 0, 4, 4),
                promql("min(evmon_scheduler_config_valid)", "projects.yaml", instant=True),
                description=(
                    "Whether the scheduler's last re-read of projects.yaml was valid (evmon_scheduler_config_valid). "
                    "While it is invalid the scheduler keeps running the last valid one (alert "
                    "EvmonSchedulerConfigInvalid)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("red", (1, "green")),
                rows=False,
                show_names=False,
            ).mappings(value_colors({"0": ("invalid", "red"), "1": ("valid", "green")}))
        )
        .with_panel(
            stat_panel(
                4,
                "Config errors in the time range",
                at(14, 0, 4, 4),
                promql("max(increase(evmon_scheduler_config_errors_total[$__range]))", "rejected", instant=True),
                description=(
                    "Re-reads of projects.yaml the scheduler rejected as invalid in the dashboard's time range "
                    "(increase of evmon_scheduler_config_errors_total)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "orange")),
                rows=False,
                show_names=False,
            )
        )
        .with_panel(
            stat_panel(
                5,
                "Run duration p95 (last 24 hours)",
                at(18, 0, 6, 4),
                promql("evmon:run_duration_seconds:p95_1d", "p95", instant=True),
                description=(
                    "95th percentile of a successful project-day run's duration over the last 24 hours, every project"
                    " (recording rule evmon:run_duration_seconds:p95_1d, from the evmon_run_duration_seconds "
                    "buckets)."
                ),
                unit="s",
                decimals=1,
                steps=thresholds("blue"),
                rows=False,
                show_names=False,
            )
        )
        .with_panel(
            time_series(
                6,
                "Runs in the last 24 hours, by project and status",
                at(0, 4, 16, 8),
                promql(
                    'max by (project, status) (increase(evmon_runs_total{project=~"$project"}[1d]))',
                    "{{project}} {{status}}",
                    instant=False,
                ),
                description=(
                    "Project-day runs logged in the 24 hours before each point, by outcome (increase of "
                    "evmon_runs_total: ok, skipped, failed, busy). A daily project shows about one ok run. The run "
                    "log is the workspace's, so two schedulers report the same runs: the maximum is taken, never the "
                    "sum."
                ),
                unit="none",
            )
            .decimals(0)
            .thresholds_style(threshold_lines(False))
            .override_by_regexp(".* ok", fixed_color("green"))
            .override_by_regexp(".* failed", fixed_color("red"))
            .override_by_regexp(".* skipped", fixed_color("yellow"))
            .override_by_regexp(".* busy", fixed_color("purple"))
        )
        .with_panel(
            bar_gauge(
                7,
                "Last successful day: age",
                at(16, 4, 8, 8),
                promql('project:evmon_last_success_age:hours{project=~"$project"}', "{{project}}", instant=True),
                description=(
                    "Hours from the end of each project's newest day with a successful daily run to now (recording "
                    "rule project:evmon_last_success_age:hours). A daily project run at 02:00 stays between 2 and 26;"
                    " red from 36 hours, when EvmonProjectStale fires."
                ),
                unit="h",
                decimals=1,
                steps=thresholds("green", (26, "orange"), (36, "red")),
                rows=False,
            )
        )
        .with_panel(
            bar_gauge(
                8,
                "Failed runs in the last 24 hours",
                at(0, 12, 8, 7),
                promql('project:evmon_runs_failed:increase1d{project=~"$project"}', "{{project}}", instant=True),
                description=(
                    "Failed project-day runs per project in the last 24 hours (recording rule "
                    "project:evmon_runs_failed:increase1d; alert EvmonRunFailed). The error is in the run log "
                    "(Service health dashboard)."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (0.5, "red")),
                rows=False,
            )
        )
        .with_panel(
            bar_gauge(
                9,
                "Due days waiting",
                at(8, 12, 8, 7),
                promql('max by (project) (evmon_project_due_days{project=~"$project"})', "{{project}}", instant=True),
                description=(
                    "Days the scheduler would run for each project now: missing days and days whose labels arrived "
                    "(evmon_project_due_days). Zero between runs; a number that stays up means runs are not keeping "
                    "up."
                ),
                unit="none",
                decimals=0,
                steps=thresholds("green", (1, "orange"), (3, "red")),
                rows=False,
            )
        )
        .with_panel(
            time_series(
                10,
                "Bridge lag per project",
                at(16, 12, 8, 7),
                promql(
                    'max by (project) (evmon_bridge_lag_seconds{project=~"$project"})', "{{project}}", instant=False
                ),
                description=(
                    "How long the oldest snapshot write that Postgres does not hold yet has waited, per project "
                    "(evmon_bridge_lag_seconds; 0: in step). The line marks EvmonBridgeLagging's 10 minutes."
                ),
                unit="s",
            )
            .min(0)
            .thresholds(thresholds("green", (600, "red")))
            .thresholds_style(threshold_lines(True))
        )
        .with_panel(
            time_series(
                11,
                "Bridge: syncs per minute",
                at(0, 19, 12, 8),
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
            )
            .thresholds_style(threshold_lines(False))
            .override_by_name("ok", fixed_color("green"))
            .override_by_name("unreadable", fixed_color("red"))
            .override_by_name("busy", fixed_color("yellow"))
        )
        .with_panel(
            time_series(
                12,
                "Bridge: snapshot files per minute",
                at(12, 19, 12, 8),
                promql(
                    "sum(rate(evmon_bridge_snapshots_ingested_total[$__rate_interval])) * 60", "ingested", instant=False
                ),
                promql(
                    "sum(rate(evmon_bridge_snapshots_deleted_total[$__rate_interval])) * 60",
                    "deleted",
                    instant=False,
                    ref_id="B",
                ),
                promql(
                    "sum(rate(evmon_bridge_snapshots_failed_total[$__rate_interval])) * 60",
                    "failed",
                    instant=False,
                    ref_id="C",
                ),
                promql(
                    "sum(rate(evmon_bridge_snapshots_quarantined_total[$__rate_interval])) * 60",
                    "quarantined",
                    instant=False,
                    ref_id="D",
                ),
                description=(
                    "Snapshot files the bridges ingested into Postgres, deleted from it (gone from the workspace), "
                    "found unreadable, and moved to the quarantine, per minute (rates of the "
                    "evmon_bridge_snapshots_*_total counters)."
                ),
                unit="cpm",
            )
            .thresholds_style(threshold_lines(False))
            .override_by_name("ingested", fixed_color("green"))
            .override_by_name("deleted", fixed_color("blue"))
            .override_by_name("failed", fixed_color("red"))
            .override_by_name("quarantined", fixed_color("orange"))
        )
        .with_panel(
            gauge_panel(
                13,
                "Newest dataset drift share",
                at(0, 27, 8, 7),
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
            )
        )
        .with_panel(
            gauge_panel(
                14,
                "Newest missing values share",
                at(8, 27, 8, 7),
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
            )
        )
        .with_panel(
            gauge_panel(
                15,
                "Newest model quality (model-wide)",
                at(16, 27, 8, 7),
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
            )
        )
        .build()
    )
