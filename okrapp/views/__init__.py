"""HTML views of the tenancy core, one module per concept."""
