"""Benchmarks (`make bench`): speed and peak memory per stage, never part of `make test`."""
