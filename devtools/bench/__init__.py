"""Benchmarks: each prints one JSON line of figures and asserts nothing (the suite's smoke
runs check they still run)."""
