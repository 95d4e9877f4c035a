"""Estimated model quality before the labels: CBPE, DLE, and each day's estimates."""
