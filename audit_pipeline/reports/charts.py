"""Charts for the HTML reports, drawn with matplotlib as inline SVG.

SVG keeps a report one self-contained file that any browser opens, prints sharply and
stays byte-identical for the same figures (no creation date, fixed element ids), so a
report's hash means something.
"""

from __future__ import annotations

import io
from datetime import date
from functools import cache


@cache
def _pyplot():
    """matplotlib's pyplot, configured, imported on the first chart: it costs 0.6 s of start-up
    that every run, step and command paid whether it drew a chart or not."""
    import matplotlib

    matplotlib.use("Agg")  # no display here, and no GUI toolkit to import
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "audit-lineage", "svg.fonttype": "none", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


STATUS_COLOURS = {"GREEN": "#2e7d32", "AMBER": "#f9a825", "RED": "#c62828"}


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    _pyplot().close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG sits inside HTML


def coverage_chart(days: list[date], records: list[int], coverage: list[float | None], statuses: list[str],
                   reference_kind: str | None) -> str:
    """Records per day as bars coloured by the day's status, coverage % as a line."""
    figure, records_axis = _pyplot().subplots(figsize=(8, 2.8))
    labels = [d.strftime("%m-%d") for d in days]
    records_axis.bar(labels, records, color=[STATUS_COLOURS.get(s, "#888") for s in statuses])
    for label, count, status in zip(labels, records, statuses, strict=True):
        if not count:  # a zero-height bar is invisible: say it
            records_axis.annotate("no logs", (label, 0), xytext=(0, 4), textcoords="offset points", rotation=90,
                                  ha="center", va="bottom", color=STATUS_COLOURS.get(status, "#888"),
                                  fontweight="bold")
    records_axis.set_ylabel("records logged")
    records_axis.tick_params(axis="x", labelrotation=90)
    if reference_kind and any(c is not None for c in coverage):
        coverage_axis = records_axis.twinx()
        coverage_axis.plot(labels, [c if c is not None else float("nan") for c in coverage], color="#1a237e",
                           marker="o", markersize=3, linewidth=1.2)
        coverage_axis.set_ylabel(f"coverage % of {reference_kind}")
        coverage_axis.set_ylim(0, max(110, max((c or 0) for c in coverage) + 5))
    records_axis.set_title("Daily log coverage (bar colour: day status)")
    return _svg(figure)


def traceability_chart(days: list[date], series: dict[str, list[float | None]]) -> str:
    """Per day, the share of outputs tied to a prompt version, a model snapshot, and both."""
    figure, axis = _pyplot().subplots(figsize=(8, 2.6))
    labels = [d.strftime("%m-%d") for d in days]
    for name, values in series.items():
        axis.plot(labels, [v if v is not None else float("nan") for v in values], marker="o", markersize=3,
                  linewidth=1.2, label=name)
    axis.set_ylim(0, 105)
    axis.set_ylabel("% of outputs")
    axis.tick_params(axis="x", labelrotation=90)
    axis.legend(loc="lower left", frameon=False, ncols=3)
    axis.set_title("Traceability per day")
    return _svg(figure)


def spend_chart(days: list[date], billed: dict[str, list[float]], computed: dict[str, list[float]]) -> str:
    """Per provider, billed cost (solid) and cost computed from the logs (dashed), per day."""
    figure, axis = _pyplot().subplots(figsize=(8, 2.8))
    labels = [d.strftime("%m-%d") for d in days]
    for index, provider in enumerate(sorted(billed)):
        colour = f"C{index}"
        axis.plot(labels, billed[provider], color=colour, linewidth=1.4, label=f"{provider} billed")
        axis.plot(labels, computed.get(provider, [0.0] * len(days)), color=colour, linewidth=1.2, linestyle="--",
                  label=f"{provider} logged")
    axis.set_ylabel("USD per day")
    axis.tick_params(axis="x", labelrotation=90)
    axis.legend(loc="upper left", frameon=False, ncols=2, fontsize=7)
    axis.set_title("Billed versus logged spend (logged = logged tokens × price catalog)")
    return _svg(figure)
