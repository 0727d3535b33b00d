"""Benchmarks run by hand: `python -m bench.NAME [--json PATH]`. Never part of the tests."""
