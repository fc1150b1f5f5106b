"""Dagster definitions, one folder per domain; loaded by `audit_pipeline.definitions`."""
