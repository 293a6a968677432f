"""Diagnostics: gradient norm against time lag, Jacobians, path and per-matrix splits, truncation, plots."""
