"""Where a batch's project-days are computed, each in its own module behind one interface (base):
this machine's processes (local) or a Dask cluster (dask), chosen once by name (registry). On both,
this process holds each day (held) and a DayProcess computes it within its time limit (process);
a Dask client's TLS is tls.

May import: evmon.run.batch and evmon.run.day, and the rooms below evmon.run.
"""
