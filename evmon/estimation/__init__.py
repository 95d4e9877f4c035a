"""Estimated model quality before the labels arrive: what CBPE and DLE share (base), CBPE for
probability scores (cbpe), DLE for regressors (dle), the empirical band learned from the estimator's
own error (conformal), the labelled data an estimator is fitted on (calibration), and a project-day's
estimates with the project's fitted estimator (daily).

May import: evmon.sources, evmon.config, evmon.snapshot and the ground floor.
"""
