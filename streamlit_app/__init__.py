"""evmon.app: the Streamlit app's layout and views; every number comes from the core.

May import: the core (every room up to evmon.services); never another front.
"""
