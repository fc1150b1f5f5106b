"""One trivial asset: `dagster asset materialize` of it measures Dagster's own overhead."""

import dagster as dg


@dg.asset
def trivial() -> int:
    return 1


defs = dg.Definitions(assets=[trivial])
