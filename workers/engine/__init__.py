"""The compute engine: pure Python over pandas / numpy / lightgbm / cvxpy. Never imports Django."""
