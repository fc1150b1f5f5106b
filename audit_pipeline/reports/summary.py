"""What `audit-pipeline demo` prints: tables and rows, lineage coverage, quarantine."""

from __future__ import annotations

from audit_pipeline.lake import Lake
from audit_pipeline.loads.lineage import RESOLUTIONS
from audit_pipeline.reports.markdown import markdown_table
from audit_pipeline.schemas import TABLES


def table_rows(lake: Lake) -> list[list[object]]:
    rows = []
    for name in TABLES:
        version = lake.version(name)
        count = lake.read(name, columns=[TABLES[name].names[0]]).num_rows if version is not None else 0
        rows.append([name, count, "-" if version is None else version])
    return rows


def lineage_coverage(lake: Lake) -> list[list[object]]:
    resolutions = lake.read("output_lineage", columns=["resolution"]).column("resolution")
    counts = {row["values"]: row["counts"] for row in resolutions.value_counts().to_pylist()}
    total = sum(counts.values()) or 1
    return [[kind, counts.get(kind, 0), f"{100 * counts.get(kind, 0) / total:.1f}%"]
            for kind in RESOLUTIONS]


def quarantine_codes(lake: Lake) -> list[list[object]]:
    rows = lake.read("quarantine", columns=["source", "error_code"])
    counts = rows.group_by(["source", "error_code"]).aggregate([("source", "count")])
    return sorted([r["source"], r["error_code"], r["source_count"]] for r in counts.to_pylist())


def ingested_by_source(lake: Lake) -> list[list[object]]:
    counted = ["rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate", "rows_superseded", "rows_skipped"]
    log = lake.read("ingest_log", columns=["source", "source_file", *counted])
    totals = log.group_by("source").aggregate([("source_file", "count_distinct"), *((c, "sum") for c in counted)])
    columns = ["source", "source_file_count_distinct", *(f"{c}_sum" for c in counted)]
    return sorted([row[c] for c in columns] for row in totals.to_pylist())


def quality_overview(lake: Lake) -> tuple[list[list[object]], list[list[object]]]:
    """Per table (expectations, results, failed results), and each failed expectation with
    its rule kind and the days it failed on."""
    results = lake.read("dq_results", columns=["table_name", "partition", "expectation", "critical",
                                               "success"]).to_pylist()
    failed: dict[tuple[str, str, bool], list[str]] = {}
    for r in results:
        if not r["success"]:
            failed.setdefault((r["table_name"], r["expectation"], r["critical"]), []).append(r["partition"])
    tables = []
    for table in sorted({r["table_name"] for r in results}):
        mine = [r for r in results if r["table_name"] == table]
        tables.append([table, len({r["expectation"] for r in mine}), len(mine),
                       sum(not r["success"] for r in mine)])
    failures = [[table, "critical" if critical else "advisory", expectation, ", ".join(sorted(days))]
                for (table, expectation, critical), days in sorted(failed.items())]
    return tables, failures


def spend_differences(lake: Lake) -> tuple[list[list[object]], list[list[object]]]:
    """Reconciliation rows per status, and the rows that differ grouped by day, account and
    model (token types and billed tokens summed)."""
    rows = lake.read("spend_reconciliation", columns=["usage_date", "provider", "api_key_id", "model", "token_type",
                                                      "billed_tokens", "logged_tokens", "status"]).to_pylist()
    statuses: dict[str, int] = {}
    differing: dict[tuple, list[int]] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["status"] not in ("match", "within_tolerance"):
            totals = differing.setdefault((r["usage_date"], r["provider"], r["api_key_id"], r["model"], r["status"]),
                                          [0, 0])
            totals[0] += r["billed_tokens"]
            totals[1] += r["logged_tokens"]
    return (sorted([s, n] for s, n in statuses.items()),
            [[*key, billed, logged] for key, (billed, logged) in sorted(differing.items())])


def render_summary(lake: Lake) -> str:
    tables, failures = quality_overview(lake)
    statuses, differing = spend_differences(lake)
    return "\n\n".join([
        "Tables (Delta, under " + lake.root + "):\n" + markdown_table(["table", "rows", "version"], table_rows(lake)),
        "Ingested by source (ingest_log; read = accepted + quarantined + duplicate + superseded + skipped):\n"
        + markdown_table(["source", "files", "read", "accepted", "quarantined", "duplicate", "superseded", "skipped"],
                         ingested_by_source(lake)),
        "Lineage coverage (output_lineage.resolution):\n"
        + markdown_table(["resolution", "outputs", "share"], lineage_coverage(lake)),
        "Quarantined rows by reason:\n" + markdown_table(["source", "error_code", "rows"], quarantine_codes(lake)),
        "Data quality (Great Expectations suites; every result in dq_results):\n" + markdown_table(
            ["table", "expectations", "results", "failed"], tables),
        "Failed expectations:\n" + (markdown_table(["table", "rule", "expectation", "days"], failures)
                                     if failures else "none"),
        "Spend reconciliation (billed versus logged, rows per status):\n"
        + markdown_table(["status", "rows"], statuses),
        "Where billed and logged differ (token types summed):\n" + (markdown_table(
            ["day", "provider", "account", "model", "status", "billed tokens", "logged tokens"], differing)
            if differing else "nowhere"),
    ])
