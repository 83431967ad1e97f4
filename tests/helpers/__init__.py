"""Shared helpers for the test suite and benchmarks."""
