"""The commands beside up and down: status, drift, repair, validate, generate (one module each)."""
