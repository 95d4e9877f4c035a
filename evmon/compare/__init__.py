"""A snapshot's values and day A against day B (pure), for the app."""
