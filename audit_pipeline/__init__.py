"""audit-lineage: compliance audit lineage of LLM use."""
