"""A snapshot's values and day A against day B, pure, for the app: the values and deltas (values), the
estimated quality a day shows and the estimate's record (estimated), the view's quality rows (rows).

May import: evmon.estimation and the rooms below it.
"""
