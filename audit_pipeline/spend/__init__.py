"""Spend: billed versus logged, per day, account, model and token type."""
