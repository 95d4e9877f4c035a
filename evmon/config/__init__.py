"""projects.yaml as one validated model: the pydantic models, their sections, loading."""
