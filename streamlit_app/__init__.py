"""evmon.app: the Streamlit app's layout and views; every number comes from the core."""
