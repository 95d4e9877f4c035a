"""Why the model decides as it does: SHAP attributions of each day's sample and their drift.

Owns the project's model file read and checked (model), its SHAP values by the explainer chosen for
it, grouped back onto the columns the model takes (shapley), the attribution drift against the
reference (ranking), and each day's figures with the reference's kept per process (daily). shap,
skops, pandas, numpy and scikit-learn only: the Evidently metrics that store them are
evmon.evidently.explain's. May import sources, config, cache and the ground floor.
"""
