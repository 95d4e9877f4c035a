"""The SQL of the bridge's migrations (bridge/schema.py applies them, in order, once each).

Append-only: never edit a migration's SQL once it has shipped; add the next one.
"""

from __future__ import annotations

from evmon.snapshot.contract import PREDICTION_COLUMN_KEY

V1_TABLES = """
CREATE TABLE evmon.projects (
    project_id   uuid PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    synced_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_name ON evmon.projects (name);

CREATE TABLE evmon.snapshots (
    snapshot_id    uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES evmon.projects ON DELETE CASCADE,
    project        text NOT NULL,
    kind           text NOT NULL DEFAULT 'daily',
    name           text,
    "timestamp"    timestamptz NOT NULL,
    day            date,
    rows           bigint,
    labels         boolean,
    config_hash    text,
    tags           text[] NOT NULL DEFAULT '{}',
    metadata       jsonb NOT NULL DEFAULT '{}',
    n_values       integer NOT NULL,
    n_tests        integer NOT NULL,
    file_path      text NOT NULL,
    file_size      bigint NOT NULL,
    file_mtime_ns  bigint NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snapshots_project_time ON evmon.snapshots (project, kind, "timestamp");
CREATE INDEX snapshots_project_id ON evmon.snapshots (project_id);

CREATE TABLE evmon.metric_values (
    snapshot_id   uuid NOT NULL REFERENCES evmon.snapshots ON DELETE CASCADE,
    project       text NOT NULL,
    kind          text NOT NULL,
    "timestamp"   timestamptz NOT NULL,
    metric_id     text NOT NULL,
    metric_type   text NOT NULL,
    display_name  text NOT NULL,
    "column"      text,
    label         text,
    value_kind    text NOT NULL,
    value         double precision,
    params        jsonb NOT NULL,
    CONSTRAINT metric_values_key UNIQUE NULLS NOT DISTINCT (snapshot_id, metric_id, value_kind, label)
);
-- Grafana: one project, one metric type, a time range
CREATE INDEX metric_values_project_metric_time ON evmon.metric_values (project, metric_type, "timestamp");

CREATE TABLE evmon.test_results (
    snapshot_id  uuid NOT NULL REFERENCES evmon.snapshots ON DELETE CASCADE,
    project      text NOT NULL,
    kind         text NOT NULL,
    "timestamp"  timestamptz NOT NULL,
    metric_id    text NOT NULL,
    seq          integer NOT NULL,
    test_id      text NOT NULL,
    name         text NOT NULL,
    description  text NOT NULL,
    status       text NOT NULL,
    PRIMARY KEY (snapshot_id, metric_id, seq)
);
CREATE INDEX test_results_project_time ON evmon.test_results (project, "timestamp");

CREATE TABLE evmon.runs (
    run_id           text PRIMARY KEY,
    project          text NOT NULL,
    day              date NOT NULL,
    kind             text NOT NULL,
    trigger          text NOT NULL,
    status           text NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_s       double precision NOT NULL,
    rows             bigint,
    labels_included  boolean,
    snapshot_id      text,
    config_hash      text,
    evmon_version    text,
    error            text
);
CREATE INDEX runs_project_started ON evmon.runs (project, started_at);

CREATE TABLE evmon.ingest_errors (
    snapshot_id    uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    file_path      text NOT NULL,
    file_size      bigint NOT NULL,
    file_mtime_ns  bigint NOT NULL,
    error          text NOT NULL,
    reported_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evmon.sync_state (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""

V3_VIEWS = """
CREATE VIEW evmon.dataset_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       max(v.value) FILTER (WHERE v.value_kind = 'count') AS drifted_columns,
       max(v.value) FILTER (WHERE v.value_kind = 'share') AS drifted_share,
       max((v.params->>'drift_share')::double precision) AS drift_share_threshold,
       max(v.value) FILTER (WHERE v.value_kind = 'share')
         >= max((v.params->>'drift_share')::double precision) AS dataset_drift
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.metric_type = 'DriftedColumnsCount'
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v.metric_id;

CREATE VIEW evmon.column_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v."column",
       v.params->>'method' AS method, m.stattest, m.score_kind,
       (v.params->>'threshold')::double precision AS threshold,
       v.value AS drift_score,
       CASE m.drift_when
           WHEN '<'  THEN v.value <  (v.params->>'threshold')::double precision
           WHEN '<=' THEN v.value <= (v.params->>'threshold')::double precision
           WHEN '>'  THEN v.value >  (v.params->>'threshold')::double precision
           WHEN '>=' THEN v.value >= (v.params->>'threshold')::double precision
       END AS drift_detected
FROM evmon.metric_values v
JOIN evmon.snapshots s USING (snapshot_id)
LEFT JOIN evmon.drift_methods m ON m.method = v.params->>'method'
WHERE v.metric_type = 'ValueDrift';

-- every data summary value (dataset-level ones have "column" NULL): metric types other than
-- drift and model quality; `metric` adds the value kind and quantile, e.g. MissingValueCount.share
CREATE VIEW evmon.data_quality AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v."column",
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END
         || CASE WHEN v.params ? 'quantile' THEN '.' || (v.params->>'quantile') ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.metric_type NOT IN ('ValueDrift', 'DriftedColumnsCount')
  AND NOT (v.params ? 'classification_name' OR v.params ? 'regression_name');

-- one row per snapshot: the dataset-level numbers of a data summary
CREATE VIEW evmon.dataset_summary AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       max(v.value) FILTER (WHERE v.metric_type = 'RowCount') AS row_count,
       max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND NOT v.params ? 'column_type') AS column_count,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
         AS missing_values,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'share')
         AS missing_values_share,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedRowCount') AS duplicated_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyRowsCount') AS empty_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyColumnsCount') AS empty_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'ConstantColumnsCount') AS constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostConstantColumnsCount') AS almost_constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedColumnsCount') AS duplicated_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostDuplicatedColumnsCount') AS almost_duplicated_columns
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v."column" IS NULL
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", s.day;

-- classification / regression quality, model-wide and per segment
CREATE VIEW evmon.quality_values AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day,
       CASE WHEN v.params ? 'classification_name' THEN 'classification' ELSE 'regression' END AS task,
       coalesce(v.params->>'classification_name', v.params->>'regression_name') AS segment,
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v JOIN evmon.snapshots s USING (snapshot_id)
WHERE v.params ? 'classification_name' OR v.params ? 'regression_name';

CREATE VIEW evmon.model_quality AS
SELECT project, kind, snapshot_id, "timestamp", day, task, metric, metric_type, value_kind, label, value,
       display_name
FROM evmon.quality_values WHERE segment = 'default';

-- segment = "<column>=<value>" (the scheduler's classification_name / regression_name)
CREATE VIEW evmon.segment_quality AS
SELECT project, kind, snapshot_id, "timestamp", day, task, segment,
       split_part(segment, '=', 1) AS segment_column,
       substr(segment, strpos(segment, '=') + 1) AS segment_value,
       metric, metric_type, value_kind, label, value, display_name
FROM evmon.quality_values WHERE segment <> 'default';

-- service health: per project, the last run, the last good one, recent failures, what is bridged
CREATE VIEW evmon.project_health AS
SELECT p.name AS project,
       (SELECT max(started_at) FROM evmon.runs r WHERE r.project = p.name) AS last_run_at,
       (SELECT status FROM evmon.runs r WHERE r.project = p.name ORDER BY started_at DESC LIMIT 1)
         AS last_run_status,
       (SELECT max(day) FROM evmon.runs r WHERE r.project = p.name AND r.status = 'ok') AS last_ok_day,
       (SELECT count(*) FROM evmon.runs r
         WHERE r.project = p.name AND r.status = 'failed' AND r.started_at > now() - interval '7 days')
         AS failed_runs_7d,
       (SELECT max(day) FROM evmon.snapshots s WHERE s.project_id = p.project_id AND s.kind = 'daily')
         AS last_snapshot_day,
       (SELECT count(*) FROM evmon.snapshots s WHERE s.project_id = p.project_id) AS snapshots,
       (SELECT count(*) FROM evmon.ingest_errors e WHERE e.project_id = p.project_id) AS unreadable_files
FROM evmon.projects p;
"""

# Grafana's heaviest panels read metric_values alone: the verdict of a ValueDrift row is stored
# at ingest (bridge/store.py, with evmon.drift's rules, the ones this UPDATE applies to older
# rows), a quantile's value is its label, and one covering index serves the per-project
# time-range scans without touching the table. Snapshots record their prediction column.
V5_FAST_PANELS = f"""
ALTER TABLE evmon.metric_values ADD COLUMN drift_detected boolean;

UPDATE evmon.metric_values v
SET drift_detected = CASE m.drift_when
        WHEN '<'  THEN v.value <  (v.params->>'threshold')::double precision
        WHEN '<=' THEN v.value <= (v.params->>'threshold')::double precision
        WHEN '>'  THEN v.value >  (v.params->>'threshold')::double precision
        WHEN '>=' THEN v.value >= (v.params->>'threshold')::double precision
    END
FROM evmon.drift_methods m
WHERE v.metric_type = 'ValueDrift' AND m.method = v.params->>'method'
  AND v.value <> 'NaN'::double precision AND v.params ? 'threshold';

UPDATE evmon.metric_values SET label = params->>'quantile'
WHERE metric_type = 'QuantileValue' AND label IS NULL AND params ? 'quantile';

DROP INDEX evmon.metric_values_project_metric_time;
CREATE INDEX metric_values_covering ON evmon.metric_values (project, metric_type, "timestamp")
    INCLUDE (kind, "column", label, value_kind, value, drift_detected);

CREATE OR REPLACE VIEW evmon.column_drift AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", s.day, v."column",
       v.params->>'method' AS method, m.stattest, m.score_kind,
       (v.params->>'threshold')::double precision AS threshold,
       v.value AS drift_score,
       v.drift_detected
FROM evmon.metric_values v
JOIN evmon.snapshots s USING (snapshot_id)
LEFT JOIN evmon.drift_methods m ON m.method = v.params->>'method'
WHERE v.metric_type = 'ValueDrift';

-- the drift of the model's output: its column is in each snapshot's metadata (prediction_column)
CREATE VIEW evmon.prediction_drift AS
SELECT c.*
FROM evmon.column_drift c JOIN evmon.snapshots s USING (snapshot_id)
WHERE c."column" = s.metadata->>'{PREDICTION_COLUMN_KEY}';
"""

# Quality panels and dataset-level panels read metric_values alone too: a quality metric's task
# name (its segment, "default" for the whole model) gets its own column, a ColumnCount's column
# type becomes its label (the dataset-wide ColumnCount keeps label NULL), both in the covering
# index. The views that need neither params nor the snapshot derive the day from the timestamp
# (the naive UTC start of the day) instead of joining the snapshots.
V6_SEGMENTS = """
ALTER TABLE evmon.metric_values ADD COLUMN segment text;

UPDATE evmon.metric_values
SET segment = coalesce(params->>'classification_name', params->>'regression_name')
WHERE params ? 'classification_name' OR params ? 'regression_name';

UPDATE evmon.metric_values SET label = params->>'column_type'
WHERE metric_type = 'ColumnCount' AND label IS NULL AND params ? 'column_type';

DROP INDEX evmon.metric_values_covering;
CREATE INDEX metric_values_covering ON evmon.metric_values (project, metric_type, "timestamp")
    INCLUDE (kind, "column", label, value_kind, value, drift_detected, segment);

CREATE OR REPLACE VIEW evmon.data_quality AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day, v."column",
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END
         || CASE WHEN v.metric_type = 'QuantileValue' THEN '.' || v.label ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v
WHERE v.metric_type NOT IN ('ValueDrift', 'DriftedColumnsCount') AND v.segment IS NULL;

CREATE OR REPLACE VIEW evmon.dataset_summary AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       max(v.value) FILTER (WHERE v.metric_type = 'RowCount') AS row_count,
       max(v.value) FILTER (WHERE v.metric_type = 'ColumnCount' AND v.label IS NULL) AS column_count,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'count')
         AS missing_values,
       max(v.value) FILTER (WHERE v.metric_type = 'DatasetMissingValueCount' AND v.value_kind = 'share')
         AS missing_values_share,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedRowCount') AS duplicated_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyRowsCount') AS empty_rows,
       max(v.value) FILTER (WHERE v.metric_type = 'EmptyColumnsCount') AS empty_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'ConstantColumnsCount') AS constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostConstantColumnsCount') AS almost_constant_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'DuplicatedColumnsCount') AS duplicated_columns,
       max(v.value) FILTER (WHERE v.metric_type = 'AlmostDuplicatedColumnsCount') AS almost_duplicated_columns
FROM evmon.metric_values v
WHERE v."column" IS NULL
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp";

CREATE OR REPLACE VIEW evmon.quality_values AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       CASE WHEN v.params ? 'classification_name' THEN 'classification' ELSE 'regression' END AS task,
       v.segment,
       v.metric_type
         || CASE WHEN v.value_kind <> 'value' THEN '.' || v.value_kind ELSE '' END AS metric,
       v.metric_type, v.value_kind, v.label, v.value, v.display_name
FROM evmon.metric_values v
WHERE v.segment IS NOT NULL;
"""

# Snapshot files the Evidently UI cannot load are moved out of the workspace to its quarantine
# folder (evmon/storage/quarantine.py); the bridge mirrors that folder's records here. The reports of
# unreadable files made before this version are cleared, so each such file is looked at once more
# and quarantined if the UI cannot load it (otherwise reported again, as before).
V8_QUARANTINE = """
CREATE TABLE evmon.quarantined_files (
    quarantine_path  text PRIMARY KEY,
    snapshot_id      uuid NOT NULL,
    project_id       uuid NOT NULL,
    project          text,
    original_path    text NOT NULL,
    reason           text NOT NULL,
    found_by         text NOT NULL,
    quarantined_at   timestamptz NOT NULL,
    file_size        bigint NOT NULL
);
CREATE INDEX quarantined_files_time ON evmon.quarantined_files (quarantined_at);

DELETE FROM evmon.ingest_errors;
"""

# Estimated model quality (evmon/estimation/daily.py, issue 17): evmon's EstimatedQuality rows carry the
# estimated metric in `label`, the segment in `segment` and the value kind (estimate, lower, upper,
# realized, gap, inside_band) in value_kind. One row per snapshot, segment and metric here, NaN as
# NULL (an undefined metric, e.g. the ROC AUC of a one-class day); realized, difference and
# inside_band are NULL until the day's labels have arrived (its re-run adds them). The record: per
# project, segment and metric, over every labelled daily snapshot, how far the estimate was from the
# realized value (median |difference|) and how often the band held it.
V10_ESTIMATED_QUALITY = """
CREATE VIEW evmon.estimated_quality AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v.segment, v.label AS metric, v.params->>'method' AS method,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'estimate') AS estimate,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'lower') AS lower,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'upper') AS upper,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'realized') AS realized,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'gap') AS difference,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'inside_band') = 1 AS inside_band
FROM evmon.metric_values v
WHERE v.metric_type = 'EstimatedQuality'
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", v.segment, v.label, v.params->>'method';

CREATE VIEW evmon.estimation_record AS
SELECT e.project, e.segment, e.metric, e.method,
       count(*) AS labelled_days,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(e.difference)) AS median_abs_difference,
       avg(CASE WHEN e.inside_band THEN 1.0 ELSE 0.0 END)::double precision AS inside_band_share,
       min(e.day) AS first_day, max(e.day) AS last_day
FROM evmon.estimated_quality e
WHERE e.kind = 'daily' AND e.difference IS NOT NULL
GROUP BY e.project, e.segment, e.metric, e.method;
"""

# Fairness and outliers (issue 25). evmon.fairness: one row per FairnessValue (the sensitive column, the
# group, NULL for a between-group measure, and the measure: rows, selection_rate, tpr, ...,
# demographic_parity_ratio, equalized_odds_difference, quality_gap), NaN as NULL. evmon.outliers: one row
# per snapshot, column and outlier kind (range: OutRangeValueCount with the reference's bounds;
# new_category: OutListValueCount; multivariate: the IsolationForest's MultivariateOutlierCount, column
# NULL), its count and share. evmon.alert_thresholds: each project's thresholds from projects.yaml, written
# by the bridge on every sync (bridge/thresholds.py), read by Grafana's alert rules.
V12_FAIRNESS_OUTLIERS = """
CREATE VIEW evmon.fairness AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v."column" AS sensitive_column, v.label AS "group", v.value_kind AS measure,
       NULLIF(v.value, 'NaN') AS value
FROM evmon.metric_values v
WHERE v.metric_type = 'FairnessValue';

CREATE VIEW evmon.outliers AS
SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
       v."column",
       CASE v.metric_type WHEN 'OutRangeValueCount' THEN 'range' WHEN 'OutListValueCount' THEN 'new_category'
            ELSE 'multivariate' END AS outlier_kind,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'count') AS count,
       max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.value_kind = 'share') AS share,
       max((v.params->>'left')::double precision) AS lower_bound,
       max((v.params->>'right')::double precision) AS upper_bound
FROM evmon.metric_values v
WHERE v.metric_type IN ('OutRangeValueCount', 'OutListValueCount', 'MultivariateOutlierCount')
GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", v."column", v.metric_type;

CREATE TABLE evmon.alert_thresholds (
    project     text NOT NULL,
    threshold   text NOT NULL,
    value       double precision NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, threshold)
);
"""

# The model's quality on the IsolationForest's outlier rows and on the others (OutlierQuality, labelled days
# only). evmon.snapshot.flatten now gives its rows the rows in `label` (outliers, inliers) and the metric in
# value_kind (accuracy, mae), as FairnessValue's; rows bridged before kept label NULL and value_kind 'value'
# (the rollups could not tell the two apart): they get the same here, and their days are marked for the
# rollups' next refresh. evmon.outlier_quality: one row per snapshot and metric, both values and the cost
# of the outliers (how much worse the model does on them: accuracy lost, MAE added), NaN as NULL.
V14_OUTLIER_QUALITY = """
UPDATE evmon.metric_values SET label = params->>'group', value_kind = params->>'metric'
WHERE metric_type = 'OutlierQuality' AND label IS NULL AND params ? 'group' AND params ? 'metric';

INSERT INTO evmon.rollup_dirty (project, day)
SELECT DISTINCT project, ("timestamp" AT TIME ZONE 'UTC')::date FROM evmon.metric_values
WHERE metric_type = 'OutlierQuality'
ON CONFLICT DO NOTHING;

CREATE VIEW evmon.outlier_quality AS
SELECT q.project, q.kind, q.snapshot_id, q."timestamp", q.day, q.metric, q.outlier_rows, q.other_rows,
       CASE WHEN q.metric = 'mae' THEN q.outlier_rows - q.other_rows ELSE q.other_rows - q.outlier_rows END AS cost
FROM (SELECT v.project, v.kind, v.snapshot_id, v."timestamp", (v."timestamp" AT TIME ZONE 'UTC')::date AS day,
             v.value_kind AS metric,
             max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'outliers') AS outlier_rows,
             max(NULLIF(v.value, 'NaN')) FILTER (WHERE v.label = 'inliers') AS other_rows
      FROM evmon.metric_values v
      WHERE v.metric_type = 'OutlierQuality'
      GROUP BY v.project, v.kind, v.snapshot_id, v."timestamp", v.value_kind) q;
"""

# Explanations (issue 26). evmon.explanations: one row per snapshot and column of the model (projects.yaml
# `model`), its mean |SHAP| on the day's sample and on the reference's, its share of each total and the
# change of its share (FeatureAttribution: `label` the sample, day or reference; value_kind the kind).
# evmon.attribution_drift: one row per snapshot, the nDCG of the day's ranking against the reference's and
# the explainer (AttributionNdcg: `label` the explainer). evmon.attribution_drift_rollups: the weekly and
# monthly rollups of the nDCG (evmon.metric_rollups): its mean, lowest and highest, and the days counted.
V15_EXPLANATIONS = """
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
