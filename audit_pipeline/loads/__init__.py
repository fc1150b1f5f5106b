"""Loads: read the landing zone with the parsers and write Delta tables through the lake.

Plain Python with no Dagster imports, so each load is callable from tests and the
benchmark; the Dagster assets in `defs/` are thin wrappers that add partitions, metadata
and checks.
"""
