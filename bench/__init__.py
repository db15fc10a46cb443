"""Benchmarks (not part of the test suite); ``bench/run`` is the one command."""
