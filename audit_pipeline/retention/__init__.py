"""Retention: the AI Act-style report, the model lifecycle catalog and policy enforcement."""
