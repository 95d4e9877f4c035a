"""Where a batch's project-days are computed, each in its own module behind one interface (base):
this machine's worker processes (local) or a Dask cluster (dask), chosen once by name (registry).

May import: evmon.run.batch and evmon.run.day, and the rooms below evmon.run.
"""
