"""The demo: its data, generated offline and deterministically (data), and the whole stack started
together (stack: the UI, the bridge, the app and the scheduler).

May import: the fronts and every room of the core; only the CLI imports it.
"""
