"""The model's attributions in the bridge's views (issue 26, migration 16).

evmon.explanations: one row per snapshot and column of the model (projects.yaml
`model`), its mean |SHAP| on the day's sample and on the reference's, its share of each total and the
change of its share (FeatureAttribution: `label` the sample, day or reference; value_kind the kind).
evmon.attribution_drift: one row per snapshot, the nDCG of the day's ranking against the reference's and
the explainer (AttributionNdcg: `label` the explainer). evmon.attribution_drift_rollups: the weekly and
monthly rollups of the nDCG (evmon.metric_rollups): its mean, lowest and highest, and the days counted.
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
