"""HTML pages of cycles and OKRs: one module per concept, plain function views."""
