"""The fleet table's one SQL query over the bridge's tables, and the alert conditions inside it.

Each project's row comes from index lookups of its own rows (runs by project and start, snapshots
by project, metric_values by project, metric type and time: the covering index), so the query's
cost grows with the number of projects, not with the days bridged.

The alerts are Grafana's alert rules (grafana/provisioning/alerting/evmon.yaml), evaluated at
`as_of` in SQL: each rule's query, window (`relativeTimeRange`, Grafana's ``$__timeFilter`` is
``BETWEEN from AND to``) and threshold. tests/grafana/test_fleet_alerts.py runs both on the same
bridged days and checks that they agree, rule by rule; a rule added there without its condition
here fails that test.

The text is a template: ``{as_of}`` (a timestamptz), ``{owners}`` and ``{tags}`` (text[]; '*'
means every one) are filled by `query_text` for psycopg's parameters, or by Grafana's variables
(grafana/overview.py). It holds no ``%`` and no SQL comment (some Grafana versions do not strip them).
"""

from __future__ import annotations

from dataclasses import dataclass

from evmon.config.explain import ExplainThresholds
from evmon.config.fairness import FairnessThresholds
from evmon.config.outliers import OutlierThresholds

EVERY = "*"  # an owners or tags filter holding it lets every project through
NO_OWNER = "(no owner)"  # what the owner filter calls a project without an owner


@dataclass(frozen=True)
class AlertRule:
    """One of Grafana's alert rules as the fleet evaluates it: its uid, title, window and threshold."""

    uid: str
    title: str
    window_s: int | None  # the rule's relativeTimeRange `from` (None: the rule looks at no window)
    threshold: float  # the threshold expression's parameter (the per-project rules: 0, their margin)


DAY = 86400
ALERT_RULES = (
    AlertRule("evmon-dataset-drift", "Dataset drift share above 50%", 3 * DAY, 0.5),
    AlertRule("evmon-empty-columns", "A column without any value", 3 * DAY, 0),
    AlertRule("evmon-model-quality", "Model quality below 0.6", 14 * DAY, 0.6),
    AlertRule("evmon-estimated-quality", "Estimated ROC AUC below 0.6", 14 * DAY, 0.6),
    AlertRule("evmon-disparate-impact", "Disparate impact below the project's minimum", 14 * DAY, 0),
    AlertRule("evmon-equalized-odds", "Equalized odds difference above the project's maximum", 14 * DAY, 0),
    AlertRule("evmon-outlier-column-share", "Outlier share of a column above the project's maximum", 14 * DAY, 0),
    AlertRule(
        "evmon-outlier-multivariate-share", "Multivariate outlier share above the project's maximum", 14 * DAY, 0
    ),
    AlertRule("evmon-attribution-drift", "Attribution drift below the project's nDCG minimum", 14 * DAY, 0),
    AlertRule("evmon-stale-snapshots", "No new snapshot for 36 hours", None, 36),
    AlertRule("evmon-failed-run", "Scheduler run failed", DAY, 0),
)
RULES = {rule.uid: rule for rule in ALERT_RULES}


def _window(uid: str, column: str) -> str:
    return f"{column} BETWEEN pr.as_of - interval '{RULES[uid].window_s} seconds' AND pr.as_of"


def _threshold(uid: str) -> float:
    return RULES[uid].threshold


def _newest_quality(metric_type: str) -> str:
    """The newest realized value of one headline metric (one index scan backwards)."""
    return f"""(SELECT v."timestamp" AS ts, v.metric_type, v.value FROM evmon.metric_values v
        WHERE v.project = n.project AND v.metric_type = '{metric_type}' AND v.kind = 'daily'
          AND v.segment = 'default' AND v.value <> 'NaN' AND v."timestamp" <= pr.as_of
        ORDER BY v."timestamp" DESC LIMIT 1)"""


_DEFAULTS = (FairnessThresholds(), OutlierThresholds(), ExplainThresholds())


def _default(name: str) -> float:
    """The config's default of a per-project threshold (what the rules fall back to)."""
    return float(getattr(next(d for d in _DEFAULTS if hasattr(d, name)), name))


def _project_threshold(name: str, project: str = "n.project") -> str:
    return (
        f"coalesce((SELECT t.value FROM evmon.alert_thresholds t WHERE t.project = {project} "
        f"AND t.threshold = '{name}'), {_default(name)})"
    )


_NAMES = """SELECT name AS project FROM evmon.projects
          UNION SELECT project FROM evmon.project_owners
          UNION SELECT project FROM evmon.runs"""

_FLEET = f"""WITH pr AS (SELECT ({{as_of}})::timestamptz AS as_of, ({{owners}})::text[] AS owners,
                   ({{tags}})::text[] AS tags),
names AS ({_NAMES}),
f AS (
SELECT n.project, o.owner, coalesce(o.tags, '{{{{}}}}'::jsonb) AS tags, pr.as_of,
       r.day AS last_day, r.status AS last_status,
       s.first_day, s.days_present,
       (pr.as_of AT TIME ZONE 'UTC')::date - 1 AS yesterday,
       d.ts AS drift_ts, d.share AS drift_share, dw.before_avg AS drift_before, dw.week AS drift_7d,
       qr.ts AS realized_ts, qr.metric_type AS realized_metric, qr.value AS realized,
       qe.ts AS estimated_ts, qe.value AS estimated, qe.alert_value AS estimated_alert,
       fa.disparate_impact, fa.equalized_odds, fa.di_fires, fa.eo_fires,
       oc.outlier_share, oc.column_fires, om.ts AS multivariate_ts, om.share AS multivariate_share,
       ad.ndcg AS attribution_ndcg,
       e.empty_columns, st.hours AS hours_since_snapshot, fr.failed AS failed_runs_24h
FROM names n CROSS JOIN pr
LEFT JOIN evmon.project_owners o ON o.project = n.project
LEFT JOIN LATERAL (
    SELECT x.day, x.status FROM evmon.runs x
    WHERE x.project = n.project AND x.kind = 'daily' AND x.day <= (pr.as_of AT TIME ZONE 'UTC')::date
    ORDER BY x.day DESC, x.started_at DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (
    SELECT min(x.d) AS first_day,
           count(DISTINCT x.d) FILTER (WHERE x.d < (pr.as_of AT TIME ZONE 'UTC')::date) AS days_present
    FROM (SELECT coalesce(x.day, (x."timestamp" AT TIME ZONE 'UTC')::date) AS d FROM evmon.snapshots x
          WHERE x.project = n.project AND x.kind = 'daily') x) s ON true
LEFT JOIN LATERAL (
    SELECT v."timestamp" AS ts, v.value AS share FROM evmon.metric_values v
    WHERE v.project = n.project AND v.metric_type = 'DriftedColumnsCount' AND v.kind = 'daily'
      AND v.value_kind = 'share' AND v.value <> 'NaN' AND v."timestamp" <= pr.as_of
    ORDER BY v."timestamp" DESC LIMIT 1) d ON true
LEFT JOIN LATERAL (
    SELECT avg(v.value) FILTER (WHERE v."timestamp" < d.ts) AS before_avg,
           array_agg(v.value ORDER BY v."timestamp") FILTER (WHERE v."timestamp" > d.ts - interval '7 days') AS week
    FROM evmon.metric_values v
    WHERE v.project = n.project AND v.metric_type = 'DriftedColumnsCount' AND v.kind = 'daily'
      AND v.value_kind = 'share' AND v.value <> 'NaN'
      AND v."timestamp" BETWEEN d.ts - interval '7 days' AND d.ts) dw ON true
LEFT JOIN LATERAL (
    SELECT y.* FROM ({_newest_quality("RocAuc")} UNION ALL {_newest_quality("R2Score")}) y
    ORDER BY y.ts DESC LIMIT 1) qr ON true
LEFT JOIN LATERAL (
    SELECT q."timestamp" AS ts, q.estimate AS value,
           CASE WHEN rec.trusted THEN q.empirical_lower ELSE q.estimate END AS alert_value
    FROM evmon.estimated_quality q
    LEFT JOIN evmon.estimation_record rec
           ON rec.project = q.project AND rec.segment = q.segment AND rec.metric = q.metric
    WHERE q.project = n.project AND q.kind = 'daily' AND q.segment = 'default' AND q.metric = 'roc_auc'
      AND q.estimate IS NOT NULL AND q."timestamp" <= pr.as_of
    ORDER BY q."timestamp" DESC LIMIT 1) qe ON true
LEFT JOIN LATERAL (
    SELECT min(x.value) FILTER (WHERE x.measure = 'demographic_parity_ratio') AS disparate_impact,
           max(x.value) FILTER (WHERE x.measure = 'equalized_odds_difference') AS equalized_odds,
           coalesce(bool_or(x.measure = 'demographic_parity_ratio'
                            AND {_project_threshold("disparate_impact_min")} - x.value > 0), false) AS di_fires,
           coalesce(bool_or(x.measure = 'equalized_odds_difference'
                            AND x.value - {_project_threshold("equalized_odds_max")} > 0), false) AS eo_fires
    FROM (SELECT DISTINCT ON (v.value_kind, v."column") v.value_kind AS measure, v.value
          FROM evmon.metric_values v
          WHERE v.project = n.project AND v.metric_type = 'FairnessValue' AND v.kind = 'daily'
            AND v.label IS NULL AND v.value_kind IN ('demographic_parity_ratio', 'equalized_odds_difference')
            AND v.value <> 'NaN' AND {_window("evmon-disparate-impact", 'v."timestamp"')}
          ORDER BY v.value_kind, v."column", v."timestamp" DESC) x) fa ON true
LEFT JOIN LATERAL (
    SELECT max(x.value) AS outlier_share,
           coalesce(bool_or(x.value - {_project_threshold("column_share_max")} > 0), false) AS column_fires
    FROM (SELECT DISTINCT ON (v."column") v.value
          FROM evmon.metric_values v
          WHERE v.project = n.project AND v.metric_type IN ('OutRangeValueCount', 'OutListValueCount')
            AND v.kind = 'daily' AND v.value_kind = 'share' AND v.value <> 'NaN'
            AND {_window("evmon-outlier-column-share", 'v."timestamp"')}
          ORDER BY v."column", v."timestamp" DESC) x) oc ON true
LEFT JOIN LATERAL (
    SELECT v."timestamp" AS ts, v.value AS share FROM evmon.metric_values v
    WHERE v.project = n.project AND v.metric_type = 'MultivariateOutlierCount' AND v.kind = 'daily'
      AND v.value_kind = 'share' AND v.value <> 'NaN'
      AND {_window("evmon-outlier-multivariate-share", 'v."timestamp"')}
    ORDER BY v."timestamp" DESC LIMIT 1) om ON true
LEFT JOIN LATERAL (
    SELECT x.ndcg FROM evmon.attribution_drift x
    WHERE x.project = n.project AND x.kind = 'daily' AND x.ndcg IS NOT NULL
      AND {_window("evmon-attribution-drift", 'x."timestamp"')}
    ORDER BY x."timestamp" DESC LIMIT 1) ad ON true
LEFT JOIN LATERAL (
    SELECT x."timestamp" FROM evmon.snapshots x
    WHERE x.project = n.project AND x.kind = 'daily' AND {_window("evmon-empty-columns", 'x."timestamp"')}
    ORDER BY x."timestamp" DESC LIMIT 1) nw ON true
LEFT JOIN LATERAL (
    SELECT count(DISTINCT v."column") AS empty_columns FROM evmon.metric_values v
    WHERE v.project = n.project AND v."timestamp" = nw."timestamp" AND v.kind = 'daily'
      AND ((v.metric_type = 'MissingValueCount' AND v.value_kind = 'share' AND v.value = 1)
           OR (v.metric_type = 'DriftNotComputed' AND v.params->>'reason' = 'no_current_values'))) e ON true
LEFT JOIN LATERAL (
    SELECT extract(epoch FROM pr.as_of - coalesce(max(to_timestamp(x.file_mtime_ns / 1e9)), max(p.synced_at)))
             / 3600 AS hours
    FROM evmon.projects p LEFT JOIN evmon.snapshots x ON x.project_id = p.project_id AND x.kind = 'daily'
    WHERE p.name = n.project) st ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS failed FROM evmon.runs x
    WHERE x.project = n.project AND x.status = 'failed' AND {_window("evmon-failed-run", "x.started_at")}) fr ON true
WHERE (pr.owners @> ARRAY['{EVERY}'] OR coalesce(o.owner, '{NO_OWNER}') = ANY(pr.owners))
  AND (pr.tags @> ARRAY['{EVERY}']
       OR EXISTS (SELECT 1 FROM jsonb_each_text(o.tags) t WHERE t.key || '=' || t.value = ANY(pr.tags)))
),
a AS (
SELECT f.*,
       CASE WHEN f.first_day <= f.yesterday THEN (f.yesterday - f.first_day + 1) - f.days_present END AS days_missing,
       f.estimated_ts > f.realized_ts OR f.realized_ts IS NULL AS estimate_newer,
       array_remove(ARRAY[
           CASE WHEN {_window("evmon-dataset-drift", "f.drift_ts")}
                 AND f.drift_share > {_threshold("evmon-dataset-drift")} THEN 'evmon-dataset-drift' END,
           CASE WHEN f.empty_columns > {_threshold("evmon-empty-columns")} THEN 'evmon-empty-columns' END,
           CASE WHEN {_window("evmon-model-quality", "f.realized_ts")}
                 AND f.realized < {_threshold("evmon-model-quality")} THEN 'evmon-model-quality' END,
           CASE WHEN {_window("evmon-estimated-quality", "f.estimated_ts")}
                 AND f.estimated_alert < {_threshold("evmon-estimated-quality")} THEN 'evmon-estimated-quality' END,
           CASE WHEN f.di_fires THEN 'evmon-disparate-impact' END,
           CASE WHEN f.eo_fires THEN 'evmon-equalized-odds' END,
           CASE WHEN f.column_fires THEN 'evmon-outlier-column-share' END,
           CASE WHEN f.multivariate_share - {_project_threshold("multivariate_share_max", "f.project")} > 0
                THEN 'evmon-outlier-multivariate-share' END,
           CASE WHEN {_project_threshold("ndcg_min", "f.project")} - f.attribution_ndcg > 0
                THEN 'evmon-attribution-drift' END,
           CASE WHEN f.hours_since_snapshot > {_threshold("evmon-stale-snapshots")} THEN 'evmon-stale-snapshots' END,
           CASE WHEN f.failed_runs_24h > {_threshold("evmon-failed-run")} THEN 'evmon-failed-run' END
       ], NULL) AS alerts
FROM f CROSS JOIN pr
)
SELECT a.project, a.owner, a.tags, a.last_day, a.last_status, a.first_day, a.days_missing,
       (a.drift_ts AT TIME ZONE 'UTC')::date AS drift_day, a.drift_share,
       a.drift_share - a.drift_before AS drift_trend, a.drift_7d,
       CASE WHEN a.estimate_newer OR a.realized_metric = 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END AS quality_metric,
       CASE WHEN a.estimate_newer THEN a.estimated ELSE a.realized END AS quality,
       CASE WHEN coalesce(a.realized_ts, a.estimated_ts) IS NOT NULL
            THEN coalesce(a.estimated_ts > a.realized_ts, a.realized_ts IS NULL) END AS quality_estimated,
       (greatest(a.realized_ts, a.estimated_ts) AT TIME ZONE 'UTC')::date AS quality_day,
       a.disparate_impact, a.equalized_odds, a.outlier_share, a.multivariate_share,
       a.di_fires OR a.eo_fires AS fairness_flag,
       a.column_fires OR 'evmon-outlier-multivariate-share' = ANY(a.alerts) AS outlier_flag,
       a.alerts,
       row_number() OVER (ORDER BY cardinality(a.alerts) DESC, (a.last_status = 'failed') DESC NULLS LAST,
                          coalesce(a.days_missing, 0) DESC, a.drift_share DESC NULLS LAST, a.project) AS trouble
FROM a
ORDER BY trouble"""


# the filters' choices (the app's and Grafana's variables): every owner, NO_OWNER when a project has
# none; every tag as key=value
OWNER_OPTIONS_SQL = f"""SELECT DISTINCT coalesce(o.owner, '{NO_OWNER}') AS owner
FROM ({_NAMES}) n LEFT JOIN evmon.project_owners o ON o.project = n.project
ORDER BY 1"""
TAG_OPTIONS_SQL = """SELECT DISTINCT t.key || '=' || t.value AS tag
FROM evmon.project_owners o, jsonb_each_text(o.tags) t
ORDER BY 1"""


def query_text(as_of: str, owners: str, tags: str) -> str:
    """The fleet query with its three inputs as SQL expressions (parameters, literals or Grafana's variables)."""
    return _FLEET.format(as_of=as_of, owners=owners, tags=tags)


PSYCOPG_SQL = query_text("%(as_of)s", "%(owners)s", "%(tags)s")


# Grafana's Overview table (grafana/overview.py): the same query at the end of the dashboard's time range,
# filtered by its $owner and $tag variables (their "All" is EVERY), tags and alerts as text
GRAFANA_SQL = f"""SELECT f.project, f.owner,
       (SELECT string_agg(t.key || '=' || t.value, ', ' ORDER BY t.key) FROM jsonb_each_text(f.tags) t) AS tags,
       array_to_string(f.alerts, ', ') AS alerts, f.last_day, f.last_status, f.days_missing,
       f.drift_share, f.drift_trend, f.quality_metric, f.quality,
       CASE WHEN f.quality_estimated THEN 'estimated' WHEN NOT f.quality_estimated THEN 'realized' END AS quality_kind,
       f.disparate_impact, f.outlier_share
FROM ({query_text("$__timeTo()", "ARRAY[$owner]::text[]", "ARRAY[$tag]::text[]")}) f
ORDER BY f.trouble"""
