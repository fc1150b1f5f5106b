"""Auditor exports: deterministic Parquet per table and period, a signed manifest chained to
the previous export, write-once delivery, and the offline verifier."""
