"""Open the lake and the landing zone a set of settings points at (folders or S3)."""

from __future__ import annotations

from audit_pipeline.lake import Lake
from audit_pipeline.landing import Landing, landing_at
from audit_pipeline.s3 import delta_storage_options
from audit_pipeline.settings import Settings


def lake_for(settings: Settings, root: str | None = None) -> Lake:
    root = root or settings.lake
    options = delta_storage_options(settings.s3) if root.startswith("s3://") else {}
    return Lake(root, options)


def landing_for(settings: Settings, root: str | None = None) -> Landing:
    return landing_at(root or settings.landing, settings.s3)
