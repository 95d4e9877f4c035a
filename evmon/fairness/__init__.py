"""Fairness across a sensitive column: each group's rates and quality, and the gaps between groups.

`measures` holds the formulas (numpy), `daily` a project-day's values and the notes of what it could
not compute. Imports only the config and the ground floor: each group's estimated quality (with
presets.estimation) comes from evmon.estimation through the runner (evmon.run.day), as plain numbers.
evmon.evidently writes the values into the day's snapshot as FairnessValue results.
"""
