"""The code location: everything under `defs/` is loaded; nothing else lives here."""

from __future__ import annotations

import dagster as dg

import audit_pipeline.defs

defs = dg.load_defs(defs_root=audit_pipeline.defs)
