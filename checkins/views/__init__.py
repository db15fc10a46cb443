"""HTML views of the cadence, one module per concept."""
