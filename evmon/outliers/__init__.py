"""Outliers against the reference: what the day holds that the reference never did.

Owns the reference's ranges and categories (profile), the IsolationForest fitted on the
reference (forest) and each day's figures (daily). pandas, numpy and scikit-learn only: the
Evidently metrics that store them are evmon.evidently.outliers'. May import config, cache and
the ground floor.
"""
