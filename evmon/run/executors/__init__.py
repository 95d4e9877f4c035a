"""Where project-days are computed: local processes or a Dask cluster."""
