"""The "evmon / Online" dashboard, grafana/dashboards/online.json: the live model services (evmon.online) as
Prometheus sees them: traffic, latency, errors, the scores over time, the live drift, and the rows logged
against the rows of the daily snapshots. Each panel's PromQL is the first argument of its promql(...), on
the `evmon-prometheus` datasource, from the recording rules of prometheus/rules/online.yml where one fits."""

from __future__ import annotations

from grafana_foundation_sdk.builders import heatmap
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from evmon.grafana.frame import QueryVariable, board
from evmon.grafana.panels import bar_gauge, prometheus, promql, scale, stat_panel, thresholds, time_series

M = '{model=~"$project"}'


def _scores() -> heatmap.Panel:
    """The score histogram's buckets over time: how many scores fell in each 0.05 band, per interval."""
    query = promql(
        f"sum by (le) (increase(evmon_online_prediction_score_bucket{M}[$__rate_interval]))", "{{le}}", instant=False
    ).format(prometheus_model.PromQueryFormat.HEATMAP)
    return (
        heatmap.Panel()
        .title("Scores over time")
        .datasource(prometheus())
        .with_target(query)
        .calculate(False)
        .cell_gap(1)
        .color(heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME).scheme("Oranges"))
        .description(
            "How many of the model's scores fell in each band (the evmon_online_prediction_score buckets, 0.05 wide "
            "for a probability), per interval, every selected model: a shift of the scores shows as the bright band "
            "moving."
        )
    )


def build() -> model.Dashboard:
    """The "evmon / Online" dashboard."""
    return board(
        "evmon-online",
        "evmon / Online",
        "The live model services watched by evmon.online (docs/online.md): request rate, latency, errors, the "
        "scores over time, the sliding window's drift against the reference, input problems, and the rows "
        "logged against the rows the daily snapshots hold.",
        [
            QueryVariable(
                "project",
                "Model",
                "label_values(evmon_online_rows_total, model)",
                "The models whose services export evmon.online's metrics. Multi-select.",
                prometheus(),
                all_value=".*",
            )
        ],
        [(4, 6, 6, 6, 6), (8, 12, 12), (8, 12, 12), (8, 12, 12), (8, 12, 12)],
        [
            stat_panel(
                "Requests a second",
                promql(f"sum(model_version:evmon_online_requests:rate1m{M})", "requests/s"),
                scale("reqps", 1, "blue"),
                show_names=False,
            ).description(
                "Requests the selected services answer a second "
                "(recording rule model_version:evmon_online_requests:rate1m)."
            ),
            stat_panel(
                "Errors (5xx)",
                promql(f"max(model_version:evmon_online_errors:ratio_rate5m{M})", "5xx"),
                scale("percentunit", 2, "green", (0.01, "orange"), (0.05, "red")),
                show_names=False,
            ).description(
                "Share of requests answered 5xx over 5 minutes, the worst service "
                "(red from 5%: EvmonOnlineErrorRateHigh)."
            ),
            stat_panel(
                "Latency p99",
                promql(f"max(model_version:evmon_online_latency_seconds:p99_5m{M})", "p99"),
                scale("s", 3, "green", (0.1, "orange"), (0.25, "red")),
                show_names=False,
            ).description(
                "99th percentile of the request latency over 5 minutes, the slowest service "
                "(EvmonOnlineLatencyHigh from 250 ms)."
            ),
            stat_panel(
                "Rows dropped from the row log (time range)",
                promql(f"sum(increase(evmon_online_rows_dropped_total{M}[$__range]))", "dropped"),
                scale("none", 0, "green", (1, "red")),
                show_names=False,
            ).description(
                "Scored rows the row log could not write (a full disk, a down Postgres) or the monitor could not take "
                "(its queue full): evmon_online_rows_dropped_total. Scoring goes on; the daily runs miss these rows."
            ),
            time_series(
                "Requests a second, by model and version",
                promql(f"model_version:evmon_online_requests:rate1m{M}", "{{model}} {{version}}", instant=False),
                "reqps",
            ).description("Request rate of each service (recording rule model_version:evmon_online_requests:rate1m)."),
            time_series(
                "Latency p50, p95, p99",
                [
                    promql(f"model_version:evmon_online_latency_seconds:{q}_5m{M}", "{{model}} " + q, instant=False)
                    for q in ("p50", "p95", "p99")
                ],
                "s",
                marks=thresholds("green", (0.25, "red")),
            ).description(
                "Latency quantiles over 5 minutes from the request histogram "
                "(evmon_online_http_request_duration_seconds, "
                "0.5 ms to 10 s buckets). The line marks EvmonOnlineLatencyHigh's 250 ms."
            ),
            _scores(),
            time_series(
                "Errors (5xx share)",
                promql(f"model_version:evmon_online_errors:ratio_rate5m{M}", "{{model}} {{version}}", instant=False),
                "percentunit",
                marks=thresholds("green", (0.05, "red")),
            ).description(
                "Share of requests answered 5xx over 5 minutes, per service (EvmonOnlineErrorRateHigh above 5%)."
            ),
            bar_gauge(
                "Live drift: PSI of the window, per column",
                promql(f"max by (model, column) (evmon_online_psi{M})", "{{model}} {{column}}"),
                scale("none", 3, "green", (0.1, "orange"), (0.2, "red")),
            ).description(
                "PSI of each column over the service's last online.window_rows rows against the project's reference, "
                "as Evidently computes it (the daily runs' PSI of the same rows). Orange from 0.1 (Evidently's default "
                "threshold), red from 0.2; EvmonOnlineColumnDrift uses each column's own (evmon_online_column_drifted)."
            ),
            time_series(
                "Live drift: share of drifted columns",
                promql(f"max by (model) (evmon_online_drifted_share{M})", "{{model}}", instant=False),
                "percentunit",
                marks=thresholds("green", (0.5, "red")),
                limits=(0, 1),
            ).description(
                "Share of the watched columns whose window PSI is at or above their threshold "
                "(evmon_online_drifted_share)."
            ),
            time_series(
                "Input problems a minute, by feature",
                promql(
                    "sum by (model, feature, problem) "
                    f"(rate(evmon_online_feature_problems_total{M}[$__rate_interval])) * 60",
                    "{{model}} {{feature}} {{problem}}",
                    instant=False,
                ),
                "cpm",
            ).description(
                "Values the monitor found missing, NaN (or infinite), mistyped, or a category the reference never "
                "holds, per minute (evmon_online_feature_problems_total). The service answers as its code decides."
            ),
            time_series(
                "Rows logged (24 h) vs rows of the newest daily snapshot",
                [
                    promql(
                        f"sum by (model) (increase(evmon_online_rows_logged_total{M}[1d]))",
                        "{{model}} logged, 24 h",
                        instant=False,
                    ),
                    promql(
                        'max by (project) (evmon_project_rows{project=~"$project"})',
                        "{{project}} daily snapshot",
                        instant=False,
                    ),
                ],
                decimals=0,
            ).description(
                "Rows the service's row log wrote over the 24 hours before each point "
                "(evmon_online_rows_logged_total), beside the rows the project's newest daily snapshot holds (the "
                "bridge's evmon_project_rows). A day after a full day's logging the two meet: the daily run read what "
                "the service served."
            ),
        ],
        time_from="now-6h",
        refresh="30s",
        tags=["prometheus", "online"],
    )
