"""The demo: its data, and the whole stack started together."""
