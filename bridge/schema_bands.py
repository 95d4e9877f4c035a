"""The empirical band in the bridge's views (issue 29, migration 15).

evmon.estimation.conformal's band sits beside NannyML's in every snapshot as EstimatedQuality rows of
value_kind empirical_lower, empirical_upper, level (its nominal coverage) and, on labelled days,
inside_empirical. evmon.estimated_quality gains those as columns (at the end: the view is replaced, not
dropped); evmon.estimation_record gains, per project, segment and metric, both bands' share of labelled
days holding the realized value and median width, and the empirical band's record over the last
RECENT_DAYS labelled days: `trusted` when its share there is at least the nominal level. A labelled day
without an empirical band (too few calibration rows) counts as a day the band missed.
"""

from __future__ import annotations

RECENT_DAYS = 30  # the labelled days an alert's trust in the band is judged on

V15_EMPIRICAL_BAND = f"""
CREATE OR REPLACE VIEW evmon.estimated_quality AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v.segment, v.label AS metric, v.params->>'method' AS method,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'estimate') AS estimate,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'lower') AS lower,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'upper') AS upper,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'realized') AS realized,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'gap') AS difference,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'inside_band') = 1 AS inside_band,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'empirical_lower') AS empirical_lower,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'empirical_upper') AS empirical_upper,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'level') AS level,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'inside_empirical') = 1 AS inside_empirical
FROM evmon.metric_values v
WHERE v.metric_type = 'EstimatedQuality'
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", v.segment, v.label, v.params->>'method';

DROP VIEW evmon.estimation_record;
CREATE VIEW evmon.estimation_record AS
SELECT e.project, e.segment, e.metric, e.method,
       count(*) AS labelled_days,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(e.difference)) AS median_abs_difference,
       avg(CASE WHEN e.inside_band THEN 1.0 ELSE 0.0 END)::double precision AS inside_band_share,
       min(e.day) AS first_day, max(e.day) AS last_day,
       avg(CASE WHEN e.inside_empirical THEN 1.0 ELSE 0.0 END)::double precision AS inside_empirical_share,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.upper - e.lower) AS median_band_width,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.empirical_upper - e.empirical_lower) AS median_empirical_width,
       max(e.level) AS level,
       count(*) FILTER (WHERE e.recent <= {RECENT_DAYS}) AS recent_days,
       avg(CASE WHEN e.inside_empirical THEN 1.0 ELSE 0.0 END) FILTER (WHERE e.recent <= {RECENT_DAYS})
           ::double precision AS recent_empirical_share,
       coalesce(avg(CASE WHEN e.inside_empirical THEN 1.0 ELSE 0.0 END) FILTER (WHERE e.recent <= {RECENT_DAYS})
           >= max(e.level), false) AS trusted
FROM (SELECT q.*, row_number() OVER (PARTITION BY q.project, q.segment, q.metric ORDER BY q.day DESC) AS recent
      FROM evmon.estimated_quality q
      WHERE q.kind = 'daily' AND q.difference IS NOT NULL) e
GROUP BY e.project, e.segment, e.metric, e.method;
"""
