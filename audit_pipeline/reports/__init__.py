"""Human-readable renderings: Markdown for the Dagster UI and the terminal."""
