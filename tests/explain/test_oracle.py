"""evmon's attributions are shap's own: the same model, sample and background give the same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shap

from evmon.explain.daily import day_explanations, sampled
from evmon.explain.ranking import ndcg
from tests.explain.synthetic import (
    COLUMNS,
    FIRST_DAY,
    frames,
    linear_model,
    other_model,
    project_with_model,
    saved,
    tree_model,
)


def test_tree_model_values_are_shaps_tree_explainer(tmp_path: Path) -> None:
    reference, day = frames()
    model = tree_model(reference)
    columns = ["income", "age", "balance", "tier"]
    saved(tmp_path, model)
    config = project_with_model(
        tmp_path, reference, {FIRST_DAY: day}, {"path": "model.joblib", "columns": columns, "sample_rows": 300}
    )
    project = config.projects[0]
    explained = day_explanations(project, str(tmp_path / "model.joblib"), day, reference)

    sample = day[columns].sample(n=300, random_state=0).sort_index()
    theirs = shap.TreeExplainer(model).shap_values(sample)
    assert explained.explainer == "tree"
    assert explained.sample.index.tolist() == sample.index.tolist()
    np.testing.assert_allclose(explained.attributions.values, theirs, rtol=1e-9, atol=1e-12)
    means = {c.column: c.mean_abs for c in explained.columns}
    assert means == pytest.approx(dict(zip(columns, np.abs(theirs).mean(axis=0), strict=True)), rel=1e-9)
    # the reference's: the same sample size and seed of the reference's rows
    ref_sample = sampled(reference[columns], project.model)  # type: ignore[arg-type]
    ref_theirs = np.abs(shap.TreeExplainer(model).shap_values(ref_sample)).mean(axis=0)
    reference_means = {c.column: c.reference_mean_abs for c in explained.columns}
    assert reference_means == pytest.approx(dict(zip(columns, ref_theirs, strict=True)), rel=1e-9)
    assert explained.ndcg == pytest.approx(ndcg(means, reference_means))
    assert sum(c.share for c in explained.columns) == pytest.approx(1.0)


def test_linear_pipeline_values_are_shaps_linear_explainer_summed_per_column(tmp_path: Path) -> None:
    reference, day = frames()
    model = linear_model(reference)
    columns = ["income", "age", "balance", "channel", "tier"]
    saved(tmp_path, model)
    settings = {"path": "model.joblib", "columns": columns, "background_rows": 50, "seed": 4}
    project = project_with_model(tmp_path, reference, {FIRST_DAY: day}, settings).projects[0]
    explained = day_explanations(project, str(tmp_path / "model.joblib"), day, reference)

    prep, final = model[:-1], model[-1]
    background = reference[columns].sample(n=50, random_state=4)
    theirs = shap.LinearExplainer(final, prep.transform(background)).shap_values(prep.transform(day[columns]))
    # shap explains the pipeline's features; a column's value is the sum of the features it becomes
    names = list(prep.get_feature_names_out())
    per_column = np.column_stack(
        [theirs[:, [i for i, n in enumerate(names) if n.split("__")[1].startswith(c)]].sum(axis=1) for c in columns]
    )
    assert explained.explainer == "linear"
    assert explained.rows == len(day)  # 800 rows, fewer than sample_rows: all of them
    np.testing.assert_allclose(explained.attributions.values, per_column, rtol=1e-9, atol=1e-12)
    # additive still: a row's values sum to its margin less the expected margin
    margin = final.decision_function(prep.transform(day[columns]))
    np.testing.assert_allclose(per_column.sum(axis=1) + explained.attributions.base_value, margin, rtol=1e-7)


def test_other_models_get_the_permutation_explainer_with_a_background(tmp_path: Path) -> None:
    reference, day = frames()
    model = other_model(reference)
    columns = ["income", "age", "balance"]
    saved(tmp_path, model)
    settings = {"path": "model.joblib", "columns": columns, "sample_rows": 10, "background_rows": 20}
    project = project_with_model(tmp_path, reference, {FIRST_DAY: day}, settings).projects[0]
    explained = day_explanations(project, str(tmp_path / "model.joblib"), day, reference)
    assert explained.explainer == "permutation"
    assert explained.rows == 10
    # exact Shapley values add up: each row's values to its probability less the background's mean
    background = reference[columns].sample(n=20, random_state=0)
    expected = model.predict_proba(background)[:, 1].mean()
    proba = model.predict_proba(explained.sample)[:, 1]
    np.testing.assert_allclose(explained.attributions.values.sum(axis=1) + expected, proba, atol=1e-9)


def test_the_permutation_explainer_takes_text_columns(tmp_path: Path) -> None:
    """A model that takes a text column as it is (a one-hot pipeline), explained model-agnostically."""
    reference, day = frames()
    model = linear_model(reference)
    saved(tmp_path, model)
    settings = {"path": "model.joblib", "columns": COLUMNS, "explainer": "permutation"}
    settings |= {"sample_rows": 10, "background_rows": 20}
    project = project_with_model(tmp_path, reference, {FIRST_DAY: day}, settings).projects[0]
    explained = day_explanations(project, str(tmp_path / "model.joblib"), day, reference)
    assert explained.explainer == "permutation" and explained.rows == 10
    background = reference[COLUMNS].sample(n=20, random_state=0)
    expected = model.predict_proba(background)[:, 1].mean()
    proba = model.predict_proba(explained.sample)[:, 1]
    np.testing.assert_allclose(explained.attributions.values.sum(axis=1) + expected, proba, atol=1e-9)
    text_columns = [c for c in COLUMNS if not pd.api.types.is_numeric_dtype(reference[c])]
    assert text_columns, "the model takes a text column"
    assert all(c.mean_abs > 0 for c in explained.columns if c.column in text_columns)
