"""Data quality: GX suites per table, run per UTC day, results in `dq_results`."""
