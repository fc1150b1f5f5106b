"""Pure parsers: bytes or a stream in, Arrow record batches and rejected rows out.

Nothing here imports Dagster or touches the lake; each module is tested on its own with
fixtures shaped like the real exports (docs/reference/billing-formats.md).
"""
