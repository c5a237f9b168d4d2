"""Benchmarks: figures printed and written to bench/results.json and docs/benchmarks.md; never asserts."""
