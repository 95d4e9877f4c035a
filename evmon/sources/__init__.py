"""A project's rows: files (Parquet, CSV; local or on an object store) or SQL, their schemas, validate."""
