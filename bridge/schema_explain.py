"""The model's attributions in the bridge's views (issue 26, migrations 16 and 17).

evmon.explanations: one row per snapshot and column of the model (projects.yaml
`model`), its mean |SHAP| on the day's sample and on the reference's, its share of each total and the
change of its share (FeatureAttribution: `label` the sample, day or reference; value_kind the kind).
evmon.attribution_drift: one row per snapshot, the nDCG of the day's ranking against the reference's and
the explainer (AttributionNdcg: `label` the explainer). evmon.attribution_drift_rollups: the weekly and
monthly rollups of the nDCG (evmon.metric_rollups): its mean, lowest and highest, and the days counted.
Migration 17, below: which columns' attributions moved most on the days the model's realized quality fell.
"""

from __future__ import annotations

V16_EXPLANATIONS = """
CREATE VIEW evmon.explanations AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v."column",
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'day' AND v.value_kind = 'mean_abs') AS mean_abs_shap,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'reference' AND v.value_kind = 'mean_abs')
           AS reference_mean_abs_shap,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'day' AND v.value_kind = 'share') AS share,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'reference' AND v.value_kind = 'share') AS reference_share,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'day' AND v.value_kind = 'share_change') AS share_change
FROM evmon.metric_values v
WHERE v.metric_type = 'FeatureAttribution'
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", v."column";

CREATE VIEW evmon.attribution_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v.label AS explainer, NULLIF(v.value, 'NaN') AS ndcg
FROM evmon.metric_values v
WHERE v.metric_type = 'AttributionNdcg';

CREATE VIEW evmon.attribution_drift_rollups AS
SELECT r.grain, r.period_start, r.project, r.kind, r.label AS explainer, r.days,
       r.sum / NULLIF(r.n, 0) AS mean_ndcg, r.min AS min_ndcg, r.max AS max_ndcg, r.n AS days_with_ndcg
FROM evmon.metric_rollups r
WHERE r.metric_type = 'AttributionNdcg';
"""

# Migration 17: the attributions on the days the model's realized quality fell (issue 26). "Quality fell" is what
# the rule evmon-model-quality checks (grafana/provisioning/alerting/evmon.yaml, evmon.fleet.sql): a daily
# snapshot's headline metric (ROC AUC for classifiers, R² for regressors, model-wide, NaN left out) below 0.6, the
# app's evmon.compare.quality_drops.QUALITY_MIN (tests/bridge/test_explain_quality_views.py checks that the rule,
# the fleet, these views and the app hold the same). Only labelled days count: a snapshot without that value (its
# labels had not arrived, or the metric was undefined) is in none of these views, as a fall or as a day without.
# evmon.attribution_by_quality: one row per labelled snapshot with attributions and model column: its quality, the
# verdict, and the column's rank that day by |share_change| (1: moved most from the reference's share; ties by
# name in byte order, as Python sorts them; a column without a change last). evmon.attribution_on_quality_drops:
# its rows of the days quality fell. evmon.attribution_quality_drop_summary: per project, kind and column with a
# fall day, over every labelled day, the mean |share_change| on the days quality fell and on the other labelled
# days, and the column's rank by the first. The windows partition by project, kind and timestamp too, so a
# query's filter on them reaches the scans.
V17_ATTRIBUTION_QUALITY = """
CREATE VIEW evmon.attribution_by_quality AS
SELECT e.project, e.kind, e.snapshot_id, e."timestamp", e.day, q.quality_metric, q.quality,
       0.6::double precision AS quality_min, q.quality < 0.6 AS quality_fell,
       row_number() OVER (PARTITION BY e.project, e.kind, e."timestamp", e.snapshot_id
                          ORDER BY abs(e.share_change) DESC NULLS LAST, e."column" COLLATE "C") AS rank,
       e."column", e.share, e.reference_share, e.share_change, e.mean_abs_shap
FROM evmon.explanations e
JOIN (SELECT v.project, v.kind, v."timestamp", v.snapshot_id,
             min(CASE v.metric_type WHEN 'RocAuc' THEN 'ROC AUC' ELSE 'R²' END) AS quality_metric,
             max(v.value) AS quality
      FROM evmon.metric_values v
      WHERE v.metric_type IN ('RocAuc', 'R2Score') AND v.segment = 'default' AND v.value <> 'NaN'
      GROUP BY v.project, v.kind, v."timestamp", v.snapshot_id) q
  ON q.project = e.project AND q.kind = e.kind AND q."timestamp" = e."timestamp" AND q.snapshot_id = e.snapshot_id;

CREATE VIEW evmon.attribution_on_quality_drops AS
SELECT a.project, a.kind, a.snapshot_id, a."timestamp", a.day, a.quality_metric, a.quality, a.quality_min, a.rank,
       a."column", a.share, a.reference_share, a.share_change, a.mean_abs_shap
FROM evmon.attribution_by_quality a
WHERE a.quality_fell;

CREATE VIEW evmon.attribution_quality_drop_summary AS
SELECT s.project, s.kind,
       row_number() OVER (PARTITION BY s.project, s.kind
                          ORDER BY s.mean_abs_change_on_drops DESC NULLS LAST, s."column" COLLATE "C") AS rank,
       s."column", s.drop_days, s.other_days, s.mean_abs_change_on_drops, s.mean_change_on_drops,
       s.mean_abs_change_other_days, s.mean_abs_change_on_drops - s.mean_abs_change_other_days AS excess_on_drops,
       s.first_drop_day, s.last_drop_day
FROM (SELECT a.project, a.kind, a."column",
             count(*) FILTER (WHERE a.quality_fell) AS drop_days,
             count(*) FILTER (WHERE NOT a.quality_fell) AS other_days,
             avg(abs(a.share_change)) FILTER (WHERE a.quality_fell) AS mean_abs_change_on_drops,
             avg(a.share_change) FILTER (WHERE a.quality_fell) AS mean_change_on_drops,
             avg(abs(a.share_change)) FILTER (WHERE NOT a.quality_fell) AS mean_abs_change_other_days,
             min(a.day) FILTER (WHERE a.quality_fell) AS first_drop_day,
             max(a.day) FILTER (WHERE a.quality_fell) AS last_drop_day
      FROM evmon.attribution_by_quality a
      GROUP BY a.project, a.kind, a."column"
      HAVING count(*) FILTER (WHERE a.quality_fell) > 0) s;
"""
